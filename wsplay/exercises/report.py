"""What ``check`` reports: one line per step, with what to fix."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, SKIP = "pass", "fail", "skip"
_MARKS = {PASS: "✓", FAIL: "✗", SKIP: "–"}


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
    framework: str = "wsplay"  # what the handler was written for, and served on
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.status == PASS for step in self.steps)

    @property
    def failures(self) -> list[StepResult]:
        return [step for step in self.steps if step.status == FAIL]

    def _headline(self) -> str:
        done = sum(step.status == PASS for step in self.steps)
        on = "" if self.framework == "wsplay" else f", on {self.framework}"
        if self.passed:
            return f"Exercise {self.exercise!r} ({self.title}{on}): passed, {done}/{done} steps ✓"
        skipped = sum(step.status == SKIP for step in self.steps)
        not_run = f" ({skipped} not run after a ✗)" if skipped else ""
        return (
            f"Exercise {self.exercise!r} ({self.title}{on}): {done} of "
            f"{len(self.steps)} steps passed{not_run}. "
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
