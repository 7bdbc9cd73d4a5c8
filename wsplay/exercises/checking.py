"""``check``: run an exercise's scripted conversations against a solution, in process."""

from __future__ import annotations

import inspect
from typing import Any

from ..framework import Application, InvalidRouteError, Router
from ..framework.errors import logged_failures
from ..testing import TestClient
from .conversation import Run
from .frameworks import WSPLAY, app_for, framework_of
from .harness import Capture, Harness
from .registry import find_exercise
from .report import FAIL, Report, StepResult
from .seen import one_line
from .words import in_words_of

DEFAULT_TIMEOUT = 3.0


def check(exercise: str, solution: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Run ``exercise``'s conversations against ``solution`` and report each step.

    ``solution`` is your handler (an ``async def`` function: it is served on the exercise's
    route), or an ``Application`` or ``Router`` that serves that route, or any ASGI app
    (FastAPI's, Starlette's, BlackSheep's). A handler written for FastAPI or Starlette (its
    ``WebSocket`` is theirs) is served by that framework, and the hints speak its words.
    ``timeout`` bounds every wait, so a handler that hangs costs at most that many seconds
    per conversation.
    """
    found = find_exercise(exercise)
    report = Report(found.name, found.title, framework_of(solution))
    app, problem = _as_app(solution, found.pattern, report.framework)
    if problem is not None:
        report.steps.append(problem)
        return report
    capture = Capture()
    harness = Harness(app, capture)
    with logged_failures(), TestClient(harness, timeout=timeout) as client:
        run = Run(found, client, harness, capture, report, timeout)
        try:
            found.script(run)
        finally:
            run.leave_all()
            harness.all_gone = True
    for step in report.steps:  # the checker's own words; what the handler raised is kept
        step.hint = in_words_of(report.framework, step.hint)
        step.got = in_words_of(report.framework, step.got)
    return report


def assert_passes(exercise: str, solution: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """``check``, for an autograder: raises ``AssertionError`` with the report when a step
    fails, so a grader's test cell (nbgrader, otter-grader) scores the exercise.

        from wsplay.exercises import assert_passes
        assert_passes("greet", greet)
    """
    report = check(exercise, solution, timeout=timeout)
    if not report.passed:
        raise AssertionError(str(report))
    return report


def _as_app(solution: Any, pattern: str, framework: str) -> tuple[Any, StepResult | None]:
    """The ASGI app to check, or the step that says why ``solution`` cannot be served."""
    step = f"serve your handler on {pattern}"
    if isinstance(solution, Application):
        return solution, None
    if isinstance(solution, Router):
        return Application(router=solution), None
    if inspect.isfunction(solution) or inspect.ismethod(solution):
        if framework != WSPLAY:
            try:
                return app_for(solution, pattern, framework), None
            except ImportError as missing:
                expected = f"{framework} installed"
                return None, StepResult(FAIL, step, expected, "not installed", str(missing))
        router = Router()
        try:
            router.add_ws(pattern, solution)
        except InvalidRouteError as error:
            return None, StepResult(
                FAIL, step, "a handler wsplay can serve", one_line(error), _fix(error)
            )
        return Application(router=router), None
    if solution is None or not callable(solution):
        return None, StepResult(
            FAIL,
            step,
            "an async def handler, an Application or a Router",
            repr(solution),
            "pass the handler function itself, e.g. check('greet', greet), without calling it.",
        )
    return solution, None  # any other ASGI app (BlackSheep's, Starlette's)


def _fix(error: BaseException) -> str:
    example = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    if example:
        return f"Write its first line as `{example[0]}` and re-run the cell."
    return "Change the handler as the error says, re-run its cell, then this check."
