"""One running uvicorn server: its socket, loop thread, watchdog and ASGI stack, taken
together and released together.

Why one object: every resource ``start()`` takes must be given back by ``stop()``, in
order, even when a step fails (a client gone during the 1001 round, a handler stuck in a
C call). An exit stack does that; ``ServerThread`` is the only thing that holds it.

    with ServerThread(make_app, "127.0.0.1", None, ServerOptions()) as server:
        server.port
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from ..._loop import LoopThread
from ..._watchdog import LoopWatchdog, Stall

START_TIMEOUT = 10.0
STOP_STEP_TIMEOUT = 3.0  # each step of a stop: unblock, shut uvicorn down, join the thread
BACKLOG = 128  # connections accepted at most per turn of the loop (and the listen queue)


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
class ServerOptions:
    """What a playground's server is started with (``wsplay.start(**options)``)."""

    ping_interval: float | None = 20.0  # keepalive: seconds between the server's pings
    ping_timeout: float | None = 20.0  # and how long a pong may take before 1011
    block_threshold: float | None = 0.25  # a loop blocked this long is named (None: no watchdog)
    interrupt_after: float | None = 5.0  # a handler stuck this long is stopped (None: never)
    allowed_origins: tuple[str, ...] | list[str] | str = ()  # web pages let in besides loopback
    allowed_hosts: tuple[str, ...] | list[str] | str = ()  # Host names let in besides loopback
    handshake_timeout: float = 10.0  # a connection must complete its request within this


@dataclass(frozen=True)
class ServerHooks:
    """What the server tells its owner (the playground), called from the server's threads."""

    on_stall: Callable[[Stall], None] = lambda stall: None  # the loop was held (watchdog)
    describe_task: Callable[[Any], str] = repr  # which handler a task runs, in a stall
    notice: Callable[[str, str], None] = lambda kind, text: None  # (kind, text) to say


@dataclass(eq=False)
class ServerThread:
    """uvicorn on a loop thread of its own, watched; a context manager.

    ``make_app(loop)`` builds the ASGI app once the loop exists (the recorder needs it).
    ``port`` is None for any free one; once entered, ``port`` is the one listened on.
    """

    make_app: Callable[[LoopThread], Any]
    host: str
    port: int | None
    options: ServerOptions
    hooks: ServerHooks = field(default_factory=ServerHooks)
    app: Any = field(default=None, init=False)
    loop: LoopThread = field(init=False)
    watchdog: LoopWatchdog | None = field(default=None, init=False)
    _resources: contextlib.ExitStack[None] = field(default_factory=contextlib.ExitStack, init=False)
    _server: uvicorn.Server = field(init=False)
    _serving: concurrent.futures.Future[None] = field(init=False)
    _abandoned: bool = field(default=False, init=False)

    def __enter__(self) -> ServerThread:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(_listening_socket(self.host, self.port))
            self.port = sock.getsockname()[1]
            self.loop = LoopThread(f"wsplay-server-{self.port}").start()
            stack.callback(self._stop_loop)
            if self.options.block_threshold is not None:
                self.watchdog = LoopWatchdog(
                    self.loop,
                    threshold=self.options.block_threshold,
                    interrupt_after=self.options.interrupt_after,
                    on_stall=self.hooks.on_stall,
                    describe_task=self.hooks.describe_task,
                ).start()
                self.loop.watchdog = self.watchdog
                stack.callback(self.watchdog.stop)
            self.app = self.make_app(self.loop)
            self._server = uvicorn.Server(self._config())
            self._serving = self.loop.submit(_serve(self._server, sock))
            stack.callback(self._shut_down)
            self._wait_until_started()
            self._resources = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _config(self) -> uvicorn.Config:
        from .protocols import guarded  # checks uvicorn: import wsplay works with any

        http, websocket = guarded(self.hooks.notice, self.options.handshake_timeout)
        return uvicorn.Config(
            self.app,
            # The recorder's __call__ hands back a coroutine without being one (one frame
            # less per message), so uvicorn cannot tell its interface by looking: say it.
            interface="asgi3",
            log_config=None,
            log_level="warning",
            lifespan="auto",
            http=http,
            ws=websocket,
            ws_ping_interval=self.options.ping_interval,
            ws_ping_timeout=self.options.ping_timeout,
            timeout_graceful_shutdown=1,
            backlog=BACKLOG,
            # uvicorn believes X-Forwarded-For and X-Forwarded-Proto from 127.0.0.1 by
            # default, and every local program is 127.0.0.1: the app would see whatever
            # address or scheme a client claims. The playground has no proxy of its own.
            proxy_headers=False,
        )

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if self._serving.done() or time.monotonic() > deadline:
                failure = self._serving.exception() if self._serving.done() else "a time-out"
                raise RuntimeError(f"The playground's server did not start: {failure}")
            time.sleep(0.002)

    @property
    def abandoned(self) -> bool:
        """``abandon`` was called: the loop is stuck inside one call, nobody waits on it."""
        return self._abandoned

    @property
    def alive(self) -> bool:
        """Serving: started, not finished, and not given up on (``abandon``)."""
        return (
            self._server.started
            and not self._serving.done()
            and self.loop.alive
            and not self._abandoned
        )

    def unblock(self, reason: str) -> bool:
        """Stop a handler that holds the loop; True when the loop is free again."""
        if self.watchdog is None:
            return True  # unwatched: nothing can be stopped, each later step is bounded
        return self.watchdog.unblock(reason, STOP_STEP_TIMEOUT)

    @property
    def stall(self) -> Stall | None:
        """Where a handler holds the loop now, if one does (the watchdog's view)."""
        return self.watchdog.stall if self.watchdog is not None else None

    def close(self) -> None:
        """Release everything, last taken first; never raises, always finishes."""
        with contextlib.suppress(Exception):
            self._resources.close()

    def abandon(self) -> None:
        """Close without waiting for a loop stuck inside one call (``unblock`` said False).

        The port and the watchdog are released now; uvicorn is told to exit, and the loop
        stops itself once uvicorn has shut down, when the call returns: the thread then
        ends on its own. Nothing here waits on that thread, so a new server starts at once.
        """
        self._abandoned = True
        self.close()

    def _shut_down(self) -> None:
        self._server.should_exit = True
        if self._abandoned:
            return
        try:
            self._serving.result(STOP_STEP_TIMEOUT)
        except Exception:
            self._server.force_exit = True

    def _stop_loop(self) -> None:
        if self._abandoned:
            self._serving.add_done_callback(lambda _: self.loop.stop())
        else:
            self.loop.stop(STOP_STEP_TIMEOUT)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:  # uvicorn exits on startup failures; keep our loop alive
        raise RuntimeError(f"uvicorn stopped during start-up (exit code {exit_.code})") from None


@contextlib.contextmanager
def _listening_socket(host: str, port: int | None):
    """A socket already listening on (host, port), closed on exit.

    Listening at once, not only bound: two kernels binding the same port with SO_REUSEADDR
    both succeed until one listens, and the loser would fail later with a vaguer error.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port or 0))
            sock.listen(BACKLOG)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port or 0) from None
            raise
        sock.set_inheritable(True)
        yield sock
    finally:
        sock.close()


class _SwitchIntervals:
    """Lowers the GIL switch interval while playgrounds run; restores it after the last."""

    def __init__(self) -> None:
        self._users = 0
        self._saved: float | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lowered(self, interval: float | None) -> Iterator[None]:
        if interval is None:
            yield
            return
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
            self._users += 1
            if interval < sys.getswitchinterval():
                sys.setswitchinterval(interval)
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved is not None:
                    sys.setswitchinterval(self._saved)
                    self._saved = None


switch_intervals = _SwitchIntervals()
