"""The tutorial notebooks' exercises, each checked with one call.

    from wsplay.exercises import check
    check("greet", greet)        # your handler, or an Application, or a Router

``check`` runs scripted client conversations against your code in process (no server, no
network; a handler written for FastAPI or Starlette runs on that framework) and returns a
report: one line per step, ✓ or ✗, with what was expected, what came back and what to fix.
It never raises because of your handler: one that crashes, hangs, refuses the handshake or
answers wrong is reported, not raised.

    assert_passes("greet", greet)  # check, raising AssertionError with the report on a ✗:
                                   # an autograder's test cell (nbgrader, otter-grader)
    describe("greet")              # what an exercise asks for
    list(EXERCISES)                # every exercise, in the notebooks' order
"""

from __future__ import annotations

# Each module below scripts one exercise (beyond: two); importing it registers it.
from . import beyond, calculator, chat_v1, goodbye, greet, redis_rooms, rooms  # noqa: F401
from .checking import DEFAULT_TIMEOUT, assert_passes, check
from .registry import EXERCISES, Exercise, describe
from .report import Report, StepResult

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXERCISES",
    "Exercise",
    "Report",
    "StepResult",
    "assert_passes",
    "check",
    "describe",
]
