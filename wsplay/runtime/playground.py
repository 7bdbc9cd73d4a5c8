"""The playground: a real uvicorn server in the background of the kernel, on loopback.

uvicorn runs on a daemon thread with an event loop of its own, so it keeps serving while a
cell blocks (``time.sleep``) and the kernel stays responsive while the server is busy. The
kernel's loop is never patched (no nest_asyncio). Every call into the server's loop has a
timeout, because an awaiting cell cannot always be interrupted.

    pg = wsplay.start()           # a free port on 127.0.0.1
    conn = await pg.connect("/echo")
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import ipaddress
import logging
import socket
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from .._loop import LoopThread
from ..framework import Application, Router
from .client import BlockingConnection, ClientCore, Connection
from .export import ExportedApp, export_app
from .recorder import Recorder, ServerConnection, current_conversation
from .timeline import DEFAULT_MAX_EVENTS, Timeline

logger = logging.getLogger("wsplay")

DEFAULT_TIMEOUT = 5.0
START_TIMEOUT = 10.0
# CPython hands the GIL to a waiting thread after this long (its default is 5 ms). A cell's
# execution hops between the kernel's threads several times, and while the server works flat
# out each hop can wait a whole interval: 1 ms keeps a trivial cell under ~50 ms during a
# flood (benchmarks/bench_panel_flood.py) instead of ~130 ms.
SWITCH_INTERVAL = 0.001
MAX_ERRORS = 100


class PortInUseError(OSError):
    """The port asked for is taken by another program (or another playground)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            errno.EADDRINUSE,
            f"Port {port} on {host} is already in use, so the playground cannot listen there. "
            f"Leave the port out (wsplay.start()) to get a free one, or stop whatever uses "
            f"{port} (another playground: wsplay.start().stop(); another program: "
            f"`lsof -i :{port}` shows it).",
        )
        self.port = port


@dataclass(frozen=True)
class HandlerError:
    """An exception a handler raised, with where it happened and what the client saw."""

    time: float
    connection: int
    path: str
    exception: BaseException
    traceback: str
    accepted: bool

    @property
    def outcome(self) -> str:
        if not self.accepted:
            return "the handshake was refused (HTTP 403)"
        return "the client got close code 1011 (Internal Error)"

    def summary(self) -> str:
        return (
            f"The handler for {self.path} (connection #{self.connection}) raised "
            f"{type(self.exception).__name__}: {self.exception}\n→ {self.outcome}."
        )

    def __str__(self) -> str:
        return (
            f"{self.summary()}\n{self.traceback.rstrip()}\n"
            "Fix the handler and re-run its cell: new connections use the new code."
        )


class Playground:
    """A uvicorn server for one ASGI app, with a timeline, a client and the errors."""

    def __init__(
        self,
        app: Any = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_events: int = DEFAULT_MAX_EVENTS,
        switch_interval: float | None = SWITCH_INTERVAL,
    ) -> None:
        """``switch_interval``: the GIL switch interval while the playground runs (restored
        when the last one stops); None leaves the interpreter's setting alone."""
        self._app = app if app is not None else Application()
        self.switch_interval = switch_interval
        self.host = host
        self._requested_port = port
        self.timeout = timeout
        self.timeline = Timeline(max_events)
        self._errors: deque[HandlerError] = deque(maxlen=MAX_ERRORS)
        self.error_listeners: list[Callable[[HandlerError], None]] = [print_error]
        self._loop: LoopThread | None = None
        self._server: uvicorn.Server | None = None
        self._serving: Any = None
        self._recorder: Recorder | None = None
        self._log_handler: _ErrorLogHandler | None = None
        self._port: int | None = None
        self._clients: weakref.WeakSet[ClientCore] = weakref.WeakSet()
        self._lock = threading.RLock()

    # --- what a cell reads -------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self._app

    @app.setter
    def app(self, app: Any) -> None:
        """Serve another ASGI app from now on; open connections keep the old one."""
        self._app = app
        if self._recorder is not None:
            self._recorder.app = app

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.started and not self._serving.done()

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("The playground is not running: call pg.start() first.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self._port}"

    @property
    def routes(self) -> list[str]:
        """The WebSocket route patterns the app serves (wsplay, BlackSheep or Starlette)."""
        return route_patterns(self._app)

    @property
    def connections(self) -> list[ServerConnection]:
        """The open server-side connections, oldest first."""
        if self._recorder is None:
            return []
        return sorted(self._recorder.connections.values(), key=lambda c: c.id)

    @property
    def errors(self) -> list[HandlerError]:
        """The handler exceptions caught so far, newest last (the last 100 are kept)."""
        return list(self._errors)

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<Playground {state}, {len(self.connections)} open connections>"

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> Playground:
        """Start serving; does nothing if already running. Raises PortInUseError."""
        with self._lock:
            if self.running:
                return self
            self._warn_if_not_loopback()
            sock = _bind(self.host, self._requested_port)
            self._port = sock.getsockname()[1]
            self._loop = LoopThread(f"wsplay-server-{self._port}").start()
            self._recorder = Recorder(
                self._app, self.timeline, self._loop, self._report_error, self.timeout
            )
            self._log_handler = _ErrorLogHandler()
            logging.getLogger().addHandler(self._log_handler)
            config = uvicorn.Config(
                self._recorder,
                log_config=None,
                log_level="warning",
                lifespan="auto",
                ws="auto",
                timeout_graceful_shutdown=1,
            )
            self._server = uvicorn.Server(config)
            self._serving = self._loop.submit(_serve(self._server, sock))
            self._wait_until_started()
            _started.add(self)
            _switch_intervals.share(self.switch_interval)
            return self

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if self._serving.done() or time.monotonic() > deadline:
                failure = self._serving.exception() if self._serving.done() else None
                self._teardown()
                raise RuntimeError(f"The playground's server did not start: {failure}")
            time.sleep(0.002)

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Close open connections with 1001, stop the server, free the port, join its thread."""
        with self._lock:
            if self._loop is None:
                return
            if self.running:
                self._loop.run(
                    self._end_conversations(),
                    timeout,
                    "Closing the open connections",
                )
                self._server.should_exit = True
                try:
                    self._serving.result(timeout)
                except Exception:
                    self._server.force_exit = True
            self._teardown()

    def restart(self) -> Playground:
        """Stop, then start again on the same port (a fresh one if none was asked for)."""
        self.stop()
        return self.start()

    async def _end_conversations(self) -> None:
        """Close every server-side connection with 1001; let our own clients hear it."""
        for connection in self.connections:
            await connection.close_async(1001, "the playground is stopping")
        await asyncio.gather(
            *(client.drain() for client in list(self._clients)), return_exceptions=True
        )

    def _teardown(self) -> None:
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        self._server = None
        self._port = None
        if self in _started:
            _started.discard(self)
            _switch_intervals.release(self.switch_interval)

    def _warn_if_not_loopback(self) -> None:
        if not _is_loopback(self.host):
            warnings.warn(
                f"The playground will listen on {self.host}, not on 127.0.0.1: other machines "
                "that can reach this one can now connect to your handlers. Use the default "
                "host unless you mean to share them.",
                stacklevel=3,
            )

    # --- the kernel client -------------------------------------------------------------
    async def connect(
        self,
        path: str = "/",
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocols: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> Connection:
        """Open a client connection to ``path`` (``await pg.connect("/echo")`` in a cell)."""
        core = self.new_client(path, headers, subprotocols, timeout)
        await self._require_loop().run_async(core.open(), core.timeout + 1, f"Connecting to {path}")
        return Connection(core)

    def connect_sync(
        self,
        path: str = "/",
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocols: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> BlockingConnection:
        """The blocking twin of ``connect``, for plain (non-async) code."""
        core = self.new_client(path, headers, subprotocols, timeout)
        self._require_loop().run(core.open(), core.timeout + 1, f"Connecting to {path}")
        return BlockingConnection(core)

    def new_client(
        self,
        path: str,
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocols: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> ClientCore:
        """A client's core on the server's loop (for wsplay's widgets; cells use connect)."""
        core = ClientCore(
            self.url,
            path,
            headers,
            subprotocols,
            self.timeline,
            self._require_loop(),
            timeout if timeout is not None else self.timeout,
            self._why_refused,
        )
        self._clients.add(core)
        return core

    def _require_loop(self) -> LoopThread:
        if self._loop is None or not self.running:
            raise RuntimeError("The playground is not running: call pg.start() first.")
        return self._loop

    def _why_refused(self, connection: int, path: str) -> str | None:
        """What the server side knows of why a handshake was refused, in words."""
        for error in reversed(self._errors):
            if error.connection == connection:
                return (
                    f"the handler raised {type(error.exception).__name__}: {error.exception} "
                    "(pg.errors[-1] has the traceback)"
                )
        router = getattr(self._app, "router", None)
        if not isinstance(router, Router):
            return None
        if router.match(urlsplit(path).path) is None:
            known = ", ".join(self.routes) or "none yet"
            return f"no route matches {urlsplit(path).path} (routes: {known})"
        return "the handler closed or returned before calling `await websocket.accept()`"

    # --- out of the notebook -----------------------------------------------------------
    def export(self, path: str, framework: str = "blacksheep", **options: Any) -> ExportedApp:
        """Write the served handlers to a runnable app file (see wsplay.runtime.export)."""
        return export_app(self._app, path, framework, **options)

    # --- errors ------------------------------------------------------------------------
    def _report_error(self, connection: ServerConnection, error: BaseException, text: str):
        record = HandlerError(
            time.time(), connection.id, connection.path, error, text, connection.accepted
        )
        self._errors.append(record)
        for listener in list(self.error_listeners):
            try:
                listener(record)
            except Exception:
                logger.debug("An error listener failed", exc_info=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def print_error(error: HandlerError) -> None:
    """Show a handler's error where the notebook shows output (the default listener)."""
    print(f"wsplay: {error}", file=sys.stderr)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:  # uvicorn exits on startup failures; keep our loop alive
        raise RuntimeError(f"uvicorn stopped during start-up (exit code {exit_.code})") from None
    finally:
        sock.close()


def _bind(host: str, port: int | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port or 0) from None
        raise
    sock.set_inheritable(True)
    return sock


class _ErrorLogHandler(logging.Handler):
    """Turns exceptions that frameworks log inside a connection into HandlerErrors.

    wsplay and BlackSheep catch a handler's exception and log it; the recorder knows which
    connection is running, so the error lands in ``pg.errors`` with its connection.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        conversation = current_conversation.get()
        if record.exc_info and record.exc_info[1] is not None and conversation is not None:
            conversation.report(record.exc_info[1])
        elif record.name == "wsplay" or record.name.startswith(("wsplay.", "uvicorn")):
            if conversation is not None and conversation.from_kernel_client:
                return  # the kernel client's own exception says this, at the right place
            print(f"wsplay: {record.getMessage()}", file=sys.stderr)


def route_patterns(app: Any) -> list[str]:
    """The WebSocket route patterns of a wsplay, BlackSheep or Starlette app (else [])."""
    router = getattr(app, "router", None)
    if isinstance(router, Router):
        return [route.pattern.text for route in router]
    blacksheep_routes = getattr(getattr(router, "routes", None), "get", None)
    if blacksheep_routes is not None:
        return [route.pattern.decode() for route in blacksheep_routes(b"GET_WS", [])]
    return [
        route.path
        for route in getattr(app, "routes", []) or []
        if type(route).__name__ == "WebSocketRoute"
    ]


class _SwitchIntervals:
    """Lowers the GIL switch interval while playgrounds run; restores it after the last."""

    def __init__(self) -> None:
        self._users = 0
        self._saved: float | None = None
        self._lock = threading.Lock()

    def share(self, interval: float | None) -> None:
        if interval is None:
            return
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
            self._users += 1
            if interval < sys.getswitchinterval():
                sys.setswitchinterval(interval)

    def release(self, interval: float | None) -> None:
        if interval is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                sys.setswitchinterval(self._saved)
                self._saved = None


_switch_intervals = _SwitchIntervals()
_started: weakref.WeakSet[Playground] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A kernel that shuts down with a playground running exits at once."""
    for playground in list(_started):
        with contextlib.suppress(Exception):
            playground.stop(timeout=1)
