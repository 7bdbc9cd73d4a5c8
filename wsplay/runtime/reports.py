"""What went wrong in a handler, kept for ``pg.errors`` and ``pg.warnings`` and said in the
notebook.

Errors reach the playground three ways, all ending in ``Recorder.report``: wsplay's own
``Application`` hands them to the host the recorder puts in the scope
(``framework.errors``), BlackSheep and Starlette log them (``framework.errors.logged_failures``
passes the log to the same host), and the recorder catches what escapes any app.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._watchdog import Stall, stall_sentence
from .timeline_budget import cut_middle

if TYPE_CHECKING:
    from .connections import ServerConnection

MAX_TRACEBACK_CHARS = 16_000


@dataclass(frozen=True)
class HandlerError:
    """An exception a handler raised, with where it happened and what the client saw.

    The exception keeps its traceback, but the frames' local variables are released, so a
    handler that held a large object does not keep it alive in ``pg.errors``.
    """

    time: float
    connection: int
    path: str
    exception: BaseException
    traceback: str
    outcome: str  # what the client saw, in words

    def summary(self) -> str:
        text = (
            f"The handler for {self.path} (connection #{self.connection}) raised "
            f"{type(self.exception).__name__}: {self.exception}\n→ {self.outcome}."
        )
        if isinstance(self.exception, SystemExit | KeyboardInterrupt):
            text += (
                f"\n{type(self.exception).__name__} in a handler ends only this handler, not "
                "the kernel: to end the conversation, close it or return from the handler."
            )
        return text

    def __str__(self) -> str:
        return (
            f"{self.summary()}\n{self.traceback.rstrip()}\n"
            "Fix the handler and re-run its cell: new connections use the new code."
        )


def handler_error(connection: ServerConnection, error: BaseException, now: float) -> HandlerError:
    text = format_traceback(error)
    release_frames(error)
    return HandlerError(now, connection.id, connection.path, error, text, outcome_of(connection))


def outcome_of(connection: ServerConnection) -> str:
    """What the client of ``connection`` saw (or will see) of an error raised now."""
    if connection.closed_by is not None:
        code = f" with {connection.close_code}" if connection.close_code else ""
        return f"the connection had already ended (closed by {connection.closed_by}{code})"
    if not connection.accepted:
        return "the handshake was refused (HTTP 403)"
    return "the client got close code 1011 (Internal Error)"


def format_traceback(error: BaseException) -> str:
    return cut_middle("".join(traceback.format_exception(error)), MAX_TRACEBACK_CHARS)


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


def print_error(error: HandlerError) -> None:
    """The default error listener."""
    say(str(error))
