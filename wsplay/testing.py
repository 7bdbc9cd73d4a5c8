"""Test WebSocket handlers in process, with no network: for your own pytest suites.

The client speaks ASGI to the app directly, with the right message types both ways, and
turns what the app does into what a real client would see: a refused handshake raises
HandshakeRejectedError (with the HTTP status), a close from the server raises
WebSocketClosedError (with the code and reason) when you try to receive.

    def test_echo():
        with TestClient(app).websocket_connect("/echo") as websocket:
            websocket.send_text("hi")
            assert websocket.receive_text() == "hi"

    async def test_echo_async():
        async with TestClient(app).websocket_connect("/echo") as websocket:
            await websocket.send_text("hi")
            assert await websocket.receive_text() == "hi"
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from ._loop import Blocking, LoopThread
from ._session import Headers, MessageSession, header_pairs, require_path
from ._watchdog import HandlerInterrupted, LoopWatchdog
from .framework.close_codes import CloseCode, ClosedBy, check_close_code
from .framework.exceptions import (
    HandshakeRejectedError,
    WebSocketClosedError,
    WebSocketError,
)

__all__ = ["HandlerInterrupted", "TestClient", "WebSocketTestSession"]

DEFAULT_TIMEOUT = 5.0


class TestClient:
    """Drives an ASGI app's WebSocket routes in process.

    ``timeout`` bounds every wait, so a handler that never answers fails the test instead
    of hanging it. Blocking sessions run the app on a thread of their own, watched: a
    handler that runs ``timeout`` seconds without an ``await`` is stopped with
    ``HandlerInterrupted`` (its client sees 1011), so it cannot keep burning a core after
    the test has given up on it.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.app = app
        self.timeout = timeout
        self._loop_thread: LoopThread | None = None

    def websocket_connect(
        self,
        path: str,
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocols: Iterable[str] | None = None,
    ) -> _Connect:
        """Open a connection: ``with`` gives a blocking session, ``async with`` an async one."""
        return _Connect(self, _scope(path, headers, subprotocols))

    def open(
        self,
        path: str,
        headers: Headers = None,
        subprotocols: Iterable[str] | None = None,
    ) -> Any:
        """A blocking session that outlives a ``with`` block: for a harness that holds
        several connections across steps. End it with its ``close()``."""
        return _Connect(self, _scope(path, headers, subprotocols)).__enter__()

    def _portal(self) -> LoopThread:
        if self._loop_thread is None or not self._loop_thread.alive:
            self._loop_thread = LoopThread("wsplay-testclient").start()
            self._loop_thread.watchdog = LoopWatchdog(
                self._loop_thread, interrupt_after=self.timeout
            ).start()
        return self._loop_thread

    def close(self) -> None:
        """Stop the thread that blocking sessions run on (done for you at exit of ``with``)."""
        portal, self._loop_thread = self._loop_thread, None
        if portal is None:
            return
        if portal.watchdog is not None:
            portal.watchdog.unblock("the test client is closing, and this handler blocked it")
            portal.watchdog.stop()
        portal.stop()

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _scope(path: str, headers: Headers, subprotocols: Iterable[str] | None) -> dict[str, Any]:
    raw_path, _, query = require_path(path).partition("?")
    header_list = [
        (b"host", b"testserver"),
        (b"connection", b"upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
    ]
    header_list += [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in header_pairs(headers)
    ]
    protocols = list(subprotocols or ())
    if protocols:
        header_list.append((b"sec-websocket-protocol", ", ".join(protocols).encode()))
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "root_path": "",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": header_list,
        "subprotocols": protocols,
        "extensions": {},
        "state": {},
    }


class WebSocketTestSession(MessageSession):
    """The client's end of one in-process connection (the async form).

    ``send_text/bytes/json`` and ``receive``/``receive_text/bytes/json`` as the kernel's
    client has them (the same code: wsplay._session); ``send_message`` and
    ``receive_message`` for raw ASGI messages.
    """

    __test__ = False

    def __init__(self, app: Any, scope: dict[str, Any], timeout: float) -> None:
        self._app = app
        self._scope = scope
        self._timeout = timeout
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.accepted_subprotocol: str | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._closed = False

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the app accepted (as the kernel client's ``subprotocol``)."""
        return self.accepted_subprotocol

    # --- ASGI plumbing -----------------------------------------------------------------
    async def _app_receive(self) -> dict[str, Any]:
        return await self._to_app.get()

    async def _app_send(self, message: dict[str, Any]) -> None:
        if self._closed and message["type"] != "websocket.close":
            raise RuntimeError(f"The app sent {message['type']!r} after the connection closed.")
        await self._from_app.put(message)
        if message["type"] == "websocket.close" and not self._closed:
            # A real client answers the server's close with its own: the handler (this
            # one, or one waiting on this connection) then hears websocket.disconnect.
            code = message.get("code", CloseCode.NORMAL_CLOSURE.value)
            await self._to_app.put(
                {"type": "websocket.disconnect", "code": code, "reason": message.get("reason")}
            )

    async def _next_from_app(
        self, what: str, timeout: float | None = None
    ) -> dict[str, Any] | None:
        """The app's next message; None if the app returned first (not an ASGI message: the
        session's own state, never mistaken for one the app sent)."""
        assert self._task is not None
        wait = self._timeout if timeout is None else timeout
        getter = asyncio.ensure_future(self._from_app.get())
        try:
            done, _ = await asyncio.wait(
                {getter, self._task}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        if self._task in done:
            self._task.result()  # re-raise what escaped the app
            return None
        raise TimeoutError(
            f"{what} waited {wait:g} s and the app sent nothing. Is the handler "
            "waiting for a message you have not sent? (TestClient(app, timeout=...) sets the "
            "limit.)"
        )

    # --- opening and closing -----------------------------------------------------------
    async def _open(self) -> WebSocketTestSession:
        self._task = asyncio.ensure_future(
            self._app(self._scope, self._app_receive, self._app_send)
        )
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next_from_app("Connecting")
        if message is None:
            await self._finish_app()
            raise HandshakeRejectedError(500, "the app returned instead of accepting")
        if message["type"] == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.response_headers = list(message.get("headers") or [])
            return self
        await self._finish_app()
        if message["type"] == "websocket.close":
            raise HandshakeRejectedError(403)
        if message["type"] == "websocket.http.response.start":
            raise HandshakeRejectedError(message.get("status", 403))
        raise HandshakeRejectedError(500, f"the app sent {message['type']!r} instead of accepting")

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        """Close from the client side, as a browser would, and wait for the handler to end."""
        check_close_code(code)
        if not self._closed:
            self._closed = True
            await self._to_app.put({"type": "websocket.disconnect", "code": code, "reason": reason})
        await self._finish_app()

    async def _finish_app(self) -> None:
        assert self._task is not None
        done, _ = await asyncio.wait({self._task}, timeout=self._timeout)
        if not done:
            self._task.cancel()
            raise TimeoutError(
                f"The handler for {self._scope['path']} did not end within {self._timeout:g} s "
                "of the client closing. Does it catch WebSocketDisconnectError and keep going?"
            )
        self._task.result()

    async def __aenter__(self) -> WebSocketTestSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- sending and receiving (the typed methods come from MessageSession) -------------
    async def send(self, data: str | bytes) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        await self.send_message({"type": "websocket.receive", key: data})

    async def send_message(self, message: dict[str, Any]) -> None:
        """Send a raw ASGI message to the app, e.g. ``{"type": "websocket.receive", ...}``."""
        if self._closed:
            raise WebSocketError("This test connection is closed; open a new one to send.")
        await self._to_app.put(message)

    async def receive(self, timeout: float | None = None) -> str | bytes:
        message = await self.receive_message(timeout)
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def receive_message(self, timeout: float | None = None) -> dict[str, Any]:
        """The app's next raw message (``websocket.send``); a close raises WebSocketClosedError."""
        message = await self._next_from_app("receive()", timeout)
        if message is None:
            self._closed = True
            raise WebSocketClosedError(
                CloseCode.ABNORMAL_CLOSURE.value,
                "the app returned without closing",
                ClosedBy.DROPPED,
            )
        if message["type"] == "websocket.send":
            return message
        if message["type"] == "websocket.close":
            self._closed = True
            self.close_code = message.get("code", CloseCode.NORMAL_CLOSURE.value)
            self.close_reason = message.get("reason") or ""
            await self._finish_app()
            raise WebSocketClosedError(self.close_code, self.close_reason)
        raise WebSocketError(f"Unexpected message from the app: {message!r}")


class _Connect:
    """What ``websocket_connect`` returns: usable with ``with`` or ``async with``."""

    def __init__(self, client: TestClient, scope: dict[str, Any]) -> None:
        self._client = client
        self._scope = scope
        self._session: WebSocketTestSession | None = None
        self._blocking: Blocking | None = None

    async def _make_and_open(self) -> WebSocketTestSession:
        self._session = WebSocketTestSession(self._client.app, self._scope, self._client.timeout)
        return await self._session._open()

    def __enter__(self) -> Any:
        portal = self._client._portal()
        session = portal.run(self._make_and_open(), self._client.timeout + 1, "Connecting")
        # The session bounds its own waits; the face's extra second only guards the portal.
        self._blocking = Blocking(session, portal, self._client.timeout)
        return self._blocking

    def __exit__(self, *exc_info: object) -> None:
        assert self._blocking is not None
        self._blocking.close()

    async def __aenter__(self) -> WebSocketTestSession:
        return await self._make_and_open()

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._session is not None
        await self._session.close()
