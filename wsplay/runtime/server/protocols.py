"""uvicorn's protocols, hardened for a server that any local program or web page can reach.

Each class is uvicorn's own, with the fewest overrides that close one gap measured against
uvicorn 0.54 and websockets 17 (reproductions in docs/compatibility.md):

- A handshake websockets refuses while parsing (a header line over 8 KiB, more than 128
  headers) got no answer at all: websockets queues a 431 response, uvicorn never writes it.
  Here it is written, and the connection closed.
- A client that sends pings and never reads the pongs grew the write buffer without bound.
  Here reading pauses while the write buffer is full, so a peer that does not read cannot
  make the server queue more for it.
- A protocol error the server answers (a close code of 999: 1002) lost what the client
  sent. Here the protocol keeps it (``failure``: the client's close frame as sent, and why
  the server answered as it did), and the recorder reads it there, so the timeline says
  what each side sent (``protocol_state.ProtocolView.failure``).
- After a denial response (HTTP 403 with a body), uvicorn logged that the app "returned
  without completing handshake". The playground's recorder, which sees every message the
  app sends, marks the handshake complete (``complete_denial``).
- A TCP connection that never completes its request stayed open for ever. Here it is closed
  once ``handshake_timeout`` seconds have passed (looked at every quarter of that), and the
  oldest unfinished ones are closed first when too many pile up, so idle or slow clients
  cannot use up the learner's file descriptors.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from websockets.frames import Close

from ...framework.close_codes import CloseCode
from ..pacing import PIECE_BYTES, feed_in_pieces
from .protocol_state import ConnectionObserver, ProtocolFailure
from .uvicorn_check import require_supported_uvicorn

WebSocketsSansIOProtocol, H11Protocol, _FastestHttp = require_supported_uvicorn()
_parse = WebSocketsSansIOProtocol.data_received

MAX_UNFINISHED = 256
# How a close's note starts when the client broke the protocol (a replay cannot do that).
CLIENT_BROKE_PROTOCOL = "the client broke the WebSocket protocol"
# websockets' words for a protocol error, said the way a learner can act on.
_PLAIN_WORDS = {
    "invalid status code": (
        "it sent an invalid close code (RFC 6455 allows 1000-1003, 1007-1014 and 3000-4999)"
    ),
}  # connections that have not completed a request, at most

Notice = Callable[[str, str], None]  # (kind, text): the kind keeps the notebook from a flood


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with the gaps above closed.

    Only ``receive`` runs per message, and it replaces uvicorn's rather than wrapping it:
    on this path every Python call costs the server a few per cent
    (benchmarks/bench_playground.py). It hands each message to its observer's ``seen`` (the
    recorder's), so the recorder needs no coroutine of its own around it; the rest runs per
    connection or per control frame.
    """

    notice: Notice = staticmethod(lambda kind, text: None)  # set per playground (guarded)
    # Told of each control frame and handed each message the app reads (see receive).
    observer: ConnectionObserver | None = None
    # Set on a protocol error it answered: what the client sent, and why.
    failure: ProtocolFailure | None = None
    dense_reads = True  # whether the last long read was of small messages (pacing.py)

    def observe(self, observer: ConnectionObserver | None) -> None:
        """Report this connection to ``observer`` from now on (None: to nobody)."""
        self.observer = observer

    def handle_ping(self) -> None:
        super().handle_ping()
        if self.observer is not None:
            self.observer.control("ping", "in")
            self.observer.control("pong", "out")

    def send_keepalive_ping(self) -> None:
        super().send_keepalive_ping()
        if self.observer is not None and self.pending_ping_payload is not None:
            self.observer.control("ping", "out")

    def handle_pong(self, event: Any) -> None:
        awaited = self.pending_ping_payload is not None
        super().handle_pong(event)
        if self.observer is not None and awaited and self.pending_ping_payload is None:
            self.observer.control("pong", "in")

    def refuse_unparsable(self) -> None:
        """Send the answer websockets prepared for a request it could not parse, if any.

        Called once the HTTP protocol has handed it the request (which holds every header).
        """
        error = self.conn.handshake_exc
        if self.handshake_initiated or error is None or self.transport.is_closing():
            return
        answer = b"".join(self.conn.data_to_send())
        if not answer.startswith(b"HTTP/"):
            answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        self.transport.write(answer)
        self.transport.close()
        status = answer.split(b" ", 2)[1].decode("latin-1", "replace")
        cause = error.__cause__ or error
        self.notice(
            "unparsable",
            f"a WebSocket handshake was refused with HTTP {status}: {cause}. A browser that "
            "sends large cookies for localhost can hit this: clear them, or connect to "
            "127.0.0.1 instead of localhost (cookies are kept per host name).",
        )

    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()  # a peer that does not read gets nothing more read

    def resume_writing(self) -> None:
        super().resume_writing()
        if not self.read_paused:  # uvicorn pauses reading too, until the app reads
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        # uvicorn's, in pieces once a recorder observes (see pacing.py): a flood of small
        # messages read in one go was parsed with the GIL held for tens of milliseconds.
        observer = self.observer
        if observer is None or len(data) <= PIECE_BYTES:
            _parse(self, data)  # the base class's, named: super() costs each message more
        else:
            self.dense_reads = feed_in_pieces(
                data, super().data_received, observer.pacer, self.dense_reads
            )

    async def receive(self) -> Any:
        # uvicorn's, except that reading resumes only while the peer reads what it is sent
        # (else each message the app reads would undo the pause of pause_writing), and that
        # the recorder sees each message here, with no coroutine of its own around this one.
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            if self.writable.is_set():
                self.transport.resume_reading()
        observer = self.observer
        return message if observer is None else observer.seen(message)

    def handle_parser_exception(self) -> None:
        # uvicorn's, except that what the client sent and why the server answered as it
        # did are kept for the recorder (failure): websockets sends only its close. Once:
        # the pieces of a read that follow the error come here again (data_received).
        if self.failure is not None:
            return
        close = self.conn.close_sent
        failure = self.conn.parser_exc
        why = str(failure) if failure is not None else (close.reason if close else "")
        why = _PLAIN_WORDS.get(why, why)
        if not why and close is not None and close.code == CloseCode.INVALID_PAYLOAD_DATA:
            why = "a text message is not valid UTF-8"
        self.failure = ProtocolFailure(
            f"{CLIENT_BROKE_PROTOCOL}: {why}", *refused_close_frame(failure)
        )
        self.queue.put_nowait(
            {
                "type": "websocket.disconnect",
                "code": close.code if close else CloseCode.PROTOCOL_ERROR.value,
                "reason": close.reason if close else "",
            }
        )
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()
        if self.observer is not None:
            self.observer.notice_ending()


_CLOSE_PARSE = Close.parse.__func__.__code__  # type: ignore[attr-defined]


def refused_close_frame(error: BaseException | None) -> tuple[int, str] | tuple[()]:
    """The close frame websockets refused (a code of 999, a reason not UTF-8), as sent:
    ``(999, "bye")``, or () when no close frame was refused.

    websockets keeps the error with its traceback, whose frame for ``Close.parse`` still
    holds the frame's payload: read there, once, rather than looked at on every frame.
    """
    trace = error.__traceback__ if error is not None else None
    while trace is not None and trace.tb_frame.f_code is not _CLOSE_PARSE:
        trace = trace.tb_next
    payload = trace.tb_frame.f_locals.get("data") if trace is not None else None
    if not isinstance(payload, bytes | bytearray | memoryview) or len(payload) < 2:
        return ()
    payload = bytes(payload)
    return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8", "backslashreplace")


class _Unfinished:
    """One playground's connections that have not completed a request, oldest first.

    One timer for them all, every quarter of the time-out, closes those past it: a timer per
    connection (armed, then cancelled at the upgrade) cost every handshake a handle that
    stayed on the loop's heap, with its context, until the heap was next purged.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.waiting: OrderedDict[int, tuple[_HandshakeDeadline, float]] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, protocol: _HandshakeDeadline, loop: asyncio.AbstractEventLoop) -> None:
        self.waiting[id(protocol)] = (protocol, loop.time() + self.timeout)
        while len(self.waiting) > MAX_UNFINISHED:
            oldest, _ = next(iter(self.waiting.values()))
            oldest._give_up("too many connections were waiting to complete a request")
        if self._timer is None:
            self._timer = loop.call_later(self.timeout / 4, self._close_late, loop)

    def remove(self, protocol: _HandshakeDeadline) -> None:
        self.waiting.pop(id(protocol), None)

    def _close_late(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        while self.waiting:
            protocol, deadline = next(iter(self.waiting.values()))
            if deadline > now:
                break
            protocol._give_up(f"no complete request within {self.timeout:g} s")
        if self.waiting:
            self._timer = loop.call_later(self.timeout / 4, self._close_late, loop)


class _HandshakeDeadline:
    """Mixed into uvicorn's HTTP protocols: a request must be complete within a deadline."""

    notice: Notice = staticmethod(lambda kind, text: None)
    _unfinished: _Unfinished  # per playground (see guarded)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._unfinished.add(self, self.loop)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if id(self) not in self._unfinished.waiting:
            # the next request on a kept-alive connection has the same deadline
            self._unfinished.add(self, self.loop)  # type: ignore[attr-defined]
        super().data_received(data)  # type: ignore[misc]

    def _finished(self) -> None:
        self._unfinished.remove(self)

    def _give_up(self, why: str) -> None:
        self._finished()
        transport: asyncio.Transport = self.transport  # type: ignore[attr-defined]
        if not transport.is_closing():
            transport.close()
            self.notice("unfinished", f"closed a connection from {self._peer()}: {why}.")

    def _peer(self) -> str:
        client = getattr(self, "client", None)
        return f"{client[0]}:{client[1]}" if client else "an unknown address"

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._finished()  # the WebSocket protocol takes over the connection from here
        transport: asyncio.Transport = self.transport  # type: ignore[attr-defined]
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]
        websocket = transport.get_protocol()
        if isinstance(websocket, GuardedWebSocketProtocol):
            websocket.refuse_unparsable()

    def on_response_complete(self) -> None:
        self._finished()  # an HTTP answer was given: uvicorn's keep-alive timer takes over
        super().on_response_complete()  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._finished()
        super().connection_lost(exc)  # type: ignore[misc]


def guarded(
    notice: Notice, handshake_timeout: float
) -> tuple[type[asyncio.Protocol], type[asyncio.Protocol]]:
    """The (http, ws) protocol classes for one playground, saying what they do to ``notice``."""
    attributes = {"notice": staticmethod(notice)}
    websocket = type("PlaygroundWebSocketProtocol", (GuardedWebSocketProtocol,), attributes)
    http = type(
        "PlaygroundHttpProtocol",
        (_HandshakeDeadline, _FastestHttp),
        {**attributes, "_unfinished": _Unfinished(handshake_timeout)},
    )
    return http, websocket
