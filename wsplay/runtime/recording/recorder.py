"""An ASGI middleware that records both directions of every WebSocket connection.

It sits between uvicorn and any ASGI app (wsplay's, BlackSheep's, Starlette's), so the
timeline, the list of open connections and "close this one from the notebook" work the same
for all of them. It also knows which connection is running (a context variable, and a map
from task to connection), so an exception a framework logs, or a handler that blocks the
loop, can be tied to the connection it happened on.

``pg.connections`` must be the truth even when a handler stops reading: a client that left,
or a keepalive timeout, is only told to the app by its next ``receive()``. So a sweep looks
at each connection's transport twice a second and records an ending the app has not seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...framework.errors import first_report
from ..reports import HandlerError, handler_error, say
from ..server.gil import GilShare
from ..server.origins import Gate, Refusal
from ..timeline.kinds import ERROR
from ..timeline.store import Event, Timeline
from .connections import ServerConnection, Tickets
from .conversation import Conversation
from .refusals import refuse_http

SWEEP_INTERVAL = 0.5  # seconds between looks at the transports


class Recorder:
    """Wraps an ASGI app; records every WebSocket message and close into ``timeline``.

    ``app`` can be swapped at any time: new connections use the new app.
    """

    def __init__(
        self,
        app: Any,
        timeline: Timeline,
        loop: Any,
        on_error: Callable[[HandlerError], None],
        call_timeout: float = 5.0,
        gate: Gate | None = None,
        on_refused: Callable[[Refusal, str], None] = lambda refusal, request: None,
        tickets: Tickets | None = None,
        on_notice: Callable[[str], None] = say,
    ) -> None:
        """``gate``: who may connect (origins.py; by default anyone); ``on_refused`` hears
        each refusal and what was refused ("an HTTP request"); ``tickets``: the ids the
        kernel reserved for its clients (connections.py); ``on_notice`` says what the app
        warns about (the playground's, bounded in rate: notices.py)."""
        self.app = app
        self.gate = gate if gate is not None else Gate("*", "*")
        self.on_refused = on_refused
        self.on_notice = on_notice
        self.tickets = tickets if tickets is not None else Tickets()
        self.timeline = timeline
        self.connections: dict[int, ServerConnection] = {}
        self.call_timeout = call_timeout
        self._conversations: dict[int, Conversation] = {}
        self._tasks: dict[asyncio.Task[Any], ServerConnection] = {}
        self.loop = loop
        self._on_error = on_error
        self._sweeper: asyncio.Task[None] | None = None
        # Looked at on every message the timeline records, either side's: the server's
        # thread lets the kernel's have the GIL when they want it (see gil.py).
        self.gil = timeline.pacer = GilShare()

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        """The app's coroutine, wrapped or not: not a coroutine itself, which would be one
        more frame to resume each time the handler's task wakes, that is, per message."""
        kind = scope["type"]
        if kind == "http" and (refusal := self.gate.refusal(scope.get("headers", ()))):
            return refuse_http(scope, send, refusal, self.timeline, self.on_refused)
        if kind != "websocket":
            return self.app(scope, receive, send)
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())
        return Conversation(self, scope, receive, send).run()

    def connection_of(self, task: asyncio.Task[Any]) -> ServerConnection | None:
        """The connection whose handler runs in ``task`` (read from the watchdog's thread)."""
        return self._tasks.get(task)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            for conversation in list(self._conversations.values()):
                conversation.notice_ending()

    def opened(self, conversation: Conversation) -> None:
        self.connections[conversation.id] = conversation.connection
        self._conversations[conversation.id] = conversation
        conversation.task = task = asyncio.current_task()
        if task is not None:
            self._tasks[task] = conversation.connection

    def forget(self, conversation: Conversation) -> None:
        self.connections.pop(conversation.id, None)
        self._conversations.pop(conversation.id, None)

    def finished(self, conversation: Conversation) -> None:
        self.forget(conversation)
        if conversation.task is not None:
            self._tasks.pop(conversation.task, None)

    def report(self, connection: ServerConnection, error: BaseException) -> None:
        """Record and tell ``error`` once, however many ways it reaches here (an app may
        log it, then let it escape)."""
        if not first_report(error):
            return
        record = handler_error(connection, error, time.time())
        self.timeline.record(
            Event(
                record.time,
                connection.id,
                "server",
                ERROR,
                preview=f"{type(error).__name__}: {error}",
                traceback=record.traceback,
            )
        )
        self._on_error(record)
