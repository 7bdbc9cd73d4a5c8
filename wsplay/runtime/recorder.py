"""An ASGI middleware that records both directions of every WebSocket connection.

It sits between uvicorn and any ASGI app (wsplay's, BlackSheep's, Starlette's), so the
timeline, the list of open connections and "close this one from the notebook" work the same
for all of them. It also knows which connection is running (a context variable), so an
exception a framework logs can be tied to the connection it happened on.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from ..framework.close_codes import check_close_code
from ..framework.websocket import format_reason
from .timeline import ACCEPT, CLOSE, ERROR, HANDSHAKE, REJECT, Event, Timeline

logger = logging.getLogger("wsplay")

CONNECTION_HEADER = b"x-wsplay-connection"  # the kernel client's id, shared by both sides
# The same for a page's client: browsers cannot set headers on a WebSocket, so the id comes
# as a query parameter, taken out before the app sees the query.
CONNECTION_QUERY = b"wsplay-connection"

# The conversation whose task is running: an exception a framework catches and logs is
# reported against it (see the playground's log handler).
current_conversation: contextvars.ContextVar[_Conversation | None] = contextvars.ContextVar(
    "wsplay_current_conversation", default=None
)


class ServerConnection:
    """The server's end of one open connection, as a cell sees it in ``pg.connections``.

    ``close()`` is a plain call (no ``await``) that ends the conversation from the server's
    side, whatever the handler is doing.
    """

    def __init__(self, id: int, scope: dict[str, Any], send: Any, loop: Any, timeout: float):
        self.id = id
        self.scope = scope
        self.path: str = scope.get("path", "")
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.started = time.time()
        self.accepted = False
        self.closed_by: str | None = None
        self._send = send
        self._loop = loop
        self._timeout = timeout

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close this connection from the server's side with ``code`` and ``reason``."""
        check_close_code(code)
        self._loop.run(self.close_async(code, reason), self._timeout, f"Closing #{self.id}")

    async def close_async(self, code: int = 1000, reason: str = "") -> None:
        if self.closed_by is None:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    @property
    def state(self) -> str:
        if self.closed_by:
            return f"closed by {self.closed_by}"
        return "open" if self.accepted else "connecting"

    def __repr__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"<ServerConnection #{self.id} {self.path}{query} {self.state}>"


class Recorder:
    """Wraps an ASGI app; records every WebSocket message and close into ``timeline``.

    ``app`` can be swapped at any time: new connections use the new app.
    """

    def __init__(
        self,
        app: Any,
        timeline: Timeline,
        loop: Any,
        on_error: Callable[[ServerConnection, BaseException, str], None],
        call_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self.timeline = timeline
        self.connections: dict[int, ServerConnection] = {}
        self._loop = loop
        self._on_error = on_error
        self._call_timeout = call_timeout

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        await _Conversation(self, scope, receive, send).run()


class _Conversation:
    """One connection's recording: wraps receive and send, tracks who closed."""

    def __init__(self, recorder: Recorder, scope: dict[str, Any], receive: Any, send: Any):
        client_id = _client_id(scope)
        self.from_kernel_client = client_id is not None  # its own exceptions explain refusals
        if client_id is None:
            client_id, scope = _page_client_id(scope)
        self.recorder = recorder
        self.timeline = recorder.timeline
        self.scope = scope
        self._receive = receive
        self._send = send
        if client_id is None or client_id in recorder.connections:
            client_id = self.timeline.new_connection_id()
        self.id = client_id
        self.connection = ServerConnection(
            self.id, scope, self.send, recorder._loop, recorder._call_timeout
        )

    def _event(self, kind: str, **fields: Any) -> None:
        self.timeline.record(Event(time.time(), self.id, "server", kind, **fields))

    async def run(self) -> None:
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.scope.get("headers", ())
        )
        offered = ", ".join(self.scope.get("subprotocols", ()))
        self._event(HANDSHAKE, path=self.scope.get("path"), headers=headers, preview=offered)
        self.recorder.connections[self.id] = self.connection
        token = current_conversation.set(self)
        try:
            await self.recorder.app(self.scope, self.receive, self.send)
        except Exception as error:
            self.report(error)
            if not self.connection.accepted or self.connection.closed_by is not None:
                raise  # before the handshake the server answers HTTP 500
            # uvicorn would drop the TCP connection (the client sees 1006); a server error
            # is 1011, with the exception as the reason, as wsplay's own apps close.
            await self.send(
                {"type": "websocket.close", "code": 1011, "reason": format_reason(str(error))}
            )
        finally:
            current_conversation.reset(token)
            self.recorder.connections.pop(self.id, None)
            if self.connection.closed_by is None:
                # The app returned, or failed, and the server ended the connection for it.
                self.connection.closed_by = "server"
                self._event(CLOSE, by="server", code=1006, reason="the app ended without closing")

    def report(self, error: BaseException) -> None:
        """An exception in the app: into the timeline, and to the playground's listeners."""
        text = "".join(traceback.format_exception(error))
        self._event(ERROR, preview=f"{type(error).__name__}: {error}", traceback=text)
        self.recorder._on_error(self.connection, error, text)

    async def receive(self) -> dict[str, Any]:
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            data = message.get("text")
            self.timeline.message(
                self.id, "server", "in", data if data is not None else message.get("bytes") or b""
            )
        elif kind == "websocket.disconnect" and self.connection.closed_by is None:
            if message.get("code") == 1005 and "reason" not in message:
                # uvicorn reports a connection lost without a close frame as 1005 (ASGI's
                # "no code received"); RFC 6455 calls it 1006, and so does the playground.
                message = {**message, "code": 1006, "reason": ""}
            code = message.get("code", 1005)
            by = "dropped" if code == 1006 else "client"
            self.connection.closed_by = by
            self._event(CLOSE, by=by, code=code, reason=message.get("reason") or "")
        return message

    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """Record what the app sends, then hand back the server's own send to await.

        A plain function, not a coroutine: one frame less on every message sent.
        """
        kind = message["type"]
        if kind == "websocket.send":
            if self.connection.closed_by is not None:
                # The connection is over (e.g. closed from a cell): tell the app as the ASGI
                # spec says a server should, with an OSError.
                raise ConnectionClosedOnServer(self.id, self.connection.closed_by)
            data = message.get("text")
            self.timeline.message(
                self.id, "server", "out", data if data is not None else message.get("bytes") or b""
            )
        elif kind == "websocket.accept":
            self.connection.accepted = True
            self._event(
                ACCEPT,
                subprotocol=message.get("subprotocol"),
                headers=_decoded(message.get("headers") or ()),
            )
        elif kind == "websocket.close":
            if self.connection.closed_by is not None:
                return _nothing()  # already over: a second close would make the server raise
            self.connection.closed_by = "server"
            code = message.get("code", 1000)
            if self.connection.accepted:
                self._event(CLOSE, by="server", code=code, reason=message.get("reason") or "")
            else:
                self._event(REJECT, code=code, by="server")
        return self._send(message)


async def _nothing() -> None:
    return None


class ConnectionClosedOnServer(OSError):
    """The app sent a message on a connection that is already closed."""

    def __init__(self, connection: int, closed_by: str) -> None:
        super().__init__(f"Connection #{connection} is already closed (by {closed_by}).")


def _client_id(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == CONNECTION_HEADER and value.isdigit():
            return int(value)
    return None


def _page_client_id(scope: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """A browser client's id from ``?wsplay-connection=N``, and the scope without it."""
    query = scope.get("query_string", b"")
    if CONNECTION_QUERY not in query:
        return None, scope
    found, kept = None, []
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == CONNECTION_QUERY and value.isdigit():
            found = int(value)
        else:
            kept.append(pair)
    if found is None:
        return None, scope
    return found, {**scope, "query_string": b"&".join(kept)}


def _decoded(headers: Any) -> tuple[tuple[str, str], ...]:
    return tuple(
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers
    )
