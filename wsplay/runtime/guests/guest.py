"""The app the playground serves, as its recorder calls it: any ASGI app, with its lifespan
run by the playground and its re-registered WebSocket routes kept one per path.

    guest = Guest(app, notice)
    await guest.lifespan.startup()     # before it serves (raises LifespanError)
    recorder.app = guest               # new connections reach the app through it
    await guest.lifespan.shutdown()    # swapped out, or the playground stops
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..._loop import LoopThread
from ...framework.application import answer_lifespan
from ..reports import say
from .lifespan import SHUTDOWN_TIMEOUT, STARTUP_TIMEOUT, Lifespan, LifespanError
from .redefinition import Notice, Redefinitions
from .routes import describe_app


class Guest:
    """One served app. Calling it is calling the app: it hands back the app's coroutine,
    without one of its own around it (no extra frame per message)."""

    def __init__(self, app: Any, notice: Notice) -> None:
        self.app = app
        self.name = describe_app(app)
        self.lifespan = Lifespan(app, self.name)
        self.redefinitions = Redefinitions(app, self.name, notice)

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        kind = scope["type"]
        if kind == "lifespan":
            # uvicorn's own lifespan, once per server: answered, because the playground
            # runs each app's lifespan itself (an app swapped in later gets none of uvicorn's).
            return answer_lifespan(receive, send)
        if self.lifespan.state:
            scope["state"] = dict(self.lifespan.state)  # a copy each, as uvicorn gives
        if kind == "websocket":
            self.redefinitions.check()
        return self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"<Guest {self.name}>"


def welcome(
    app: Any,
    loop: LoopThread,
    notice: Notice,
    timeout: float = STARTUP_TIMEOUT,
    serving: Any = None,
) -> Guest:
    """``app`` started on the server's loop (its lifespan's startup), ready to serve.
    Raises LifespanError when the startup fails or does not finish within ``timeout``,
    saying that ``serving`` (the app served so far, if any) keeps serving."""
    guest = Guest(app, notice)
    startup = guest.lifespan.startup(timeout)
    try:
        loop.run(startup, timeout + 1, f"The startup of {guest.name}")
    except LifespanError as error:
        if serving is None:
            raise
        still = f" The playground keeps serving {describe_app(serving)}."
        raise LifespanError(error.summary + still, error.details) from None
    guest.redefinitions.watch_cells()
    return guest


def see_off(guest: Any, loop: LoopThread) -> None:
    """Run the shutdown of an app leaving the playground; what fails is said, not raised
    (a swap or a stop goes on whatever the app does)."""
    if not isinstance(guest, Guest):
        return
    guest.redefinitions.stop_watching()
    if not loop.alive:
        return
    try:
        problem = loop.run(guest.lifespan.shutdown(), SHUTDOWN_TIMEOUT + 1)
    except Exception as error:
        problem = f"The shutdown of {guest.name} did not finish: {error}"
    if problem:
        say(problem)
