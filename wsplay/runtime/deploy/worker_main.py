"""The program each ``serve_workers`` process runs: uvicorn serving one app file.

    python -P worker_main.py APP_FILE ATTRIBUTE HOST PORT READY_FILE

Run as a script (workers.py only reads ``PORT_TAKEN`` from it). Why not ``python -m
uvicorn --app-dir DIR``: that puts the app's folder first on ``sys.path``, so a
``uvicorn.py`` (or ``h11.py``, ``uvloop.py``...) lying next to the app file would be
imported instead of the real one. Here ``-P`` keeps the script's and the working folder
off ``sys.path``; every module uvicorn needs is chosen and imported first; the app's
folder is then added *after* the standard library and site-packages (so the app still
imports its own helper modules), and the app file is loaded by its path, not looked up by name.

The process binds its port itself and exits with ``PORT_TAKEN`` if it cannot, so the
parent can tell "someone else listens there" from "the app is broken". It writes
``READY_FILE`` once uvicorn serves on that socket: something answering on the port is not
proof that *this* worker listens.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn
import uvicorn.config

PORT_TAKEN = 3  # exit code: the port could not be bound (workers.py reads it)


def bind(host: str, port: int) -> socket.socket:
    """The worker's listening socket, or exit with ``PORT_TAKEN`` saying which port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not past a listener
    try:
        sock.bind((host, port))
    except OSError as error:
        print(f"wsplay worker: cannot listen on {host}:{port}: {error.strerror}", file=sys.stderr)
        sys.exit(PORT_TAKEN)
    return sock


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def implementations() -> dict[str, str]:
    """uvicorn's "auto" choices, made now, while only trusted folders are on ``sys.path``.

    uvicorn resolves "auto" lazily (``uvloop`` at run time): resolved later, a module of
    that name next to the app file could be picked.
    """
    ws_protocols = uvicorn.config.WS_PROTOCOLS
    return {
        "loop": "uvloop" if available("uvloop") else "asyncio",
        "http": "httptools" if available("httptools") else "h11",
        "ws": "websockets-sansio" if "websockets-sansio" in ws_protocols else "websockets",
    }


def check_name(app_file: Path) -> None:
    """Exit, saying so, when the app's module name is one Python already has.

    Loaded under that name, the app would stand in for the real module everywhere (an app
    file named ``json.py`` would break every ``import json``).
    """
    name = app_file.stem
    if name in sys.modules or available(name):
        sys.exit(
            f"wsplay worker: {app_file.name} has the name of a module Python already has "
            f"({name}): rename the app file, e.g. {name}_app.py."
        )


def load_app(app_file: Path, attribute: str) -> Any:
    """The app object of ``app_file``, loaded by path under the file's own module name."""
    spec = importlib.util.spec_from_file_location(app_file.stem, app_file)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[app_file.stem] = module
    spec.loader.exec_module(module)
    try:
        return getattr(module, attribute)
    except AttributeError:
        sys.exit(
            f"wsplay worker: {app_file.name} has no {attribute!r}: define {attribute} = "
            f"Application(...) in it, or pass app= the name your app has there."
        )


class Server(uvicorn.Server):
    """uvicorn's server, writing the ready file once it serves on the worker's socket."""

    def __init__(self, config: uvicorn.Config, ready_file: Path) -> None:
        super().__init__(config)
        self.ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            announce(self.ready_file)


def announce(ready_file: Path) -> None:
    ready_file.write_text("listening", encoding="utf-8")


def main(app_file: str, attribute: str, host: str, port: str, ready_file: str) -> None:
    sock = bind(host, int(port))
    choices = implementations()
    uvicorn.config.import_from_string(uvicorn.config.HTTP_PROTOCOLS[choices["http"]])
    uvicorn.config.import_from_string(uvicorn.config.WS_PROTOCOLS[choices["ws"]])
    path = Path(app_file)
    check_name(path)
    sys.path.append(str(path.parent))  # the app's own modules, after everything else
    config = uvicorn.Config(
        load_app(path, attribute), log_level="warning", access_log=False, **choices
    )
    Server(config, Path(ready_file)).run(sockets=[sock])


if __name__ == "__main__":
    main(*sys.argv[1:6])
