"""An app's ASGI lifespan, driven by the playground itself on the server's loop.

uvicorn runs the lifespan of the app it was started with, once. The playground swaps apps
while it runs (``pg.app = app``, ``wsplay.start(app=app)``), so it plays uvicorn's part for
each app it serves: startup before the app's first connection, shutdown when it is swapped
out or the playground stops. The message sequence is uvicorn's (``LifespanOn``):

    app({"type": "lifespan", ...})   receives lifespan.startup, sends ...startup.complete
                                      receives lifespan.shutdown, sends ...shutdown.complete

An app that does not speak the protocol is served without one, as uvicorn's
``lifespan="auto"`` does: it returns, or raises without having said
``lifespan.startup.failed`` (a raw ASGI app that reads ``scope["subprotocols"]`` raises a
KeyError on the lifespan scope; FastAPI and Starlette say ``failed`` before they raise).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..reports import format_traceback

STARTUP_TIMEOUT = 10.0  # seconds an app's startup may take (a database that never answers)
SHUTDOWN_TIMEOUT = 3.0  # stopping the playground must stay bounded


class LifespanError(RuntimeError):
    """An app's startup failed or did not finish: the playground does not serve it.

    ``summary`` says what and the fix; ``details`` is the app's traceback, if any."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(f"{summary}\n{details.rstrip()}" if details.strip() else summary)
        self.summary = summary
        self.details = details


class Lifespan:
    """The lifespan of one app: ``await startup()``, later ``await shutdown()``.

    ``state`` is what the app's lifespan yielded (Starlette's ``yield {"db": ...}``): each
    connection's scope gets a copy, as uvicorn gives one to each request.
    """

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name  # the app in words: "the FastAPI app `app`"
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._failure: dict[str, Any] | None = None  # a ...startup.failed / shutdown.failed
        self._task: asyncio.Task[None] | None = None
        self.running = False  # started and not shut down yet

    async def startup(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Run the app's startup; raises LifespanError if it fails or takes too long."""
        self._task = asyncio.ensure_future(self._main())
        if not await self._step("lifespan.startup", self._started, timeout):
            raise LifespanError(
                f"The startup of {self.name} did not finish within {timeout:g} s, so the "
                "playground does not serve it. Is its lifespan (or an on_event('startup') "
                "function) waiting for something that never answers? Make it finish, or "
                "start what it waits for first."
            )
        if await self._failed():
            headline, details = self._what_broke()
            raise LifespanError(
                f"The startup of {self.name} failed ({headline}). Fix its lifespan (or its "
                "startup function) and start it again.",
                details,
            )
        if self._task.done() and not self._task.cancelled():
            self._task.exception()  # no lifespan spoken: what it raised is retrieved, not said
        self.running = not self._task.done()

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> str | None:
        """Run the app's shutdown; returns what went wrong in words (None: all went well).

        Never raises: a shutdown happens while the playground stops or swaps apps, and
        neither may be stopped by the app being swapped out."""
        if not self.running or self._task is None:
            return None
        self.running = False
        if not await self._step("lifespan.shutdown", self._ended, timeout):
            return f"The shutdown of {self.name} did not finish within {timeout:g} s: stopped."
        if await self._failed():
            headline, details = self._what_broke()
            return f"The shutdown of {self.name} failed ({headline}).\n{details}".rstrip()
        return None

    async def _step(self, message: str, done: asyncio.Event, timeout: float) -> bool:
        """Tell the app ``message``; True once it answered (or ended) within ``timeout``,
        else False, with its lifespan task cancelled."""
        assert self._task is not None
        await self._inbox.put({"type": message})
        try:
            async with asyncio.timeout(timeout):
                await done.wait()
        except TimeoutError:
            self._task.cancel()
            return False
        return True

    async def _failed(self) -> bool:
        """Whether the step just taken failed: the app said so (an app that raised without
        saying so does not speak lifespan, and is served without one)."""
        if self._failure is not None and self._task is not None:
            await asyncio.wait({self._task}, timeout=1)  # Starlette raises once it has said so
        return self._failure is not None

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        finally:
            self._started.set()
            self._ended.set()

    async def _receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("lifespan.startup.failed", "lifespan.shutdown.failed"):
            self._failure = message
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            self._started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self._ended.set()

    def _exception(self) -> BaseException | None:
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()

    def _what_broke(self) -> tuple[str, str]:
        """The exception in one line, and its traceback (or what the app said instead)."""
        error = self._exception()
        if error is not None:
            return f"{type(error).__name__}: {error}", format_traceback(error)
        said = str((self._failure or {}).get("message") or "").strip()
        if said:
            return said.splitlines()[-1], said
        return "the app reported a failure; its log above says more", ""
