"""Every exercise, in the notebooks' order: registered by the module that scripts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import _Run


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
        # Kept in the notebooks' order, whatever order the modules were imported in.
        ordered = sorted(EXERCISES.values(), key=lambda exercise: exercise.notebook)
        EXERCISES.clear()
        EXERCISES.update((exercise.name, exercise) for exercise in ordered)
        return script

    return register


def describe(exercise: str) -> str:
    """What ``exercise`` asks for, in words."""
    found = _find(exercise)
    return f"{found.title} (notebook {found.notebook}), route {found.pattern}:\n{found.task}"


def _find(exercise: str) -> Exercise:
    try:
        return EXERCISES[exercise]
    except KeyError:
        known = ", ".join(repr(name) for name in EXERCISES)
        raise ValueError(f"There is no exercise {exercise!r}; the exercises are {known}.") from None
