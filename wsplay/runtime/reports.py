"""What went wrong in a handler, kept for ``pg.errors`` and ``pg.warnings`` and said in the
notebook.

Errors reach the playground three ways, all ending in ``Recorder.report``: wsplay's own
``Application`` hands them to the host the recorder puts in the scope
(``framework.errors``), BlackSheep and Starlette log them (``framework.errors.logged_failures``
passes the log to the same host), and the recorder catches what escapes any app.
"""

from __future__ import annotations

import linecache
import sys
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from .._watchdog import Stall, describe_location, stall_sentence
from ..framework.shown import shown_text
from ..framework.tracebacks import innermost_learner_line, learner_traceback
from .timeline.budget import cut, cut_middle

if TYPE_CHECKING:
    from .recording.connections import ServerConnection

MAX_TRACEBACK_CHARS = 16_000
# An exception's message as a sentence quotes it: ``float(text)`` puts the client's whole
# text in it (megabytes), and what the client sent may pose as wsplay's own lines.
MESSAGE_CHARS = 300
# What an exception kept in pg.errors may hold of its text (its ``args``), at most.
KEPT_MESSAGE_CHARS = 4_000


@dataclass(frozen=True)
class HandlerError:
    """An exception a handler raised, with where it happened and what the client saw.

    Said to the learner fix first (``lead``), then what happened (``outcome``): once in
    the notebook (``notice``), once in the panel (``summary``); ``str()`` is all of it,
    with the exception's own text and the full traceback.

    The exception keeps its traceback, but the frames' local variables are released, so a
    handler that held a large object does not keep it alive in ``pg.errors``.
    """

    time: float
    connection: int
    path: str
    exception: BaseException
    traceback: str
    outcome: str  # what the client saw, in words
    where: str = ""  # the learner's line that raised: "Cell In[4], line 6"
    code: str = ""  # and its text

    @property
    def refused(self) -> bool:
        """The error came before ``accept()``: the client's handshake was refused."""
        return self.outcome == REFUSED

    def lead(self) -> str:
        """The first sentence: what to do, in the learner's words."""
        error = self.exception
        fix = getattr(error, "fix", "")
        if isinstance(fix, str) and fix:
            return fix
        name = type(error).__name__
        if isinstance(error, SystemExit | KeyboardInterrupt):
            return (
                "End a conversation by closing it or returning from the handler: "
                f"{name} in a handler ends only this handler, not the kernel."
            )
        at = f" at {self.line()}" if self.where else ""
        return (
            f"The handler for {self.shown_path} raised {name}: {self.message.rstrip('.')}{at}. "
            "Fix it and re-run its cell: new connections use the new code."
        )

    @property
    def shown_path(self) -> str:
        """The path as the client sent it, as a sentence may quote it."""
        return shown_text(self.path)

    @property
    def message(self) -> str:
        """The exception's text, escaped and cut (``str(exception)`` is all of it)."""
        return shown_text(str(self.exception), MESSAGE_CHARS)

    def line(self) -> str:
        """Where the learner's code raised, with the line: ``Cell In[4], line 6: `...` ``."""
        return f"{self.where}: `{self.code}`" if self.code else self.where

    def happened(self) -> str:
        """What the client saw, as a sentence."""
        return self.outcome[0].upper() + self.outcome[1:] + "."

    def summary(self) -> str:
        """The fix, then what happened, for the panel (one entry per error)."""
        return f"{self.lead()} {self.happened()}"

    def notice(self) -> str:
        """What the notebook says when it happens: the fix, what happened, where; the
        rest is in ``pg.errors``."""
        where = f"; raised at {self.line()}" if self.where and self.where not in self.lead() else ""
        return (
            f"{self.lead()}\n→ {self.happened()} ({self.shown_path}, connection "
            f"#{self.connection}{where}; pg.errors[-1] has the traceback.)"
        )

    def refusal(self) -> tuple[str, str]:
        """What a client refused because of this error is told: the fix, and why."""
        at = f" at {self.where}" if self.where and self.where not in self.lead() else ""
        return self.lead(), (
            f"the handler raised {type(self.exception).__name__}{at}; pg.errors[-1] has the details"
        )

    def __repr__(self) -> str:
        # One line, so that a cell showing pg.errors is a list, not a wall of tracebacks:
        # print(pg.errors[-1]) shows all of it.
        return f"<HandlerError {self.shown_path} #{self.connection}: {cut(self.lead(), 120)}>"

    def __str__(self) -> str:
        return (
            f"{self.summary()}\n({self.shown_path}, connection #{self.connection})\n"
            f"{self.traceback.rstrip()}\n"
            "Fix the handler and re-run its cell: new connections use the new code."
        )


REFUSED = "the handshake was refused: the client got HTTP 403"


def refused_unexplained(path: str, routes: list[str], matched: bool) -> tuple[str, str]:
    """The fix and why, for a handshake refused with no handler error: no route matched
    ``path``, or its handler closed or returned before accepting."""
    if not matched:
        fix = (
            f"Connect to a path one of your routes matches ({', '.join(routes)})."
            if routes
            else 'Define a route first, e.g. @ws("/echo") above an async def handler.'
        )
        return fix, f"no route matches {path}"
    return (
        f"Call `await websocket.accept()` in the handler for {path}, unless it meant to "
        "refuse this client.",
        "the handler closed or returned before calling `await websocket.accept()`",
    )


def handler_error(connection: ServerConnection, error: BaseException, now: float) -> HandlerError:
    text = format_traceback(error)
    where, code = learner_line(error)
    release_frames(error)
    lighten(error)
    outcome = outcome_of(connection)
    return HandlerError(now, connection.id, connection.path, error, text, outcome, where, code)


def learner_line(error: BaseException) -> tuple[str, str]:
    """Where the learner's code raised ``error`` and that line's text:
    ``("Cell In[4], line 6", "await websocket.receive_text()")`` (empty if nowhere)."""
    found = innermost_learner_line(error)
    if found is None:
        return "", ""
    filename, lineno = found
    return describe_location(filename, lineno), linecache.getline(filename, lineno).strip()


def outcome_of(connection: ServerConnection) -> str:
    """What the client of ``connection`` saw (or will see) of an error raised now."""
    if connection.closed_by is not None:
        code = f" with {connection.close_code}" if connection.close_code else ""
        return f"the connection had already ended (closed by {connection.closed_by}{code})"
    if not connection.accepted:
        return REFUSED
    return "the client got close code 1011 (Internal Error)"


def format_traceback(error: BaseException) -> str:
    """The traceback, the learner's frames first: a FastAPI handler's error sits under
    some forty frames of Starlette's and uvicorn's, which come after, whole."""
    whole = "".join(traceback.format_exception(error))
    yours = learner_traceback(error.__traceback__)
    if yours is None or _depth(yours) == _depth(error.__traceback__):
        return cut_middle(whole, MAX_TRACEBACK_CHARS)
    shown = "".join(traceback.format_exception(type(error), error, yours, chain=False))
    return cut_middle(
        f"In your code:\n{shown}\nThe whole traceback, the libraries' frames too:\n{whole}",
        MAX_TRACEBACK_CHARS,
    )


def _depth(tb: TracebackType | None) -> int:
    count = 0
    while tb is not None:
        count, tb = count + 1, tb.tb_next
    return count


def lighten(error: BaseException) -> None:
    """Cut the text arguments of ``error`` to ``KEPT_MESSAGE_CHARS`` each, the cut said:
    ``float(text)`` keeps the client's whole text in the exception, and pg.errors keeps the
    exception (its traceback, formatted before, is cut apart)."""
    args = error.args
    if any(isinstance(arg, str) and len(arg) > KEPT_MESSAGE_CHARS for arg in args):
        error.args = tuple(
            cut(arg, KEPT_MESSAGE_CHARS) if isinstance(arg, str) else arg for arg in args
        )


def release_frames(error: BaseException | None) -> None:
    """Drop the local variables of the finished frames of ``error`` and its chain."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__


@dataclass(frozen=True)
class LoopBlocked:
    """A handler blocked the server's event loop: where, for how long, and what wsplay did."""

    time: float
    connection: int | None
    path: str | None
    where: str
    code: str
    blocked_for: float
    interrupted: bool
    over: bool
    sentence: str

    @classmethod
    def from_stall(
        cls,
        stall: Stall,
        connection: ServerConnection | None,
        interrupt_after: float | None,
    ) -> LoopBlocked:
        return cls(
            stall.started,
            connection.id if connection is not None else None,
            connection.path if connection is not None else None,
            stall.where,
            stall.code,
            stall.blocked_for,
            stall.interrupted,
            stall.over,
            stall_sentence(stall, interrupt_after),
        )

    def __str__(self) -> str:
        return self.sentence[0].upper() + self.sentence[1:]


def say(text: str) -> None:
    """Show ``text`` where the notebook shows output (the cell that ran last)."""
    print(f"wsplay: {text}", file=sys.stderr)
