"""wsplay: learn, teach and try out WebSocket servers in Python, live in a notebook.

from wsplay import WebSocket, ws

@ws("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
"""

import re
import sys
import warnings

from . import framework
from .framework import *  # noqa: F403 - the handler API, exactly framework.__all__
from .runtime import Playground, PortInUseError, start
from .runtime.deploy.redis_server import RedisNotInstalledError, redis_server
from .runtime.deploy.workers import serve_workers

__version__ = "0.1.0"

# The line that brings the notebook parts (ipywidgets, anywidget, ipykernel 7.1+).
INSTALL_LINE = "%pip install --upgrade wsplay"
KERNEL_FLOOR = (7, 1)  # ipykernel 7.0 drops widget updates sent from threads


def panel(playground: Playground | None = None, messages: dict | None = None):
    """Show the playground's panel (starting it if needed): ``wsplay.panel()`` in a cell.

    ``messages`` (name -> str, bytes or a JSON value) are offered as saved messages.
    """
    return _ui().panel(playground, messages)


def browser_client(path: str = "/echo", **options):
    """A client whose WebSocket the page itself opens (``new WebSocket`` in the browser).

    Directly to 127.0.0.1 when the page can reach it, else through jupyter-server-proxy
    (``<base>/proxy/<port>/``, as on Binder); its traffic is on the playground's timeline.
    """
    return _ui().BrowserClient(path, **options)


# The widget classes, loaded on first use: importing wsplay starts no Jupyter machinery.
_WIDGET_CLASSES = {"HandlerEditor", "Panel", "BrowserClient"}


def __getattr__(name: str):
    if name in _WIDGET_CLASSES:
        return getattr(_ui(), name)
    raise AttributeError(f"module 'wsplay' has no attribute {name!r}")


def _ui():
    """``wsplay.ui``, or an error that names what is missing and the line that brings it.

    The widgets are wsplay's dependencies, but an environment can still lack them (installed
    with --no-deps, or a kernel from another environment than the one pip installed into).
    """
    try:
        from . import ui
    except ModuleNotFoundError as error:
        if (error.name or "wsplay").partition(".")[0] == "wsplay":
            raise
        raise ModuleNotFoundError(
            f"wsplay's widgets need the {error.name} package, which this kernel's Python "
            f"({sys.executable}) does not have. Run  {INSTALL_LINE}  in a cell (or pip "
            "install --upgrade wsplay in a terminal, with that Python), then restart the kernel.",
            name=error.name,
        ) from None
    _warn_if_old_kernel()
    return ui


def _warn_if_old_kernel() -> None:
    """The running kernel is the one loaded at start-up, whatever pip installed since."""
    kernel = sys.modules.get("ipykernel")
    version = getattr(kernel, "__version__", "")
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers and numbers < KERNEL_FLOOR:
        warnings.warn(
            f"This kernel runs ipykernel {version}: the panel's live updates need 7.1 or newer "
            "(7.0 drops widget updates sent from threads). Run  %pip install --upgrade "
            "'ipykernel>=7.1'  and restart the kernel.",
            stacklevel=3,
        )


def load_ipython_extension(ipython) -> None:
    """``%load_ext wsplay``: adds the ``%wsplay`` and ``%%wsplay`` magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


__all__ = [  # the framework's names, then the playground's; HandlerEditor is loaded on use
    *framework.__all__,
    "HandlerEditor",  # noqa: F405 - loaded on first use (__getattr__)
    "Playground",
    "PortInUseError",
    "RedisNotInstalledError",
    "__version__",
    "browser_client",
    "load_ipython_extension",
    "panel",
    "redis_server",
    "serve_workers",
    "start",
]
