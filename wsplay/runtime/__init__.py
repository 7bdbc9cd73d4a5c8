"""The playground runtime: a background uvicorn server, a kernel client and a timeline.

Imports nothing from the widgets or the magics; works in any Python process, and is made
for a Jupyter kernel.
"""

from __future__ import annotations

import threading
from typing import Any

from .clients.faces import BlockingConnection, Connection
from .guests.lifespan import LifespanError
from .playground import HandlerError, LoopBlocked, Playground, PortInUseError
from .recording.connections import ServerConnection
from .timeline.store import Event, Timeline

__all__ = [
    "BlockingConnection",
    "Connection",
    "Event",
    "HandlerError",
    "LifespanError",
    "LoopBlocked",
    "Playground",
    "PortInUseError",
    "ServerConnection",
    "Timeline",
    "current",
    "start",
]

_current: Playground | None = None
_lock = threading.Lock()


def start(
    app: Any = None, host: str = "127.0.0.1", port: int | None = None, **options: Any
) -> Playground:
    """Start the kernel's playground, or return it if it is already running.

    With no ``app`` it serves the routes of ``@ws``; any ASGI app works (wsplay's,
    FastAPI's, Starlette's, BlackSheep's). Asking again with another app swaps it in for new
    connections, after its startup (a failing one raises LifespanError, and the app before
    keeps serving); another host, port or option restarts the server with them. ``options``
    are those of ``Playground`` (``timeout``, ``ping_interval``, ``ping_timeout``,
    ``block_threshold``, ``interrupt_after``, ``allowed_origins``, ``allowed_hosts``, ...).

        pg = wsplay.start()
    """
    global _current
    with _lock:
        playground = _current
        if playground is not None and _fits(playground, host, port, options):
            if app is not None and app is not playground.app:
                playground.app = app
            return playground.start()  # running: returned as it is, unblocked if stuck
        if playground is not None:
            playground.stop()
            app = app if app is not None else playground.app
        _current = Playground(app, host, port, **options).start()
        return _current


def _fits(playground: Playground, host: str, port: int | None, options: dict[str, Any]) -> bool:
    """Whether ``playground`` is what ``start(host=host, port=port, **options)`` asks for."""
    if host != playground.host or port not in (None, playground.port, playground.requested_port):
        return False
    return all(_option(playground, name) == value for name, value in options.items())


def _option(playground: Playground, name: str) -> Any:
    if hasattr(playground.options, name):
        return getattr(playground.options, name)
    return getattr(playground, name, None)


def current() -> Playground | None:
    """The playground ``start()`` made, running or not, or None."""
    return _current
