"""wsplay's WebSocket framework: BlackSheep's WebSocket API as a small, pure ASGI app.

Nothing here imports Jupyter: a handler written against this package runs on any ASGI
server (uvicorn, hypercorn, granian), and on BlackSheep with only its import changed.
"""

from .application import Application
from .close_codes import check_close_code, describe_close_code, is_sendable_close_code
from .exceptions import (
    BindingError,
    HandshakeRejectedError,
    InvalidMessageError,
    InvalidRouteError,
    InvalidWebSocketStateError,
    WebSocketClosedError,
    WebSocketDisconnectError,
    WebSocketError,
    WebSocketState,
)
from .messages import MessageMode
from .routing import Route, Router, compile_pattern, default_router, ws
from .websocket import MAX_REASON_SIZE, Headers, WebSocket, format_reason

__all__ = [
    "MAX_REASON_SIZE",
    "Application",
    "BindingError",
    "HandshakeRejectedError",
    "Headers",
    "InvalidMessageError",
    "InvalidRouteError",
    "InvalidWebSocketStateError",
    "MessageMode",
    "Route",
    "Router",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketDisconnectError",
    "WebSocketError",
    "WebSocketState",
    "check_close_code",
    "compile_pattern",
    "default_router",
    "describe_close_code",
    "format_reason",
    "is_sendable_close_code",
    "ws",
]
