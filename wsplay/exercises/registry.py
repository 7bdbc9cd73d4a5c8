"""Every exercise, in the notebooks' order: registered by the module that scripts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import Run


@dataclass(frozen=True)
class Exercise:
    name: str
    notebook: str
    title: str
    pattern: str  # the route a handler function is registered on
    task: str
    script: Callable[[Run], None]


EXERCISES: dict[str, Exercise] = {}


def exercise(
    name: str, notebook: str, title: str, pattern: str, task: str
) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    """Registers the decorated script as exercise ``name`` (how each exercise module adds one)."""

    def register(script: Callable[[Run], None]) -> Callable[[Run], None]:
        EXERCISES[name] = Exercise(name, notebook, title, pattern, task.strip(), script)
        # Kept in the notebooks' order, whatever order the modules were imported in.
        ordered = sorted(EXERCISES.values(), key=lambda exercise: exercise.notebook)
        EXERCISES.clear()
        EXERCISES.update((exercise.name, exercise) for exercise in ordered)
        return script

    return register


def describe(exercise: str) -> str:
    """What ``exercise`` asks for, in words."""
    found = find_exercise(exercise)
    return f"{found.title} (notebook {found.notebook}), route {found.pattern}:\n{found.task}"


def find_exercise(exercise: str) -> Exercise:
    """The exercise named ``exercise``; a ValueError listing the known ones if none is."""
    try:
        return EXERCISES[exercise]
    except KeyError:
        known = ", ".join(repr(name) for name in EXERCISES)
        raise ValueError(f"There is no exercise {exercise!r}; the exercises are {known}.") from None
