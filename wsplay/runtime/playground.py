"""The playground: a real uvicorn server in the background of the kernel, on loopback.

uvicorn runs on a daemon thread with an event loop of its own, so it keeps serving while a
cell blocks (``time.sleep``) and the kernel stays responsive while the server is busy. The
kernel's loop is never patched (no nest_asyncio). Every call into the server's loop has a
timeout, because an awaiting cell cannot always be interrupted; a watchdog names a handler
that blocks the loop, and stops one that never yields.

    pg = wsplay.start()           # a free port on 127.0.0.1
    conn = await pg.connect("/echo")
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._loop import LoopThread
from .._session import Headers
from .._watchdog import Stall, stuck_in_one_call_sentence
from ..framework import Application
from ..framework.close_codes import CloseCode
from ..framework.errors import logged_failures
from ..framework.shown import shown_text
from .clients.faces import Connects
from .clients.kernel import ClientCore
from .clients.why import why_refused, why_unanswered
from .deploy.export import ExportedApp, export_app
from .guests.guest import Guest, see_off, welcome
from .guests.lifespan import STARTUP_TIMEOUT
from .guests.routes import AppRoute, route_patterns, route_table
from .notices import Notices
from .recording.connections import ServerConnection, Tickets
from .recording.recorder import Recorder
from .reports import HandlerError, LoopBlocked, say
from .server.origins import Gate, is_loopback_host
from .server.thread import (
    PortInUseError,
    ServerHooks,
    ServerOptions,
    ServerThread,
    switch_intervals,
)
from .timeline.kinds import SERVER, WARNING
from .timeline.store import DEFAULT_MAX_EVENTS, Event, Timeline

__all__ = ["HandlerError", "LoopBlocked", "Playground", "PortInUseError", "route_patterns"]

DEFAULT_TIMEOUT = 5.0
# CPython hands the GIL to a waiting thread after this long (its default is 5 ms). A cell's
# execution hops between the kernel's threads several times, and while the server works flat
# out each hop can wait a whole interval: 1 ms keeps a trivial cell under ~50 ms during a
# flood (benchmarks/bench_panel_flood.py) instead of ~130 ms.
SWITCH_INTERVAL = 0.001
MAX_ERRORS = 100
MAX_WARNINGS = 100


class NotLoopbackWarning(UserWarning):
    """The playground listens on an address other machines may reach."""


warnings.simplefilter("always", NotLoopbackWarning)  # said at every start, not once a kernel


@dataclass
class _Running:
    """What a started playground holds; released as one (``stop``)."""

    server: ServerThread
    recorder: Recorder
    resources: contextlib.ExitStack


class Playground(Connects):
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
        **server_options: Any,
    ) -> None:
        """``switch_interval``: the GIL switch interval while the playground runs (restored
        when the last one stops); None leaves the interpreter's setting alone.
        ``server_options``: ``ping_interval``, ``ping_timeout`` (keepalive, seconds),
        ``block_threshold`` (a blocked loop is named after this long),
        ``interrupt_after`` (a handler stuck this long is stopped; None: never),
        ``allowed_origins`` and ``allowed_hosts`` (who may connect besides this machine
        and the Jupyter page, see origins.py; ``"*"``: anyone)."""
        self._app = app if app is not None else Application()
        self.options = ServerOptions(**server_options)
        self.switch_interval = switch_interval
        self.host = host
        self.requested_port = port
        self.timeout = timeout
        self.timeline = Timeline(max_events)
        self._errors: deque[HandlerError] = deque(maxlen=MAX_ERRORS)
        self._warnings: deque[LoopBlocked] = deque(maxlen=MAX_WARNINGS)
        self.print_errors = True  # each handler error is printed in the notebook as it happens
        self.startup_timeout = STARTUP_TIMEOUT  # seconds an app's lifespan startup may take
        self._error_listeners: list[Callable[[HandlerError], None]] = []
        self._running: _Running | None = None
        self.gate = Gate(self.options.allowed_origins, self.options.allowed_hosts)
        self.gate.hosts.listening_on(host)
        self.tickets = Tickets()  # the ids the kernel reserved for its own clients
        self._notices = Notices(say)
        self._clients: weakref.WeakSet[ClientCore] = weakref.WeakSet()
        self._lock = threading.RLock()

    # --- what a cell reads -------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self._app

    @app.setter
    def app(self, app: Any) -> None:
        """Serve another ASGI app from now on; open connections keep the old one.

        A running playground runs the new app's startup first (its ``lifespan=``, its
        ``on_event("startup")``): if that fails, this raises LifespanError and the app
        served before keeps serving. Then the old app's shutdown runs."""
        with self._lock:
            running = self._running
            if running is not None and self.running:
                loop = running.server.loop
                guest = welcome(app, loop, self._notice, self.startup_timeout, self._app)
                old, running.recorder.app = running.recorder.app, guest
                see_off(old, loop)
            self._app = app

    @property
    def running(self) -> bool:
        return self._running is not None and self._running.server.alive

    @property
    def port(self) -> int | None:
        return self._running.server.port if self._running is not None else None

    @property
    def url(self) -> str:
        if self._running is None:
            raise RuntimeError("The playground is not running: call pg.start() first.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @property
    def routes(self) -> list[str]:
        """The WebSocket route patterns the app serves (wsplay, FastAPI, Starlette or
        BlackSheep), in the order it matches them."""
        return [route.path for route in self.route_table if route.is_websocket]

    @property
    def route_table(self) -> list[AppRoute]:
        """Every route of the app, WebSocket or HTTP, with its kind, framework and name."""
        running = self._running
        if running is not None and isinstance(running.recorder.app, Guest):
            running.recorder.app.redefinitions.check()  # what a connection would meet
        return route_table(self._app)

    @property
    def connections(self) -> list[ServerConnection]:
        """The open server-side connections, oldest first."""
        if self._running is None:
            return []
        return sorted(self._running.recorder.connections.values(), key=lambda c: c.id)

    @property
    def errors(self) -> list[HandlerError]:
        """The handler exceptions caught so far, newest last (the last 100 are kept)."""
        return list(self._errors)

    @property
    def warnings(self) -> list[LoopBlocked]:
        """Times a handler blocked the server's loop, newest last (the last 100 are kept)."""
        return list(self._warnings)

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<Playground {state}, {len(self.connections)} open connections>"

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> Playground:
        """Start serving; does nothing if already running. Raises PortInUseError."""
        with self._lock:
            if self.running and self._unblock(
                "wsplay.start() was called while this handler blocked the server"
            ):
                return self
            self.stop()  # what a server that died, or is stuck in one call, left behind
            self._warn_if_not_loopback()
            with contextlib.ExitStack() as resources:
                resources.enter_context(logged_failures(unhosted=say))
                resources.enter_context(switch_intervals.lowered(self.switch_interval))
                recorders: list[Recorder] = []
                server = resources.enter_context(
                    ServerThread(
                        lambda loop: self._make_recorder(loop, recorders),
                        self.host,
                        self.requested_port,
                        self.options,
                        ServerHooks(self._on_stall, self._describe_task, self._notice),
                    )
                )
                # Its shutdown runs while the server is still up, after the 1001 round (not
                # on a loop stuck inside one call: stop() does not wait for that).
                resources.callback(
                    lambda: server.abandoned or see_off(recorders[0].app, server.loop)
                )
                self._running = _Running(server, recorders[0], resources.pop_all())
            _started.add(self)
            return self

    def _make_recorder(self, loop: LoopThread, made: list[Recorder]) -> Recorder:
        recorder = Recorder(
            welcome(self._app, loop, self._notice, self.startup_timeout),
            self.timeline,
            loop,
            self._report_error,
            self.timeout,
            self.gate,
            self._notices.refused,
            self.tickets,
            self._notices.app_notice,
        )
        if loop.watchdog is not None:
            # Each leaves the other's time out: the watchdog's wakes are no demand for the
            # GIL, and the pauses for the kernel are no handler blocking the loop.
            recorder.gil.leave_out(loop.watchdog.thread)
            loop.watchdog.excused = recorder.gil.paused_seconds
        made.append(recorder)
        return recorder

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Close open connections with 1001, stop the server, free the port, join its thread.

        Always finishes within a bounded time and never raises: a handler that holds the
        loop is stopped first, and what cannot be closed politely is closed anyway.
        """
        with self._lock:
            running = self._running
            if running is None:
                return
            _started.discard(self)
            try:
                if running.server.alive:
                    self._end_conversations(running, timeout)
            finally:
                # Only now: until here the watchdog may still name a handler that holds
                # the loop, and it finds the handler's connection through _running.
                self._running = None
                running.resources.close()
                self._notices.flush()

    def restart(self) -> Playground:
        """Stop, then start again on the same port (a fresh one if none was asked for)."""
        self.stop()
        return self.start()

    def _end_conversations(self, running: _Running, timeout: float) -> None:
        server = running.server
        if not server.unblock("the playground is stopping, and this handler blocked it"):
            say(stuck_in_one_call_sentence(server.stall))
            server.abandon()
            return

        async def close_all() -> None:
            going_away = CloseCode.GOING_AWAY.value
            for connection in sorted(running.recorder.connections.values(), key=lambda c: c.id):
                await connection.end_async(going_away, "the playground is stopping")
            await asyncio.gather(
                *(client.drain() for client in list(self._clients)), return_exceptions=True
            )

        try:
            server.loop.run(close_all(), timeout, "Closing the open connections")
        except Exception as error:
            say(f"stopping: not every connection heard the 1001 ({error})")

    def _unblock(self, reason: str) -> bool:
        """Free the server's loop from a handler that holds it; False if it is stuck."""
        return self._running is None or self._running.server.unblock(reason)

    def _warn_if_not_loopback(self) -> None:
        if not is_loopback_host(self.host):
            warnings.warn(
                f"The playground will listen on {self.host}, not on 127.0.0.1: other machines "
                "that can reach this one can now connect to your handlers. Use the default "
                "host unless you mean to share them.",
                NotLoopbackWarning,
                stacklevel=3,
            )

    # --- the kernel client (connect and connect_sync: client.Connects) ------------
    def _client_core(
        self,
        path: str,
        headers: Headers = None,
        subprotocols: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> ClientCore:
        """A client's core on the server's loop (wsplay's widgets use it; cells, connect)."""
        if self._running is None or not self.running:
            raise RuntimeError("The playground is not running: call pg.start() first.")
        core = ClientCore(
            self.url,
            path,
            headers,
            subprotocols,
            self.timeline,
            self._running.server.loop,
            timeout if timeout is not None else self.timeout,
            self._why_refused,
            self._why_unanswered,
        )
        core.ticket = self.tickets.issue(core.id)
        self._clients.add(core)
        return core

    def _why_refused(self, connection: int, path: str) -> tuple[str, str | None]:
        router = getattr(self._app, "router", None)
        return why_refused(connection, path, self.timeline, self._errors, router, self.routes)

    # --- out of the notebook -----------------------------------------------------------
    def export(self, path: str, framework: str = "blacksheep", **options: Any) -> ExportedApp:
        """Write the served handlers to a runnable app file (see wsplay.runtime.deploy.export)."""
        return export_app(self._app, path, framework, **options)

    def _why_unanswered(self, connection: int, path: str) -> str:
        return why_unanswered(connection, path, self._warnings, self.connections)

    # --- errors and warnings -----------------------------------------------------------
    def _report_error(self, record: HandlerError) -> None:
        """Keep ``record``, and say it once in the notebook: a refusal that a cell's
        ``connect`` is waiting for is said by the exception it raises, not here too."""
        self._errors.append(record)
        if self.print_errors and not (record.refused and self._cell_is_told(record.connection)):
            self._notices.error(record)
        for listener in list(self._error_listeners):
            with contextlib.suppress(Exception):
                listener(record)

    def _cell_is_told(self, connection: int) -> bool:
        """A cell's ``connect`` is waiting for ``connection``'s handshake: it will raise."""
        return any(core.id == connection and core.raises_refusal for core in list(self._clients))

    def _notice(self, kind: str, text: str) -> None:
        """What the server's protocols did to a misbehaving client: timeline, and notebook.

        The same kind of notice is said at most once per half minute (a flood of slow
        clients must not flood the notebook), then how many more; the timeline keeps every one.
        """
        self.timeline.record(Event(time.time(), 0, SERVER, WARNING, preview=text))
        self._notices.say(kind, text)

    def on_error(self, listener: Callable[[HandlerError], None]) -> Callable[[], None]:
        """Call ``listener`` with each handler error from now on (on the server's thread);
        returns the function that stops it. The panel listens this way."""
        self._error_listeners.append(listener)
        return lambda: self._error_listeners.remove(listener)

    def _describe_task(self, task: asyncio.Task[Any]) -> str:
        connection = self._connection_of(task)
        if connection is None:
            return ""
        return f"the handler for {shown_text(connection.path)} (connection #{connection.id})"

    def _connection_of(self, task: asyncio.Task[Any] | None) -> ServerConnection | None:
        running = self._running
        return running.recorder.connection_of(task) if running and task else None

    def _on_stall(self, stall: Stall) -> None:
        """The watchdog saw an episode begin or end (called on its thread)."""
        connection = self._connection_of(stall.task)
        record = LoopBlocked.from_stall(stall, connection, self.options.interrupt_after)
        if stall.over and self._warnings and self._warnings[-1].time == record.time:
            began = self._warnings[-1]  # the same episode, now with its length
            record = dataclasses.replace(record, connection=began.connection, path=began.path)
            self._warnings[-1] = record
        else:
            self._warnings.append(record)
            say(str(record))
        self.timeline.record(
            Event(
                time.time(),
                record.connection or 0,
                SERVER,
                WARNING,
                preview=record.sentence,
                by="wsplay" if record.interrupted else None,
            )
        )


_started: weakref.WeakSet[Playground] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A kernel that shuts down with a playground running exits at once."""
    for playground in list(_started):
        with contextlib.suppress(Exception):
            playground.stop(timeout=1)
