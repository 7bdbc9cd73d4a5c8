"""What a scripted client saw (a frame, a close, a refusal, silence, a failure), in words."""

from __future__ import annotations

import json
import math
import os
import sysconfig
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..framework import CloseCode, describe_close_code
from ..framework.exceptions import BindingError
from ..framework.routing import compile_pattern
from ..testing import HandlerInterrupted
from .harness import ParametersNotFilled

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # wsplay/
# Not the learner's code either: wsplay's, and the installed frameworks' (Starlette's...).
_NOT_THEIRS = tuple(
    {_PACKAGE_DIR, *(os.path.abspath(sysconfig.get_paths()[key]) for key in ("purelib", "platlib"))}
)


@dataclass
class Seen:
    """One thing a scripted client saw: a frame, a close, a refusal, silence or a failure."""

    kind: str  # "text", "bytes", "close", "refused", "accepted", "timeout", "failure"
    data: Any = None
    code: int | None = None
    reason: str = ""

    def describe(self, timeout: float) -> str:
        if self.kind == "text":
            return f"text {shorten(self.data)}"
        if self.kind == "bytes":
            return f"a binary frame {shorten(self.data)}"
        if self.kind == "close":
            meaning = describe_close_code(self.code).split(":")[0]
            reason = f" with reason {shorten(self.reason)}" if self.reason else ""
            return f"a close {self.code} ({meaning}){reason}"
        if self.kind == "refused":
            return f"the handshake refused (HTTP {self.code})"
        if self.kind == "accepted":
            protocol = f"with subprotocol {self.data!r}" if self.data else "with no subprotocol"
            return f"the connection accepted {protocol}"
        if self.kind == "timeout":
            return f"nothing within {timeout:g} s"
        return f"{type(self.data).__name__}: {self.data}"


def shorten(value: Any, size: int = 80) -> str:
    """``value``'s repr, cut to ``size`` characters: a report line stays one line."""
    text = repr(value)
    return text if len(text) <= size else text[: size - 3] + "..."


class _Marker:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


ANYTHING = _Marker("<anything>")  # no expectation
ANY_TEXT = _Marker("<any text>")  # any non-blank string


def where_raised(error: BaseException) -> str:
    """'line 7 in calc(): return a / b' for the learner's own frame of a traceback."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not os.path.abspath(frame.filename).startswith(_NOT_THEIRS)
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
    if isinstance(error, ParametersNotFilled):
        return f"{error}."  # FastAPI refused: the handler never ran
    return f"Your handler raised {one_line(error)}{where_raised(error)}."


def one_line(error: BaseException) -> str:
    """'ValueError: its message', on one line, for a report step."""
    text = " ".join(line.strip() for line in str(error).splitlines()).rstrip(".")
    return f"{type(error).__name__}: {text}"


def json_matches(expected: Any, got: Any) -> bool:
    """Whether ``got`` is ``expected`` as JSON compares (floats closely, ANY_TEXT any text)."""
    if expected is ANY_TEXT:
        return isinstance(got, str) and bool(got.strip())
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(json_matches(value, got[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(json_matches(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    return expected == got


def pick_hint(hints: dict[str, str] | None, texts: Iterable[Any]) -> str:
    """The hint for the first of ``texts`` that contains one of ``hints``' keys."""
    for text in texts:
        for key, hint in (hints or {}).items():
            if isinstance(text, str) and key in text:
                return hint
    return ""


def hint_for(
    seen: Seen,
    fix: str,
    errors: list[BaseException],
    warnings: list[str],
    pattern: str,
    expected_kind: str = "",
) -> str:
    """The hint for an unexpected ``seen``, from what the handler did (``errors`` it raised,
    ``warnings`` it logged), then ``fix``: a learner reads first what went wrong."""
    crash = _crash_text(errors)
    first = errors[0] if errors else None
    if isinstance(first, BindingError) and first.fix:  # it knows the fix: the rename
        return f"{first.fix} Your handler raised BindingError: {first.args[0]}"
    if errors and isinstance(errors[0], BindingError | ParametersNotFilled):
        names = ", ".join(f"`{name}`" for name in compile_pattern(pattern).parameters)
        return (
            f"{crash} The route {pattern} passes its values to the "
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
    if seen.kind == "close" and seen.code == CloseCode.NORMAL_CLOSURE:
        return f"Your handler returned (wsplay then closes with 1000) before sending this. {fix}"
    if seen.kind == "close" and seen.code == CloseCode.ABNORMAL_CLOSURE:
        return (
            "Your handler stopped without closing the connection, e.g. a "
            f"WebSocketDisconnectError about another client ended it. {fix}"
        )
    if seen.kind in ("text", "bytes") and expected_kind and seen.kind != expected_kind:
        frame = {"text": "a text frame", "bytes": "a binary frame"}
        return f"This needs {frame[expected_kind]}, not {frame[seen.kind]}. {fix}"
    return fix


def wrong_values_hint(expected: Any, value: Any) -> str:
    """The hint for an answer of the right shape with other values: the handler reads and
    answers already, so the general fix (how to read and answer) would send the learner
    back to code that works; say which value is off instead."""
    if not isinstance(expected, dict) or not isinstance(value, dict):
        return ""
    if expected.keys() != value.keys():
        return ""
    wrong = [key for key in expected if not json_matches(expected[key], value[key])]
    if not wrong:
        return ""
    shown = ", ".join(
        f"`{key}` should be {json.dumps(expected[key])}, not {json.dumps(value[key])}"
        for key in wrong
    )
    keys = " and ".join(f"`{key}`" for key in wrong)
    return (
        f"Check how the handler computes {keys} from the request: the answer has the right "
        f"keys, but {shown}."
    )
