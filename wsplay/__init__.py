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
from .runtime.redis_server import RedisNotInstalledError, redis_server
from .runtime.workers import serve_workers

__version__ = "0.1.0"


def panel(playground: Playground | None = None):
    """Show the playground's panel (starting it if needed): ``wsplay.panel()`` in a cell."""
    from .ui import panel as make_panel

    return make_panel(playground)


def HandlerEditor(pattern: str = "/echo", **options):
    """A widget to write a handler's body for ``pattern`` and deploy it."""
    from .ui import HandlerEditor as Editor

    return Editor(pattern, **options)


def load_ipython_extension(ipython) -> None:
    """``%load_ext wsplay``: adds the ``%wsplay`` and ``%%wsplay`` magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Application",
    "HandlerEditor",
    "HandshakeRejectedError",
    "InvalidMessageError",
    "InvalidRouteError",
    "InvalidWebSocketStateError",
    "MessageMode",
    "Playground",
    "PortInUseError",
    "RedisNotInstalledError",
    "Router",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketDisconnectError",
    "WebSocketError",
    "WebSocketState",
    "__version__",
    "describe_close_code",
    "load_ipython_extension",
    "panel",
    "redis_server",
    "serve_workers",
    "start",
    "ws",
]
