"""The tutorial notebooks' exercises, each checked with one call.

    from wsplay.exercises import check
    check("greet", greet)        # your handler, or an Application, or a Router

``check`` runs scripted client conversations against your code in process (no server, no
network) and returns a report: one line per step, ✓ or ✗, with what was expected, what came
back and what to fix. It never raises because of your handler: one that crashes, hangs,
refuses the handshake or answers wrong is reported, not raised.

    describe("greet")            # what an exercise asks for
    list(EXERCISES)              # every exercise, in the notebooks' order
"""

from __future__ import annotations

import contextvars
import html
import inspect
import json
import logging
import math
import os
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .framework import (
    Application,
    HandshakeRejectedError,
    InvalidRouteError,
    MessageMode,
    Router,
    WebSocketClosedError,
    compile_pattern,
    describe_close_code,
)
from .framework.exceptions import BindingError
from .testing import HandlerInterrupted, TestClient

__all__ = ["EXERCISES", "Exercise", "Report", "StepResult", "check", "describe"]

DEFAULT_TIMEOUT = 3.0
PEER_HEADER = "x-wsplay-exercise-peer"  # names each scripted client for the harness
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

PASS, FAIL, SKIP = "pass", "fail", "skip"
_MARKS = {PASS: "✓", FAIL: "✗", SKIP: "–"}


# --- the report ----------------------------------------------------------------------------
@dataclass
class StepResult:
    """One step of a scripted conversation and how it went."""

    status: str  # "pass", "fail" or "skip" (not run because an earlier step failed)
    step: str
    expected: str = ""
    got: str = ""
    hint: str = ""

    @property
    def mark(self) -> str:
        return _MARKS[self.status]

    def line(self) -> str:
        if self.status == PASS:
            return f"✓ {self.step}"
        if self.status == SKIP:
            return f"– {self.step} (not run: an earlier step of this conversation failed)"
        text = f"✗ {self.step}: expected {self.expected}, got {self.got}."
        return f"{text} Hint: {self.hint}" if self.hint else text


@dataclass
class Report:
    """What ``check`` found: ``passed``, and one ``StepResult`` per step in ``steps``."""

    exercise: str
    title: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.status == PASS for step in self.steps)

    @property
    def failures(self) -> list[StepResult]:
        return [step for step in self.steps if step.status == FAIL]

    def _headline(self) -> str:
        done = sum(step.status == PASS for step in self.steps)
        if self.passed:
            return f"Exercise {self.exercise!r} ({self.title}): passed, {done}/{done} steps ✓"
        skipped = sum(step.status == SKIP for step in self.steps)
        not_run = f", {skipped} not run after a ✗" if skipped else ""
        return (
            f"Exercise {self.exercise!r} ({self.title}): {done} of "
            f"{len(self.steps) - skipped} steps passed{not_run}. "
            "Fix the first ✗, re-run your handler's cell, then this check."
        )

    def __str__(self) -> str:
        return "\n".join([self._headline(), *(step.line() for step in self.steps)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        colours = {PASS: "#1a7f37", FAIL: "#cf222e", SKIP: "#8c959f"}
        rows = []
        for step in self.steps:
            colour = colours[step.status]
            rows.append(
                "<tr>"
                f'<td style="color:{colour};font-weight:bold;text-align:center">{step.mark}</td>'
                f'<td style="text-align:left">{html.escape(step.step)}</td>'
                f'<td style="text-align:left">{html.escape(step.expected)}</td>'
                f'<td style="text-align:left">{html.escape(step.got)}</td>'
                f'<td style="text-align:left">{html.escape(step.hint)}</td>'
                "</tr>"
            )
        colour = colours[PASS] if self.passed else colours[FAIL]
        return (
            f'<div class="wsplay-exercise"><p style="color:{colour};font-weight:bold">'
            f"{html.escape(self._headline())}</p>"
            '<table><thead><tr><th></th><th style="text-align:left">step</th>'
            '<th style="text-align:left">expected</th><th style="text-align:left">got</th>'
            '<th style="text-align:left">what to fix</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )


# --- the exercises -------------------------------------------------------------------------
@dataclass(frozen=True)
class Exercise:
    name: str
    notebook: str
    title: str
    pattern: str  # the route a handler function is registered on
    task: str
    script: Callable[[_Run], None]


EXERCISES: dict[str, Exercise] = {}


def _exercise(name: str, notebook: str, title: str, pattern: str, task: str):
    def register(script: Callable[[_Run], None]) -> Callable[[_Run], None]:
        EXERCISES[name] = Exercise(name, notebook, title, pattern, task.strip(), script)
        return script

    return register


def describe(exercise: str) -> str:
    """What ``exercise`` asks for, in words."""
    found = _find(exercise)
    return f"{found.title} (notebook {found.notebook}), route {found.pattern}:\n{found.task}"


def check(exercise: str, solution: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Run ``exercise``'s conversations against ``solution`` and report each step.

    ``solution`` is your handler (an ``async def`` function: it is served on the exercise's
    route), or an ``Application`` or ``Router`` that serves that route. ``timeout`` bounds
    every wait, so a handler that hangs costs at most that many seconds per conversation.
    """
    found = _find(exercise)
    report = Report(found.name, found.title)
    app, problem = _as_app(solution, found.pattern)
    if problem is not None:
        report.steps.append(problem)
        return report
    harness = _Harness(app)
    capture = _Capture()
    logger = logging.getLogger("wsplay")
    logger.addFilter(capture)
    try:
        with TestClient(harness, timeout=timeout) as client:
            run = _Run(found, client, harness, capture, report, timeout)
            try:
                found.script(run)
            finally:
                run.leave_all()
                harness.all_gone = True
    finally:
        logger.removeFilter(capture)
    return report


def _find(exercise: str) -> Exercise:
    try:
        return EXERCISES[exercise]
    except KeyError:
        known = ", ".join(repr(name) for name in EXERCISES)
        raise ValueError(f"There is no exercise {exercise!r}; the exercises are {known}.") from None


def _as_app(solution: Any, pattern: str) -> tuple[Any, StepResult | None]:
    """The ASGI app to check, or the step that says why ``solution`` cannot be served."""
    step = f"serve your handler on {pattern}"
    if isinstance(solution, Application):
        return solution, None
    if isinstance(solution, Router):
        return Application(router=solution), None
    if inspect.isfunction(solution) or inspect.ismethod(solution):
        router = Router()
        try:
            router.add_ws(pattern, solution)
        except InvalidRouteError as error:
            return None, StepResult(
                FAIL, step, "a handler wsplay can serve", _one_line(error), _fix(error)
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


# --- what the scripted clients see ---------------------------------------------------------
@dataclass
class _Seen:
    """One thing a scripted client saw: a frame, a close, a refusal, silence or a failure."""

    kind: str  # "text", "bytes", "close", "refused", "accepted", "timeout", "failure"
    data: Any = None
    code: int | None = None
    reason: str = ""

    def describe(self, timeout: float) -> str:
        if self.kind == "text":
            return f"text {_short(self.data)}"
        if self.kind == "bytes":
            return f"a binary frame {_short(self.data)}"
        if self.kind == "close":
            meaning = describe_close_code(self.code).split(":")[0]
            reason = f" with reason {_short(self.reason)}" if self.reason else ""
            return f"a close {self.code} ({meaning}){reason}"
        if self.kind == "refused":
            return f"the handshake refused (HTTP {self.code})"
        if self.kind == "accepted":
            protocol = f"with subprotocol {self.data!r}" if self.data else "with no subprotocol"
            return f"the connection accepted {protocol}"
        if self.kind == "timeout":
            return f"nothing within {timeout:g} s"
        return f"{type(self.data).__name__}: {self.data}"


def _short(value: Any, size: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= size else text[: size - 3] + "..."


class _Marker:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


ANYTHING = _Marker("<anything>")  # no expectation
ANY_TEXT = _Marker("<any text>")  # any non-blank string


_in_check: contextvars.ContextVar[bool] = contextvars.ContextVar("wsplay_in_check", default=False)


class _Harness:
    """Wraps the app under test: marks its tasks as checked, and can make a peer vanish.

    A vanished peer is what a real server sees when a client's network goes away: sending
    to it raises an OSError (the handler's WebSocket turns that into a
    WebSocketDisconnectError) before its own handler has heard the disconnect.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.peers: dict[str, _Peer] = {}  # the newest connection of each scripted client
        self.all_gone = False

    def gone(self, name: str) -> None:
        """From now on, sending to ``name``'s connection fails as on a lost network."""
        peer = self.peers.get(name)
        if peer is not None:
            peer.gone = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        name = dict(scope.get("headers", ())).get(PEER_HEADER.encode(), b"").decode()
        peer = self.peers[name] = _Peer()

        async def guarded_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send" and (self.all_gone or peer.gone):
                raise OSError(f"the connection to {name or 'this client'} was lost")
            await send(message)

        _in_check.set(True)
        try:
            await self.app(scope, receive, guarded_send)
        except (SystemExit, KeyboardInterrupt) as exit_:
            # Escaping, these would stop the test client's event loop (and a real server's).
            raise RuntimeError(
                f"your handler raised {exit_!r}, which would stop the whole server"
            ) from None


@dataclass
class _Peer:
    gone: bool = False


class _Capture(logging.Filter):
    """Collects what the app under test logs (its handler's exceptions), keeping it quiet."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[BaseException] = []
        self.warnings: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if not _in_check.get():
            return True  # another app in the process (e.g. the playground's) logs as usual
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])
        elif record.levelno >= logging.WARNING:
            self.warnings.append(record.getMessage())
        return False

    def drain(self) -> tuple[list[BaseException], list[str]]:
        errors, warnings = self.errors[:], self.warnings[:]
        del self.errors[: len(errors)], self.warnings[: len(warnings)]
        return errors, warnings


def _where(error: BaseException) -> str:
    """'line 7 in calc(): return a / b' for the learner's own frame of a traceback."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR)
        and "asyncio" not in frame.filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (line {frame.lineno} in {frame.name}(){code})"


def _crash_text(errors: list[BaseException]) -> str:
    if not errors:
        return ""
    error = errors[0]
    return f"Your handler raised {_one_line(error)}{_where(error)}."


def _one_line(error: BaseException) -> str:
    text = " ".join(line.strip() for line in str(error).splitlines()).rstrip(".")
    return f"{type(error).__name__}: {text}"


# --- one check's conversations -------------------------------------------------------------
class _Client:
    """One scripted client: its name, path and blocking test session."""

    def __init__(self, name: str, path: str, connect: Any, session: Any) -> None:
        self.name = name
        self.path = path
        self._connect = connect
        self.session = session
        self.left = False


class _Run:
    """Drives the conversations of one check and writes their steps into the report.

    After a failed step, the rest of that conversation is listed as not run: the handler's
    state is unknown, and one mistake should read as one ✗.
    """

    def __init__(
        self,
        exercise: Exercise,
        client: TestClient,
        harness: _Harness,
        capture: _Capture,
        report: Report,
        timeout: float,
    ) -> None:
        self.exercise = exercise
        self.client = client
        self.harness = harness
        self.capture = capture
        self.report = report
        self.timeout = timeout
        self.clients: dict[str, _Client] = {}
        self.failed = False

    # --- bookkeeping ---------------------------------------------------------------------
    def conversation(self) -> _Run:
        """Start a new conversation: steps run again even if an earlier one failed."""
        self.leave_all()
        self.failed = False
        return self

    def _pass(self, step: str) -> None:
        self.report.steps.append(StepResult(PASS, step))

    def _fail(self, step: str, expected: str, got: str, hint: str) -> None:
        self.report.steps.append(StepResult(FAIL, step, expected, got, hint))
        self.failed = True

    def _skip(self, step: str) -> bool:
        if self.failed:
            self.report.steps.append(StepResult(SKIP, step))
        return self.failed

    def _explain(self, seen: _Seen, fix: str, *, expected_kind: str = "") -> str:
        """The hint for an unexpected ``seen``: what the handler did, then what to change."""
        errors, warnings = self.capture.drain()
        crash = _crash_text(errors)
        if errors and isinstance(errors[0], BindingError):
            names = ", ".join(
                f"`{name}`" for name in compile_pattern(self.exercise.pattern).parameters
            )
            return (
                f"{crash} The route {self.exercise.pattern} passes its values to the "
                f"parameters named {names}: name yours the same."
            )
        if errors and isinstance(errors[0], HandlerInterrupted):
            return (
                f"{crash} A handler must `await` something on every turn of a loop (a receive, "
                "a send, `await asyncio.sleep(...)`); blocking calls such as time.sleep, or "
                "CPU work, belong in `await asyncio.to_thread(...)`."
            )
        if crash:
            return f"{crash} {fix}"
        if seen.kind == "refused" and warnings:
            return f"{warnings[0]} {fix}"
        if seen.kind == "refused":
            return (
                "The handler closed the connection before calling `await websocket.accept()`, "
                f"so the client was refused. {fix}"
            )
        if seen.kind == "timeout":
            return (
                "Your handler sent nothing back: is it waiting for another message, missing a "
                f"send, or blocked by a call that is not awaited (e.g. time.sleep)? {fix}"
            )
        if seen.kind == "close" and seen.code == 1000:
            return (
                f"Your handler returned (wsplay then closes with 1000) before sending this. {fix}"
            )
        if seen.kind == "close" and seen.code == 1006:
            return (
                "Your handler stopped without closing the connection, e.g. a "
                f"WebSocketDisconnectError about another client ended it. {fix}"
            )
        if seen.kind in ("text", "bytes") and expected_kind and seen.kind != expected_kind:
            frame = {"text": "a text frame", "bytes": "a binary frame"}
            return f"This needs {frame[expected_kind]}, not {frame[seen.kind]}. {fix}"
        return fix

    # --- client actions ------------------------------------------------------------------
    def connect(
        self,
        name: str,
        path: str,
        *,
        subprotocols: Iterable[str] = (),
        expect_subprotocol: Any = ANYTHING,
        fix: str = "",
    ) -> None:
        offered = list(subprotocols)
        step = f"{name} connects to {path}" + (f", offering {offered}" if offered else "")
        expected = "the connection accepted"
        if expect_subprotocol is not ANYTHING:
            chosen = f"subprotocol {expect_subprotocol!r}" if expect_subprotocol else ""
            expected += f" with {chosen or 'no subprotocol'}"
        if self._skip(step):
            return
        seen = self._open(name, path, offered)
        if seen.kind != "accepted":
            self._fail(step, expected, seen.describe(self.timeout), self._explain(seen, fix))
        elif expect_subprotocol is not ANYTHING and seen.data != expect_subprotocol:
            self._fail(step, expected, seen.describe(self.timeout), fix)
        else:
            self._pass(f"{step}: {expected.removeprefix('the connection ')}")

    def _open(
        self, name: str, path: str, subprotocols: list[str], headers: dict[str, str] | None = None
    ) -> _Seen:
        connect = self.client.websocket_connect(
            path, headers={PEER_HEADER: name, **(headers or {})}, subprotocols=subprotocols
        )
        try:
            session = connect.__enter__()
        except HandshakeRejectedError as refused:
            return _Seen("refused", code=refused.status_code)
        except TimeoutError:
            return _Seen("timeout")
        except Exception as error:
            return _Seen("failure", error)
        self.clients[name] = _Client(name, path, connect, session)
        return _Seen("accepted", session.accepted_subprotocol)

    def send(self, name: str, data: Any, mode: str = "text") -> bool:
        """Send without a step of its own (sending cannot fail in process); False if skipped."""
        client = self.clients.get(name)
        if self.failed or client is None:
            return False
        try:
            if mode == "json":
                client.session.send_json(data)
            elif mode == "json-bytes":
                client.session.send_json(data, mode=MessageMode.BYTES)
            elif mode == "bytes":
                client.session.send_bytes(data)
            else:
                client.session.send_text(data)
        except Exception as error:
            self._fail(f"{name} sends {_short(data)}", "the message sent", repr(error), "")
            return False
        return True

    def receive(self, name: str) -> _Seen:
        client = self.clients[name]
        try:
            message = client.session.receive_message()
        except WebSocketClosedError as closed:
            client.left = True
            return _Seen("close", code=closed.code, reason=closed.reason)
        except TimeoutError:
            return _Seen("timeout")
        except Exception as error:
            return _Seen("failure", error)
        if message.get("text") is not None:
            return _Seen("text", message["text"])
        return _Seen("bytes", message.get("bytes") or b"")

    def expect_text(
        self, name: str, expected: str, step: str, fix: str, hints: dict[str, str] | None = None
    ) -> None:
        """``name`` receives the text ``expected``. ``hints`` maps a text that may come
        instead (e.g. a message from another room) to what that mistake means."""
        if self._skip(step):
            return
        seen = self.receive(name)
        if seen.kind == "text" and seen.data == expected:
            self._pass(step)
            return
        hint = _pick(hints, [seen.data] if seen.kind == "text" else []) or fix
        hint = self._explain(seen, hint, expected_kind="text")
        self._fail(step, f"text {expected!r}", seen.describe(self.timeout), hint)

    def expect_texts(
        self,
        names: Iterable[str],
        expected: Iterable[str],
        step: str,
        fix: str,
        hints: dict[str, str] | None = None,
    ) -> None:
        """Each of ``names`` receives exactly the texts ``expected``, in any order."""
        if self._skip(step):
            return
        wanted = Counter(expected)
        shown = " and ".join(map(repr, sorted(wanted))) + (
            " (any order)" if len(wanted) > 1 else ""
        )
        for name in names:
            got: list[str] = []
            for _ in range(wanted.total()):
                seen = self.receive(name)
                if seen.kind != "text":
                    what = f"{got!r}, then " if got else ""
                    hint = self._explain(seen, _pick(hints, got) or fix, expected_kind="text")
                    self._fail(
                        step, f"{name} receives {shown}", what + seen.describe(self.timeout), hint
                    )
                    return
                got.append(seen.data)
            if Counter(got) != wanted:
                self._fail(step, f"{name} receives {shown}", repr(got), _pick(hints, got) or fix)
                return
        self._pass(step)

    def expect_json(
        self, name: str, expected: Any, step: str, fix: str, *, binary: bool = False
    ) -> None:
        if self._skip(step):
            return
        seen = self.receive(name)
        frame = "bytes" if binary else "text"
        shown = json.dumps(expected, default=lambda _: "<any text>", ensure_ascii=False)
        wanted = f"JSON {shown} in a {'binary' if binary else 'text'} frame"
        if seen.kind != frame:
            hint = self._explain(seen, fix, expected_kind=frame)
            self._fail(step, wanted, seen.describe(self.timeout), hint)
            return
        try:
            value = json.loads(seen.data)
        except (ValueError, UnicodeDecodeError):
            self._fail(
                step,
                wanted,
                f"{seen.describe(self.timeout)}, which is not JSON",
                f"Answer with `await websocket.send_json(...)`, which writes JSON. {fix}",
            )
            return
        if not _json_matches(expected, value):
            self._fail(step, wanted, f"JSON {json.dumps(value, ensure_ascii=False)}", fix)
            return
        self._pass(step)

    def expect_close(
        self, name: str, code: int, step: str, fix: str, reason: Any = ANYTHING
    ) -> None:
        """``name`` is closed with ``code``; ``reason`` is a text, ANY_TEXT or ANYTHING."""
        if self._skip(step):
            return
        seen = self.receive(name)
        wanted = f"a close {code} ({describe_close_code(code).split(':')[0]})"
        if reason is ANY_TEXT:
            wanted += " with a reason"
        elif reason is not ANYTHING:
            wanted += f" with reason {reason!r}"
        if seen.kind == "close" and seen.code == code:
            if reason is ANYTHING or _json_matches(reason, seen.reason):
                self._pass(step)
            else:
                got = seen.describe(self.timeout) + ("" if seen.reason else " with no reason")
                self._fail(step, wanted, got, fix)
            return
        self._fail(step, wanted, seen.describe(self.timeout), self._explain(seen, fix))

    def vanish(self, name: str) -> None:
        """``name``'s network goes away: sends to it fail; its handler hears nothing yet."""
        if not self.failed:
            self.harness.gone(name)

    def lost(self, name: str) -> None:
        """The server notices that ``name`` vanished: its handler gets a 1006 disconnect."""
        client = self.clients.get(name)
        if self.failed or client is None or client.left:
            return
        self.harness.gone(name)
        client.session.send_message({"type": "websocket.disconnect", "code": 1006, "reason": ""})

    def leave(self, name: str, step: str, fix: str, code: int = 1000, reason: str = "") -> None:
        """``name`` closes with ``code``; the handler must end within the timeout, quietly."""
        if self._skip(step):
            return
        client = self.clients.pop(name, None)
        if client is None:
            self._pass(step)
            return
        failure = self._close(client, code, reason)
        errors, _ = self.capture.drain()
        if failure is not None:
            self._fail(step, "the handler ends", failure, fix)
        elif errors:
            error = errors[0]
            hint = self._leave_hint(error, fix)
            self._fail(step, "the handler ends quietly", _one_line(error), hint)
        else:
            self._pass(step)

    def _leave_hint(self, error: BaseException, fix: str) -> str:
        where = _where(error)
        if isinstance(error, BindingError | InvalidRouteError):
            return fix
        state = "The client has gone: the handler can neither send nor receive any more"
        if "Invalid" in type(error).__name__ and "state" in str(error):
            return f"{state}{where}. Stop (return) when WebSocketDisconnectError arrives. {fix}"
        return f"Your handler raised it{where}. {fix}"

    def _close(self, client: _Client, code: int, reason: str) -> str | None:
        self.harness.gone(client.name)
        try:
            client.session.close(code, reason)
        except TimeoutError:
            return (
                f"it was still running {self.timeout:g} s after {client.name} left (does it "
                "catch WebSocketDisconnectError and carry on?)"
            )
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        finally:
            client.left = True
        return None

    def leave_all(self) -> None:
        for client in list(self.clients.values()):
            if not client.left:
                self._close(client, 1000, "")
        self.clients.clear()
        self.capture.drain()


def _json_matches(expected: Any, got: Any) -> bool:
    if expected is ANY_TEXT:
        return isinstance(got, str) and bool(got.strip())
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(_json_matches(value, got[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(_json_matches(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    return expected == got


# --- 01 · creating routes ------------------------------------------------------------------
@_exercise(
    "greet",
    "01",
    "a route with a parameter",
    "/greet/{name}",
    """
Serve /greet/{name}: accept the connection and send the text "Hello, {name}!", with the name
from the path (/greet/Ada → "Hello, Ada!").
""",
)
def _greet(run: _Run) -> None:
    fix = (
        "Take the name from the route: `async def greet(websocket: WebSocket, name: str)`, "
        'then `await websocket.send_text(f"Hello, {name}!")`.'
    )
    for name in ("Ada", "Grace"):
        run.conversation()
        run.connect(
            "client",
            f"/greet/{name}",
            fix="Call `await websocket.accept()` first (the route is @ws('/greet/{name}')).",
        )
        run.expect_text("client", f"Hello, {name}!", f"client receives 'Hello, {name}!'", fix)
        run.leave(
            "client",
            "client leaves; the handler ends without an error",
            "Let the handler return, or stop when WebSocketDisconnectError arrives.",
        )


# --- 02 · accepting ------------------------------------------------------------------------
@_exercise(
    "chat-v1",
    "02",
    "choosing a subprotocol",
    "/chat",
    """
Serve /chat. When the client offers the subprotocol "chat.v1" (in any position), accept with
subprotocol="chat.v1". Otherwise accept without a subprotocol and close at once with code
4003 and a reason that says chat.v1 is required: a refused handshake would tell a browser
nothing, a close code and reason tell it why.
""",
)
def _chat_v1(run: _Run) -> None:
    accept_fix = (
        'Accept with `await websocket.accept(subprotocol="chat.v1")` when '
        '"chat.v1" is in websocket.subprotocols.'
    )
    for offered in (["chat.v1"], ["chat.v2", "chat.v1"]):
        run.conversation()
        run.connect(
            "client", "/chat", subprotocols=offered, expect_subprotocol="chat.v1", fix=accept_fix
        )
        run.leave("client", "client leaves; the handler ends without an error", "")
    close_fix = (
        "When chat.v1 is not offered, first `await websocket.accept()` (with no subprotocol), "
        'then `await websocket.close(4003, "chat.v1 required")`. A close before accept() '
        "refuses the handshake, and the client never sees your code or reason."
    )
    for offered in ([], ["chat.v2"]):
        run.conversation()
        run.connect("client", "/chat", subprotocols=offered, expect_subprotocol=None, fix=close_fix)
        run.expect_close(
            "client", 4003, "then closed with 4003 and a reason", close_fix, reason=ANY_TEXT
        )
        run.leave("client", "the handler ends without an error", "")


# --- 03 · communicating --------------------------------------------------------------------
@_exercise(
    "calculator",
    "03",
    "a JSON calculator",
    "/calc",
    """
Serve /calc. Each request is JSON such as {"op": "add", "a": 2, "b": 3}, with op one of add,
sub, mul, div; answer {"result": 5}. When the request cannot be computed (division by zero,
an unknown op) answer {"error": "<what went wrong>"} and keep the connection open. A request
sent as JSON in a binary frame (MessageMode.BYTES) gets its answer in a binary frame.
""",
)
def _calculator(run: _Run) -> None:
    arithmetic = (
        ("add", 2, 3, 5),
        ("sub", 1, 5, -4),
        ("mul", 4, 2.5, 10),
        ("div", 7, 2, 3.5),
    )
    fix = (
        "Read the request with `await websocket.receive_json()` and answer with "
        '`await websocket.send_json({"result": ...})`, in a `while True:` loop.'
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    for op, a, b, result in arithmetic:
        request = {"op": op, "a": a, "b": b}
        run.send("client", request, "json")
        run.expect_json(
            "client", {"result": result}, f"{_js(request)} → {_js({'result': result})}", fix
        )
    run.leave("client", "client leaves; the handler ends without an error", "")

    error_fix = (
        'Answer `{"error": "..."}` instead of raising: check `b == 0` and unknown ops (or '
        "catch the exception), then carry on with the next request."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    for request in ({"op": "div", "a": 1, "b": 0}, {"op": "pow", "a": 2, "b": 3}):
        run.send("client", request, "json")
        run.expect_json("client", {"error": ANY_TEXT}, f"{_js(request)} → an error", error_fix)
    request = {"op": "add", "a": 1, "b": 1}
    run.send("client", request, "json")
    run.expect_json(
        "client",
        {"result": 2},
        f"after the errors, {_js(request)} → {_js({'result': 2})}",
        error_fix,
    )
    run.leave("client", "client leaves; the handler ends without an error", "")

    binary_fix = (
        "Read with `message = await websocket.receive()`: a binary frame has "
        "message.get('bytes'). Parse it with json.loads and answer with "
        "`await websocket.send_json(answer, mode=MessageMode.BYTES)`."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    request = {"op": "mul", "a": 6, "b": 7}
    run.send("client", request, "json-bytes")
    run.expect_json(
        "client",
        {"result": 42},
        f"{_js(request)} in a binary frame → {_js({'result': 42})} in a binary frame",
        binary_fix,
        binary=True,
    )
    request = {"op": "add", "a": 1, "b": 2}
    run.send("client", request, "json")
    run.expect_json(
        "client", {"result": 3}, f"then {_js(request)} as text → a text answer", binary_fix
    )
    run.leave("client", "client leaves; the handler ends without an error", "")


def _pick(hints: dict[str, str] | None, texts: Iterable[Any]) -> str:
    """The hint for the first of ``texts`` that contains one of ``hints``' keys."""
    for text in texts:
        for key, hint in (hints or {}).items():
            if isinstance(text, str) and key in text:
                return hint
    return ""


def _js(value: Any) -> str:
    return json.dumps(value)


# --- 04 · disconnects ----------------------------------------------------------------------
@_exercise(
    "goodbye",
    "04",
    "ending conversations well",
    "/talk",
    """
Serve /talk: echo every text message. On the text "bye", close with code 4000 and the reason
"goodbye". On a binary frame, close with 1003 (Unsupported Data) instead of crashing. When
the client leaves (any close code, or a dropped connection), end quietly: no exception.
""",
)
def _goodbye(run: _Run) -> None:
    quiet = (
        "Wrap the loop in `try: ... except WebSocketDisconnectError: return`, and do not "
        "send or receive after the client has gone."
    )
    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    for text in ("hello", "still here"):
        run.send("client", text)
        run.expect_text(
            "client",
            text,
            f"'{text}' comes back",
            "Echo with `await websocket.send_text(await websocket.receive_text())` in a loop.",
        )
    run.send("client", "bye")
    run.expect_close(
        "client",
        4000,
        "'bye' → a close 4000 with reason 'goodbye'",
        'On "bye", `await websocket.close(4000, "goodbye")` (and then return).',
        reason="goodbye",
    )
    run.leave("client", "the handler ends without an error", quiet)

    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    run.send("client", b"\x00\x01", "bytes")
    run.expect_close(
        "client",
        1003,
        "a binary frame → a close 1003 (Unsupported Data)",
        "Read with `message = await websocket.receive()`; if message.get('text') is None it "
        "was binary: `await websocket.close(1003, ...)`.",
    )
    run.leave("client", "the handler ends without an error", quiet)

    for code, reason in ((1000, ""), (1001, "tab closed"), (4321, "custom")):
        run.conversation()
        run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
        run.send("client", "hi")
        run.expect_text("client", "hi", "'hi' comes back", "Echo every text message.")
        step = f"client closes with {code}" + (f" ({reason!r})" if reason else "")
        run.leave("client", f"{step}; the handler ends quietly", quiet, code, reason)

    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    run.lost("client")
    run.leave("client", "client's connection drops (1006); the handler ends quietly", quiet)


# --- 05 · chat -----------------------------------------------------------------------------
@_exercise(
    "rooms",
    "05",
    "a chat with rooms",
    "/room/{room}/{user}",
    """
Serve /room/{room}/{user}: a chat where each room is separate. When a user connects, everyone
in their room (them included) gets "<user> joined". A text from a user goes to everyone in
their room (them included) as "<user>: <text>". When a user leaves, or vanishes, the others
in the room get "<user> left", once. A member who vanishes in the middle of a broadcast must
not break the conversation for the others.
""",
)
def _rooms(run: _Run) -> None:
    join_fix = (
        "After accept(), add the websocket to `rooms[room]` and send "
        'f"{user} joined" to every member of that room, the newcomer included.'
    )
    relay_fix = 'Send f"{user}: {text}" to every member of the sender\'s room, sender included.'
    rooms_fix = (
        "Keep one dict of members per room (`rooms.setdefault(room, {})`) and broadcast "
        "to that room only."
    )
    left_fix = (
        "When a member's handler ends (WebSocketDisconnectError, in a `finally:`), remove them "
        'from the room and send f"{user} left" to the others, once.'
    )
    vanish_fix = (
        "Sending to a member who vanished raises WebSocketDisconnectError in the *sender's* "
        "handler: wrap each member's send_text in try/except, drop that member and carry on; "
        'then send f"{user} left" once, whichever notices first: the failed send or the '
        "member's own handler."
    )
    leak = {"alice": rooms_fix, "bob": rooms_fix, "carol": rooms_fix}
    run.conversation()
    run.connect("dave", "/room/b/dave", fix="Call `await websocket.accept()` first.")
    run.expect_text(
        "dave", "dave joined", "dave joins room b: dave receives 'dave joined'", join_fix
    )
    run.connect("alice", "/room/a/alice")
    run.expect_text(
        "alice", "alice joined", "alice joins room a: alice receives 'alice joined'", join_fix
    )
    if run.send("dave", "hello b"):
        run.expect_text(
            "dave",
            "dave: hello b",
            "dave says 'hello b': dave receives 'dave: hello b' (nothing from room a)",
            relay_fix,
            hints=leak,
        )
    run.connect("bob", "/room/a/bob")
    run.expect_texts(
        ["bob", "alice"],
        ["bob joined"],
        "bob joins room a: bob and alice receive 'bob joined' (nothing from room b)",
        join_fix,
        hints={"dave": rooms_fix},
    )
    if run.send("alice", "hi"):
        run.expect_texts(
            ["alice", "bob"],
            ["alice: hi"],
            "alice says 'hi': alice and bob receive 'alice: hi'",
            relay_fix,
        )
    run.connect("carol", "/room/a/carol")
    run.expect_texts(
        ["carol", "alice", "bob"],
        ["carol joined"],
        "carol joins room a: carol, alice and bob receive 'carol joined'",
        join_fix,
    )
    run.vanish("carol")
    if run.send("alice", "anyone?"):
        run.lost("carol")
        run.expect_texts(
            ["alice", "bob"],
            ["alice: anyone?", "carol left"],
            "carol vanishes as alice says 'anyone?': alice and bob receive 'alice: anyone?' "
            "and 'carol left'",
            vanish_fix,
        )
    run.leave("carol", "carol's handler ends quietly", left_fix)
    run.leave("alice", "alice leaves; her handler ends quietly", left_fix)
    run.expect_text(
        "bob",
        "alice left",
        "bob receives 'alice left'",
        left_fix,
        hints={
            "carol left": "'carol left' came twice: announce a departure only where the "
            "member is removed from the room, and only if they were still in it."
        },
    )
    run.leave("bob", "bob leaves; the handler ends quietly", left_fix)
    run.leave("dave", "dave leaves; the handler ends quietly", left_fix)


# Notebooks 06-08 keep their exercises in modules of their own; importing registers them.
from . import exercises_beyond, exercises_scaling  # noqa: E402, F401
