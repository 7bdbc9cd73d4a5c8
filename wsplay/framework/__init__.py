"""wsplay's WebSocket framework: BlackSheep's WebSocket API as a small, pure ASGI app.

Nothing here imports Jupyter: a handler written against this package runs on any ASGI
server (uvicorn, hypercorn, granian), and on BlackSheep with only its import changed.
"""

from .application import Application
from .close_codes import CloseCode, describe_close_code
from .exceptions import (
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
from .routing import Router, ws
from .websocket import WebSocket

# What handlers and the notebooks use; the rest is importable from its module
# (framework.routing.compile_pattern, framework.websocket.format_reason, ...).
__all__ = [
    "Application",
    "CloseCode",
    "HandshakeRejectedError",
    "InvalidMessageError",
    "InvalidRouteError",
    "InvalidWebSocketStateError",
    "MessageMode",
    "Router",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketDisconnectError",
    "WebSocketError",
    "WebSocketState",
    "describe_close_code",
    "ws",
]
