"""wsplay: learn, teach and try out WebSocket servers in Python, live in a notebook.

from wsplay import WebSocket, ws

@ws("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
"""

from .framework import (
    Application,
    HandshakeRejectedError,
    InvalidMessageError,
    InvalidRouteError,
    InvalidWebSocketStateError,
    MessageMode,
    Router,
    WebSocket,
    WebSocketClosedError,
    WebSocketDisconnectError,
    WebSocketError,
    WebSocketState,
    describe_close_code,
    ws,
)
from .runtime import Playground, PortInUseError, start

__version__ = "0.1.0"

__all__ = [
    "Application",
    "HandshakeRejectedError",
    "InvalidMessageError",
    "InvalidRouteError",
    "InvalidWebSocketStateError",
    "MessageMode",
    "Playground",
    "PortInUseError",
    "Router",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketDisconnectError",
    "WebSocketError",
    "WebSocketState",
    "__version__",
    "describe_close_code",
    "start",
    "ws",
]
