"""The ASGI application: finds the route, runs the handler, and ends every connection cleanly.

What a client sees, as with BlackSheep on uvicorn: an exception before ``accept()`` refuses
the handshake (HTTP 403); an exception after it closes with 1011 and ``str(exc)`` as the
reason; an unknown path is refused (403). A handler under BlackSheep's ``@auth``, which
wsplay does not enforce, is refused (403, with a body that says why). Unlike BlackSheep, a
handler that returns after ``accept()`` closes with 1000, and a client that disconnects is
not logged as an error.

    app = Application()          # serves the routes of @ws
    uvicorn.run(app)
"""

from __future__ import annotations

import logging
from typing import Any

from .binding import auth_refusal
from .close_codes import CloseCode
from .errors import Host, host_of
from .exceptions import WebSocketDisconnectError
from .routing import Route, Router, default_router
from .shown import shown_text
from .websocket import DISCONNECTED, WebSocket, format_reason

logger = logging.getLogger("wsplay")

Scope = dict[str, Any]


class Application:
    """An ASGI app that serves the WebSocket routes of a router (``@ws``'s, by default)."""

    def __init__(self, *, router: Router | None = None) -> None:
        self.router = router if router is not None else default_router

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._handle_websocket(scope, receive, send)
        elif kind == "http":
            await self._handle_http(scope, send)
        elif kind == "lifespan":
            await answer_lifespan(receive, send)
        else:
            raise TypeError(f"Unsupported ASGI scope type: {kind!r}")

    def _route_path(self, scope: Scope) -> str:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        return path

    async def _handle_websocket(self, scope: Scope, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        host = host_of(scope)
        found = self.router.match(self._route_path(scope))
        if found is None:
            known = ", ".join(route.pattern.text for route in self.router) or "none yet"
            why = (
                f"No WebSocket route matches {shown_text(websocket.path)}, so the handshake "
                f"is refused (HTTP 403). Known routes: {known}."
            )
            _notice(host, why)
            await refuse_handshake(scope, send, 403, why)
            return
        route, websocket.route_values = found
        refusal = auth_refusal(
            route.handler, route.pattern.text, "so wsplay refuses every connection (HTTP 403)"
        )
        if refusal is not None:
            _notice(host, refusal)
            await refuse_handshake(scope, send, 403, refusal)
            return
        try:
            await route.binder.call(websocket)
        except WebSocketDisconnectError as disconnect:
            if websocket.client_state is DISCONNECTED:
                if logger.isEnabledFor(logging.DEBUG):  # naming it costs, on every connection
                    logger.debug("%s: the client left (%s)", _named(websocket), disconnect.code)
                return
            # Another connection's client left (e.g. during a broadcast) and the handler did
            # not catch it: for this connection that is an error like any other.
            await self._handler_failed(route, websocket, disconnect, host)
        except Exception as error:
            await self._handler_failed(route, websocket, error, host)
        else:
            if websocket.client_state is DISCONNECTED:
                return  # the usual end: the conversation is already closed
            if not websocket.accepted:
                _notice(
                    host,
                    f"The handler for {shown_text(websocket.path)} returned without calling "
                    "`await websocket.accept()`, so the handshake is refused (HTTP 403).",
                )
            await _close_quietly(websocket, CloseCode.NORMAL_CLOSURE.value, None)

    async def _handler_failed(
        self, route: Route, websocket: WebSocket, error: Exception, host: Host | None
    ) -> None:
        """Report the handler's exception (to the host, else the log); close 1011 after
        accept, refuse (403) before it."""
        if host is not None:
            host.on_error(error)
        else:
            logger.error(
                "Exception in WebSocket handler %s for %s",
                getattr(route.handler, "__qualname__", route.handler),
                _named(websocket),
                exc_info=error,
            )
        if websocket.accepted:
            reason = format_reason(str(error))
            await _close_quietly(websocket, CloseCode.INTERNAL_ERROR.value, reason)
        else:
            await _close_quietly(websocket, CloseCode.NORMAL_CLOSURE.value, None)

    async def _handle_http(self, scope: Scope, send: Any) -> None:
        if self.router.match(self._route_path(scope)) is not None:
            status, text = (
                426,
                "This path is a WebSocket endpoint: connect with a WebSocket client.",
            )
        else:
            status, text = 404, "Not found: this application serves WebSocket routes only."
        await _respond_with_text(send, "http.response", status, text)


def _named(websocket: WebSocket) -> str:
    """The connection as a log line may name it: its path is the client's text."""
    return shown_text(repr(websocket))


def _notice(host: Host | None, text: str) -> None:
    if host is not None:
        host.on_notice(text)
    else:
        logger.warning("%s", text)


async def refuse_handshake(scope: Scope, send: Any, status: int, text: str) -> None:
    """Answer the handshake with HTTP ``status`` and ``text`` as the body, where the server
    can send a denial response (ASGI's ``websocket.http.response``); else a close before
    accept, which servers turn into a bare 403."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        code = CloseCode.NORMAL_CLOSURE.value
        await send({"type": "websocket.close", "code": code, "reason": None})
        return
    await _respond_with_text(send, "websocket.http.response", status, text)


async def _respond_with_text(send: Any, kind: str, status: int, text: str) -> None:
    """A plain-text HTTP response, as ``kind``'s start and body messages."""
    body = text.encode()
    await send(
        {
            "type": f"{kind}.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": f"{kind}.body", "body": body})


async def _close_quietly(websocket: WebSocket, code: int, reason: str | None) -> None:
    """Close unless already closed; a peer that vanished meanwhile is no error of ours."""
    if websocket.client_state is DISCONNECTED:
        return
    try:
        await websocket.close(code, reason)
    except (OSError, RuntimeError) as error:
        logger.debug("%s: could not send the close frame (%s)", _named(websocket), error)


async def answer_lifespan(receive: Any, send: Any) -> None:
    """Say yes to a lifespan's startup and shutdown, for an app with nothing to start."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
