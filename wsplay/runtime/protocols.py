"""uvicorn's protocols, hardened for a server that any local program or web page can reach.

Each class is uvicorn's own, with the fewest overrides that close one gap measured against
uvicorn 0.54 and websockets 17 (reproductions in docs/compatibility.md):

- A handshake websockets refuses while parsing (a header line over 8 KiB, more than 128
  headers) got no answer at all: websockets queues a 431 response, uvicorn never writes it.
  Here it is written, and the connection closed.
- A client that sends pings and never reads the pongs grew the write buffer without bound.
  Here reading pauses while the write buffer is full, so a peer that does not read cannot
  make the server queue more for it.
- A protocol error the server answers (a close code of 999: 1002) reached the app as a
  disconnect that looked like the client's own close. Here it is marked as the server's,
  with the reason, so the timeline says who closed and why.
- After a denial response (HTTP 403 with a body), uvicorn logged that the app "returned
  without completing handshake". Here the handshake counts as complete.
- A TCP connection that never completes its request stayed open for ever. Here it is closed
  after ``handshake_timeout`` seconds, and the oldest unfinished ones are closed first when
  too many pile up, so idle or slow clients cannot use up the learner's file descriptors.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _FastestHttp
except ImportError:  # httptools is optional: uvicorn falls back to h11 in the same way
    _FastestHttp = H11Protocol

MAX_UNFINISHED = 256
# websockets' words for a protocol error, said the way a learner can act on.
_PLAIN_WORDS = {
    "invalid status code": (
        "it sent an invalid close code (RFC 6455 allows 1000-1003, 1007-1014 and 3000-4999)"
    ),
}  # connections that have not completed a request, at most

BACKLOG = 128  # connections accepted at most per turn of the loop (and the listen queue)
Notice = Callable[[str, str], None]  # (kind, text): the kind keeps the notebook from a flood


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with the gaps above closed."""

    notice: Notice = staticmethod(lambda kind, text: None)  # set per playground (guarded)
    # Set by the recorder: told of each control frame, (kind, direction), for the timeline.
    wsplay_control: Callable[[str, str], None] | None = None

    def handle_ping(self) -> None:
        super().handle_ping()
        if self.wsplay_control is not None:
            self.wsplay_control("ping", "in")
            self.wsplay_control("pong", "out")

    def send_keepalive_ping(self) -> None:
        super().send_keepalive_ping()
        if self.wsplay_control is not None and self.pending_ping_payload is not None:
            self.wsplay_control("ping", "out")

    def handle_pong(self, event: Any) -> None:
        awaited = self.pending_ping_payload is not None
        super().handle_pong(event)
        if self.wsplay_control is not None and awaited and self.pending_ping_payload is None:
            self.wsplay_control("pong", "in")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self._refuse_unparsable(self.conn.handshake_exc)

    def _refuse_unparsable(self, error: Exception) -> None:
        """Send the answer websockets prepared for a request it could not parse."""
        if self.transport.is_closing():
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

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # uvicorn forgets that a denial response ends the handshake, and then logs
            # "ASGI callable returned without completing handshake" for a correct app.
            self.handshake_complete = True

    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()  # a peer that does not read gets nothing more read

    def resume_writing(self) -> None:
        super().resume_writing()
        if not self.read_paused:  # uvicorn pauses reading too, until the app reads
            self.transport.resume_reading()

    async def receive(self) -> Any:
        # uvicorn's, except that reading resumes only while the peer reads what it is sent:
        # else each message the app reads would undo the pause of pause_writing.
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            if self.writable.is_set():
                self.transport.resume_reading()
        return message

    def handle_parser_exception(self) -> None:
        close = self.conn.close_sent
        failure = self.conn.parser_exc
        why = str(failure) if failure is not None else (close.reason if close else "")
        why = _PLAIN_WORDS.get(why, why)
        if not why and close is not None and close.code == 1007:
            why = "a text message is not valid UTF-8"
        self.queue.put_nowait(
            {
                "type": "websocket.disconnect",
                "code": close.code if close else 1002,
                "reason": close.reason if close else "",
                "wsplay.by": "server",
                "wsplay.why": f"the client broke the WebSocket protocol: {why}",
            }
        )
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()


class _HandshakeDeadline:
    """Mixed into uvicorn's HTTP protocols: a request must be complete within a deadline."""

    handshake_timeout = 10.0
    notice: Notice = staticmethod(lambda kind, text: None)
    _unfinished: OrderedDict[int, Any]  # per playground: id -> protocol, oldest first

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:
            self._arm()  # the next request on a kept-alive connection has the same deadline
        super().data_received(data)  # type: ignore[misc]

    def _arm(self) -> None:
        loop: asyncio.AbstractEventLoop = self.loop  # type: ignore[attr-defined]
        self._deadline = loop.call_later(self.handshake_timeout, self._too_slow)
        self._unfinished[id(self)] = self
        while len(self._unfinished) > MAX_UNFINISHED:
            _, oldest = self._unfinished.popitem(last=False)
            oldest._give_up("too many connections were waiting to complete a request")

    def _finished(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._unfinished.pop(id(self), None)

    def _too_slow(self) -> None:
        self._give_up(f"no complete request within {self.handshake_timeout:g} s")

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
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

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
        {**attributes, "handshake_timeout": handshake_timeout, "_unfinished": OrderedDict()},
    )
    return http, websocket
