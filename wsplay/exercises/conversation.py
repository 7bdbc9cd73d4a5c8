"""A small language for scripted conversations: connect, send, expect, leave; each step
into the report, with the hint that fits what the handler did."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from ..framework import (
    HandshakeRejectedError,
    InvalidRouteError,
    MessageMode,
    WebSocketClosedError,
    describe_close_code,
)
from ..framework.exceptions import BindingError
from ..testing import TestClient
from .harness import DROPPED, NORMAL, PEER_HEADER, Capture, Harness
from .registry import Exercise
from .report import FAIL, PASS, SKIP, Report, StepResult
from .seen import (
    ANY_TEXT,
    ANYTHING,
    Seen,
    hint_for,
    json_matches,
    one_line,
    pick_hint,
    shorten,
    where_raised,
    wrong_values_hint,
)


class _Words(TypedDict, total=False):
    """What a step of ``joins`` or ``says`` adds to its plain words, or changes."""

    where: str  # after the action: "carol joins room a on worker 1: ..."
    note: str  # at the end: "... receive 'bob joined' (nothing from room b)"
    hints: dict[str, str]  # a text that may come instead -> what that mistake means
    relayed: str  # says: how the text is passed on, e.g. "{name}: {text}"; "{text}" if unset
    connect_fix: str  # joins: the fix should the connection be refused


@dataclass
class _Client:
    """One scripted client: its name, path and blocking test session."""

    name: str
    path: str
    session: Any
    left: bool = False


@dataclass(eq=False)
class Run:
    """Drives the conversations of one check and writes their steps into the report.

    After a failed step, the rest of that conversation is listed as not run: the handler's
    state is unknown, and one mistake should read as one ✗.
    """

    exercise: Exercise
    client: TestClient
    harness: Harness
    capture: Capture
    report: Report
    timeout: float
    clients: dict[str, _Client] = field(default_factory=dict)
    failed: bool = False

    # --- bookkeeping ---------------------------------------------------------------------
    def conversation(self) -> Run:
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

    def _explain(self, seen: Seen, fix: str, *, expected_kind: str = "") -> str:
        """The hint for an unexpected ``seen``: what the handler did, then what to change."""
        errors, warnings = self.capture.drain()
        return hint_for(seen, fix, errors, warnings, self.exercise.pattern, expected_kind)

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
    ) -> Seen:
        try:
            session = self._session(path, {PEER_HEADER: name, **(headers or {})}, subprotocols)
        except HandshakeRejectedError as refused:
            return Seen("refused", code=refused.status_code)
        except TimeoutError:
            return Seen("timeout")
        except Exception as error:
            return Seen("failure", error)
        self.clients[name] = _Client(name, path, session)
        return Seen("accepted", session.subprotocol)

    def _session(self, path: str, headers: dict[str, str], subprotocols: list[str]) -> Any:
        """A blocking session with the app under test (in process here; real workers in the
        exercise of notebook 08)."""
        return self.client.open(path, headers, subprotocols)

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
            self._fail(f"{name} sends {shorten(data)}", "the message sent", repr(error), "")
            return False
        return True

    def receive(self, name: str) -> Seen:
        client = self.clients[name]
        try:
            data = client.session.receive()
        except WebSocketClosedError as closed:
            client.left = True
            return Seen("close", code=closed.code, reason=closed.reason)
        except TimeoutError:
            return Seen("timeout")
        except Exception as error:
            return Seen("failure", error)
        return Seen("text", data) if isinstance(data, str) else Seen("bytes", data)

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
        hint = pick_hint(hints, [seen.data] if seen.kind == "text" else []) or fix
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
                    hint = self._explain(seen, pick_hint(hints, got) or fix, expected_kind="text")
                    self._fail(
                        step, f"{name} receives {shown}", what + seen.describe(self.timeout), hint
                    )
                    return
                got.append(seen.data)
            if Counter(got) != wanted:
                self._fail(
                    step, f"{name} receives {shown}", repr(got), pick_hint(hints, got) or fix
                )
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
        if not json_matches(expected, value):
            got = f"JSON {json.dumps(value, ensure_ascii=False)}"
            self._fail(step, wanted, got, wrong_values_hint(expected, value) or fix)
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
            if reason is ANYTHING or json_matches(reason, seen.reason):
                self._pass(step)
            else:
                got = seen.describe(self.timeout) + ("" if seen.reason else " with no reason")
                self._fail(step, wanted, got, fix)
            return
        self._fail(step, wanted, seen.describe(self.timeout), self._explain(seen, fix))

    # --- steps whose words come from what they do: each script says what it checks once ----
    def joins(
        self, name: str, room: str, receivers: list[str], fix: str, **words: Unpack[_Words]
    ) -> None:
        """``name`` connects to the exercise's route for ``room``; each of ``receivers`` then
        gets "<name> joined": the step "NAME joins room R: RECEIVERS receive 'NAME joined'"."""
        path = self.exercise.pattern.format(room=room, user=name)
        self.connect(name, path, fix=words.get("connect_fix", ""))
        self._hear(receivers, f"{name} joined", f"{name} joins room {room}", fix, words)

    def says(
        self, name: str, text: str, receivers: list[str], fix: str, **words: Unpack[_Words]
    ) -> None:
        """``name`` sends ``text``; each of ``receivers`` gets it, passed on as ``relayed``
        says: "NAME says 'TEXT': RECEIVERS receive 'RELAYED'" ("receive it" if unchanged)."""
        if self.send(name, text):
            heard = words.get("relayed", "{text}").format(name=name, text=text)
            self._hear(receivers, heard, f"{name} says {text!r}", fix, words, text)

    def asks(
        self,
        name: str,
        request: Any,
        answer: Any,
        fix: str,
        step: str = "{request} → {answer}",
        *,
        binary: bool = False,
    ) -> None:
        """``name`` sends ``request`` as JSON and receives ``answer`` as JSON, both in binary
        frames if ``binary``; ``step`` words it from their JSON texts."""
        self.send(name, request, "json-bytes" if binary else "json")
        shown = {"request": json.dumps(request), "answer": json.dumps(answer, default=repr)}
        self.expect_json(name, answer, step.format(**shown), fix, binary=binary)

    def _hear(
        self, receivers: list[str], heard: str, action: str, fix: str, words: _Words, sent: str = ""
    ) -> None:
        shown = "it" if heard == sent else repr(heard)
        where, note = words.get("where", ""), words.get("note", "")
        step = f"{action}{where}: {_receive(receivers)} {shown}{note}"
        if len(receivers) == 1:
            self.expect_text(receivers[0], heard, step, fix, words.get("hints"))
        else:
            self.expect_texts(receivers, [heard], step, fix, words.get("hints"))

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
        client.session.send_message({"type": "websocket.disconnect", "code": DROPPED, "reason": ""})

    def leave(self, name: str, step: str, fix: str, code: int = NORMAL, reason: str = "") -> None:
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
            self._fail(step, "the handler ends quietly", one_line(error), hint)
        else:
            self._pass(step)

    def _leave_hint(self, error: BaseException, fix: str) -> str:
        where = where_raised(error)
        if isinstance(error, BindingError | InvalidRouteError):
            return fix
        state = "The client has gone: the handler can neither send nor receive any more"
        if _used_after_leaving(error):
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
                self._close(client, NORMAL, "")
        self.clients.clear()
        self.capture.drain()


def _used_after_leaving(error: BaseException) -> bool:
    """wsplay's InvalidWebSocketStateError, or Starlette's 'Cannot call "receive" once a
    disconnect message has been received'."""
    text = str(error)
    return ("Invalid" in type(error).__name__ and "state" in text) or (
        isinstance(error, RuntimeError) and text.startswith("Cannot call")
    )


def _receive(names: list[str]) -> str:
    """'dave receives', 'bob and alice receive', 'carol, alice and bob receive'."""
    if len(names) == 1:
        return f"{names[0]} receives"
    return f"{', '.join(names[:-1])} and {names[-1]} receive"
