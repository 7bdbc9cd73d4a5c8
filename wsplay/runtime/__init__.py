"""The playground runtime: a background uvicorn server, a kernel client and a timeline.

Imports nothing from the widgets or the magics; works in any Python process, and is made
for a Jupyter kernel.
"""

from __future__ import annotations

import threading
from typing import Any

from .client import BlockingConnection, Connection
from .playground import HandlerError, Playground, PortInUseError
from .recorder import ServerConnection
from .timeline import Event, Timeline

__all__ = [
    "BlockingConnection",
    "Connection",
    "Event",
    "HandlerError",
    "Playground",
    "PortInUseError",
    "ServerConnection",
    "Timeline",
    "current",
    "start",
]

_current: Playground | None = None
_lock = threading.Lock()


def start(app: Any = None, host: str = "127.0.0.1", port: int | None = None) -> Playground:
    """Start the kernel's playground, or return it if it is already running.

    With no ``app`` it serves the routes of ``@ws``; any ASGI app works (wsplay's,
    BlackSheep's, Starlette's). Asking again with another app swaps it in for new
    connections; another host or port restarts the server there.

        pg = wsplay.start()
    """
    global _current
    with _lock:
        playground = _current
        if playground is not None and playground.running:
            if (host, port) in ((playground.host, playground.port), (playground.host, None)):
                if app is not None and app is not playground.app:
                    playground.app = app
                return playground
            playground.stop()
        if playground is None or (host, port) != (playground.host, playground._requested_port):
            playground = Playground(app, host, port)
        elif app is not None:
            playground.app = app
        _current = playground.start()
        return _current


def current() -> Playground | None:
    """The playground ``start()`` made, running or not, or None."""
    return _current
