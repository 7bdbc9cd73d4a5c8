"""The kernel's own WebSocket client: talk to your handlers from a cell.

The real ``websockets`` client runs on the playground's loop thread, never on the kernel's,
so neither the async face (``await conn.receive_text()``) nor the blocking twin
(``conn.receive_text()``) can deadlock the kernel. Every wait has a timeout. The client's
side of the conversation goes into the playground's timeline under the same connection id
the server side uses.

    conn = await pg.connect("/echo")
    await conn.send_text("hello")
    await conn.receive_text()        # 'hello'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ..._loop import LoopThread
from ..._session import Headers, MessageSession, header_pairs, require_path
from ...framework.close_codes import Close, CloseCode, ClosedBy, Ending, check_close_code
from ...framework.exceptions import (
    HandshakeRejectedError,
    InvalidPathError,
    WebSocketClosedError,
    WebSocketError,
)
from ...framework.routing import example_path, is_route_pattern
from ..recording.connections import CONNECTION_HEADER
from ..timeline.kinds import ACCEPT, CLIENT, CLOSE, HANDSHAKE, IN, OUT, PING, PONG, REJECT, SERVER
from ..timeline.store import Timeline
from .wire import TappedClientConnection, Wire

READ_TURN = 0.01  # seconds a reader of a backlog works before the loop gets a turn


def refuse_route_pattern(path: str) -> None:
    """Raise InvalidPathError if ``path`` is a route pattern (``/chat/{user}``), not a path.

    Sent as it is, the handler would get the text ``{user}`` as the user's name: the
    learner meant a path the pattern matches, so one is named.
    """
    if is_route_pattern(path):
        pattern = path.partition("?")[0]
        example, _ = example_path(pattern)
        raise InvalidPathError(
            f"Connect to a path that `{pattern}` matches, such as `{example}`: `{pattern}` "
            "is a route pattern, not a path (sent as it is, the handler would receive the "
            "parameter's own text as its value)."
        )


@dataclass(frozen=True)
class Refusal:
    """The HTTP answer of a refused handshake: what a browser never shows (it sees 1006)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class ClientCore(Ending, MessageSession):
    """The client's state and I/O; every coroutine here runs on the playground's loop."""

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: Headers,
        subprotocols: Iterable[str] | None,
        timeline: Timeline,
        loop: LoopThread,
        timeout: float,
        explain_refusal: Callable[[int, str], tuple[str, str | None]] = (
            lambda connection, path: ("", None)
        ),
        explain_silence: Callable[[int, str], str] = lambda connection, path: "",
    ) -> None:
        self.path = require_path(path)
        refuse_route_pattern(self.path)
        self.url = base_url + quote(path, safe="/?&=%:@!$'()*+,;~")
        self.headers = header_pairs(headers)
        self.subprotocols = list(subprotocols or ())
        self.timeline = timeline
        self.loop = loop
        self.timeout = timeout
        self._explain_refusal = explain_refusal
        self.raises_refusal = False  # a cell's connect: a refusal is said by its exception
        self._explain_silence = explain_silence
        self.id = timeline.new_connection_id()
        self.ticket = ""  # the one-time token that claims ``id`` on the server (connections.py)
        self.subprotocol: str | None = None
        self.response_headers: dict[str, str] = {}
        self.refusal: Refusal | None = None  # the server's answer, when it refused
        # How the connection ended, once it has: the one record (closed_by and the others
        # below are read from it), set only by ended().
        self.ending: Close | None = None
        self._ws: ClientConnection | None = None
        self._unread: deque[str | bytes] = deque()  # drained when the server stopped
        self.wire = Wire()  # every byte this client wrote and read, frame by frame

    def _event(self, kind: str, headers: Any = (), **fields: Any) -> None:
        # As the server's side records: the timeline cuts the headers to their budget and
        # keeps an enum member (who closed, a code) as its value.
        self.timeline.add(time.time(), self.id, CLIENT, kind, fields, headers)

    async def open(self) -> None:
        self._event(
            HANDSHAKE,
            path=self.path,
            headers=tuple(self.headers),
            preview=", ".join(self.subprotocols),
        )
        ticket = [(CONNECTION_HEADER.decode(), self.ticket)] if self.ticket else []
        try:
            self._ws = await connect(
                self.url,
                additional_headers=[*self.headers, *ticket],
                subprotocols=self.subprotocols or None,
                open_timeout=self.timeout,
                max_size=None,
                ping_interval=None,
                compression=None,  # both ends live in this process: zlib would cost memory
                create_connection=functools.partial(
                    TappedClientConnection, wire=self.wire, pacer=self.timeline.pacer
                ),
            )
        except InvalidStatus as error:
            status = error.response.status_code
            self.refusal = Refusal(
                status, tuple(error.response.headers.raw_items()), bytes(error.response.body or b"")
            )
            body = self.refusal.body.decode("utf-8", "replace")
            self._event(REJECT, code=status, by=ClosedBy.SERVER, body=body)
            self.ended(ClosedBy.SERVER, None)
            fix, why = self._explain_refusal(self.id, self.path)
            code, reason = self._closed_before_accept()
            raise HandshakeRejectedError(
                status, why, fix, code=code, reason=reason, body=body
            ) from None
        except InvalidHandshake as error:
            self._event(REJECT, by=ClosedBy.SERVER, preview=str(error))
            raise HandshakeRejectedError(0, f"the handshake failed: {error}") from None
        except TimeoutError:
            self.ended(ClosedBy.CLIENT, None)
            why = self._explain_silence(self.id, self.path).rstrip(".")
            self._event(
                CLOSE,
                by=ClosedBy.CLIENT,
                code=CloseCode.ABNORMAL_CLOSURE.value,
                reason="no answer to the handshake",
            )
            raise TimeoutError(
                f"{why[:1].upper()}{why[1:]}. (Connecting to {self.path}: no answer to the "
                f"handshake within {self.timeout:g} s.)"
            ) from None
        self.subprotocol = self._ws.subprotocol
        self.response_headers = dict(self._ws.response.headers.raw_items())
        self._event(
            ACCEPT,
            subprotocol=self.subprotocol,
            headers=tuple(self.response_headers.items()),
        )

    def _closed_before_accept(self) -> tuple[int | None, str]:
        """The code and reason of the close the app sent instead of accepting: on the wire
        uvicorn answers it with HTTP 403 only, the server's side of the timeline has it."""
        for event in self.timeline.events(connection=self.id, kind=REJECT):
            if event.side == SERVER and event.close_code is not None:
                return event.close_code, event.reason
        return None, ""

    def ended(self, by: ClosedBy, code: int | None, reason: str = "") -> None:
        """Record how the connection ended (the first ending only: a later one changes
        nothing). The kernel's client calls it, and the page's client for its own ends."""
        if self.ending is None:
            self.ending = Close(code, reason, by)

    @property
    def is_open(self) -> bool:
        """The handshake completed and nobody has closed the connection yet."""
        return self._ws is not None and self.closed_by is None

    def _closed_error(self) -> WebSocketClosedError:
        return WebSocketClosedError(
            self.close_code, self.close_reason, self.closed_by or ClosedBy.SERVER
        )

    @contextlib.contextmanager
    def _peer_may_close(self) -> Iterator[None]:
        """A close by the server (or a lost connection) becomes WebSocketClosedError."""
        try:
            yield
        except ConnectionClosed as closed:
            self._closed_by_peer(closed)
            raise self._closed_error() from None

    def _require_open(self) -> ClientConnection:
        if self.closed_by is not None:
            raise self._closed_error()
        if self._ws is None:
            raise WebSocketError("Not connected yet: the handshake has not completed.")
        return self._ws

    async def send(self, data: str | bytes) -> None:
        ws = self._require_open()
        with self._peer_may_close():
            await ws.send(data)
        self.timeline.message(self.id, CLIENT, IN, data)

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message; ``timeout=None`` waits as long as the connection lives."""
        __tracebackhide__ = True
        if self._unread:
            return self._unread.popleft()
        ws = self._require_open()
        try:
            with self._peer_may_close():
                async with asyncio.timeout(timeout):
                    data = await ws.recv()
        except TimeoutError:
            raise TimeoutError(
                f"Nothing arrived on {self.path} within {timeout:g} s. Does the handler send "
                "something back? (Pass timeout=... to wait longer.)"
            ) from None
        self.timeline.message(self.id, CLIENT, OUT, data)
        return data

    async def ping(self, timeout: float | None = None) -> float:
        """Send a ping and wait for its pong: the round trip, in seconds."""
        __tracebackhide__ = True
        ws = self._require_open()
        try:
            with self._peer_may_close():
                waiter = await ws.ping()
                self._event(PING, direction=IN)
                async with asyncio.timeout(timeout):
                    latency = await waiter
        except TimeoutError:
            raise TimeoutError(
                f"No pong came back on {self.path} within {timeout:g} s: the server is busy "
                "(is a handler blocking its loop?) or the connection is stuck."
            ) from None
        self._event(PONG, direction=OUT, preview=f"round trip {latency * 1_000:.1f} ms")
        return latency

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run ``coroutine`` on this client's loop without waiting (a widget's callback)."""
        return self.loop.submit(coroutine)

    async def read_all(self, on_message: Callable[[str | bytes], None]) -> Close:
        """Hand each message to ``on_message`` until the connection ends; how it ended.

        For a reader that lives as long as the connection (the panel's): what ends it is a
        value, not an exception, and nothing else on the loop needs to know.
        """
        turn = time.perf_counter() + READ_TURN
        while True:
            try:
                data = await self.receive(None)
            except WebSocketClosedError as closed:
                return closed.close
            on_message(data)
            if time.perf_counter() >= turn:
                # A backlog of messages is read without a wait: let the loop turn, for the
                # server's other connections and the watchdog's beat (which took the
                # panel's reader for a handler blocking the loop "in a library call").
                await asyncio.sleep(0)
                turn = time.perf_counter() + READ_TURN

    async def drain(self) -> None:
        """Read what is still in flight until the server's close arrives (when it stops).

        The messages are kept for ``receive()``; nothing the server sent is lost.
        """
        if not self.is_open:
            return
        try:
            while True:
                data = await self._ws.recv()
                self.timeline.message(self.id, CLIENT, OUT, data)
                self._unread.append(data)
        except ConnectionClosed as closed:
            self._closed_by_peer(closed)

    def after_stop(self) -> None:
        """Whether a call can still finish once the playground's loop is gone: it can
        when it needs no I/O (messages drained at the stop, or a connection already
        closed, whose calls raise or return at once); else why not."""
        if not self._unread and self.closed_by is None:
            raise RuntimeError(
                "The playground has stopped, so this connection is gone. Start it again "
                "(pg.start()) and connect anew."
            )

    def _closed_by_peer(self, closed: ConnectionClosed) -> None:
        if self.closed_by is not None:
            return
        received = closed.rcvd
        if received is None:
            self.ended(ClosedBy.DROPPED, CloseCode.ABNORMAL_CLOSURE.value)
        else:
            self.ended(ClosedBy.SERVER, received.code, received.reason)
        self._event(CLOSE, by=self.closed_by, code=self.close_code, reason=self.close_reason)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        """Close from the client's side with ``code`` and ``reason``."""
        __tracebackhide__ = True
        check_close_code(code)
        if self._ws is None or self.closed_by is not None:
            return
        self.ended(ClosedBy.CLIENT, code, reason)
        self._event(CLOSE, by=ClosedBy.CLIENT, code=code, reason=reason)
        await self._ws.close(code, reason)

    async def drop(self) -> None:
        """End abruptly, with no close frame (as a crashed browser tab would): 1006."""
        __tracebackhide__ = True
        if self._ws is None or self.closed_by is not None:
            return
        dropped = CloseCode.ABNORMAL_CLOSURE.value
        self.ended(ClosedBy.DROPPED, dropped)
        self._event(CLOSE, by=ClosedBy.DROPPED, code=dropped, reason="dropped by the client")
        self._ws.transport.abort()

    @property
    def state(self) -> str:
        if self.closed_by is None:
            return "open"
        return f"closed by {self.closed_by} ({self.close_code})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {self.path} {self.state}>"
