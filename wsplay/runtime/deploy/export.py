"""Write the handlers of a notebook into an app file that runs without the notebook.

    pg.export("chat_app.py")                        # BlackSheep: from blacksheep import ...
    pg.export("chat_app.py", framework="wsplay")    # the same handlers on wsplay

The file holds the imports the handlers need, the top-level code they use (a dict of
members, a helper, a constant), their own source, and the ``Application`` with every route.
It is served by any ASGI server: ``uvicorn chat_app:app``. A handler whose code cannot be
recovered (made inside another function, typed in a closed session...) is left out and
named with the reason, so the file that is written always runs.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...framework import Application, Router
from ...framework.shown import shown_text
from .app_file import MARKER, AppFile
from .export_blacksheep import pattern_refusal
from .literals import name_part
from .sources import (
    Unrecoverable,
)

FRAMEWORKS = ("blacksheep", "wsplay")


class ExportError(ValueError):
    """Nothing could be exported; the message lists each handler and why."""


@dataclass
class ExportedApp:
    """What ``export`` wrote: the file, its routes, what was left out and why."""

    path: Path
    framework: str
    routes: list[tuple[str, str]]  # (pattern, the handler's name in the file)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (pattern, name, why)
    notes: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        return self.path.stem

    @property
    def command(self) -> str:
        """The shell command that serves the file on 127.0.0.1:8000."""
        where = self.path.parent
        app_dir = "" if where == Path.cwd() else f" --app-dir {_quote(str(where))}"
        return f"uvicorn {self.module}:app{app_dir} --host 127.0.0.1 --port 8000"

    def __str__(self) -> str:
        name = {"blacksheep": "BlackSheep", "wsplay": "wsplay"}[self.framework]
        count = len(self.routes)
        lines = [f"Wrote {self.path} ({name}) with {count} route{'s' * (count != 1)}:"]
        lines += [f"  {shown_text(pattern, 500)} → {handler}" for pattern, handler in self.routes]
        for pattern, handler, why in self.skipped:
            lines.append(
                f"Left out {shown_text(pattern, 500)} ({handler}): {shown_text(why, 2_000)}."
            )
        lines += [f"Note: {note}." for note in self.notes]
        lines += ["Serve it from a terminal with:", f"  {self.command}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def export_app(
    app: Any,
    path: str | Path,
    framework: str = "blacksheep",
    *,
    routes: list[str] | None = None,
    overwrite: bool = False,
) -> ExportedApp:
    """Write ``app``'s handlers (a wsplay ``Application`` or ``Router``) to ``path``.

    ``routes`` picks some of the route patterns (all by default). A file that ``export``
    did not write is not overwritten unless ``overwrite=True``.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(
            f"framework={framework!r} is not one wsplay can write: use 'blacksheep' or 'wsplay'."
        )
    router = app if isinstance(app, Router) else getattr(app, "router", None)
    if not isinstance(app, Application | Router) or not isinstance(router, Router):
        raise TypeError(
            f"Only a wsplay Application or Router can be exported, not {type(app).__name__}: "
            "export writes the handlers registered with @ws or add_ws."
        )
    target = _target(path, overwrite)
    chosen = _choose(router, routes)
    app_file = AppFile(framework)
    exported, skipped = [], []
    for route in chosen:
        pattern, handler = route.pattern.text, route.handler
        try:
            refused = pattern_refusal(pattern) if framework == "blacksheep" else ""
            if refused:
                raise Unrecoverable(refused)
            exported.append((pattern, app_file.add_handler(handler)))
        except Unrecoverable as why:
            skipped.append((pattern, getattr(handler, "__name__", repr(handler)), str(why)))
    if not exported:
        reasons = "; ".join(f"{pattern} ({name}): {why}" for pattern, name, why in skipped)
        raise ExportError(f"No handler could be exported, so {target} was not written: {reasons}.")
    needs = [item.module for item in app_file.imports.values()]
    check_module_name(target, needs, "{}_app.py")
    target.write_text(app_file.render(exported, framework, target.stem), encoding="utf-8")
    return ExportedApp(target, framework, exported, skipped, app_file.notes)


def _target(path: str | Path, overwrite: bool) -> Path:
    target = Path(path).expanduser().resolve()
    if target.suffix != ".py":
        raise ValueError(f"An app file ends in .py (e.g. chat_app.py), got {str(path)!r}.")
    if not overwrite:
        refuse_overwrite(target, MARKER, "pg.export", "pass overwrite=True to replace it")
    return target


def refuse_overwrite(target: Path, marker: str, writer: str, fix: str) -> None:
    """Refuse to replace ``target`` unless ``writer`` wrote it (``marker`` in its head): any
    other file may be the learner's own work, or their app."""
    if not target.exists():
        return
    head = target.read_text(encoding="utf-8", errors="replace")[:200]
    if marker not in head:
        raise FileExistsError(
            f"{target} exists and was not written by {writer}, so it is left alone. "
            f"Choose another file name, or {fix}."
        )


def _choose(router: Router, patterns: list[str] | None) -> list[Any]:
    available = list(router)
    if not available:
        raise ExportError(
            "There are no handlers to export yet: define one with @ws(...) above an "
            "async def, then export."
        )
    if patterns is None:
        return available
    by_pattern = {route.pattern.text: route for route in available}
    missing = [pattern for pattern in patterns if pattern not in by_pattern]
    if missing:
        raise ValueError(
            f"No route {', '.join(map(repr, missing))} to export; the routes are "
            f"{', '.join(by_pattern)}."
        )
    return [by_pattern[pattern] for pattern in patterns]


def check_module_name(target: Path, needs: Iterable[str], example: str) -> None:
    """Refuse a file name Python cannot import, or one that would hide a module the file
    ``needs`` (or the standard library's, or wsplay's): the file would import itself."""
    stem = target.stem
    if not stem.isidentifier() or keyword.iskeyword(stem):
        suggestion = name_part(stem) or "app"
        raise ValueError(
            f"Python imports the file as a module, so its name must be a Python name: "
            f"{target.name} is not. Call it e.g. {example.format(suggestion)}."
        )
    shadowed = {module.split(".")[0] for module in needs}
    shadowed |= {"uvicorn", "wsplay", "blacksheep", "pytest"}
    if stem in shadowed or stem in sys.stdlib_module_names:
        raise ValueError(
            f"A file named {target.name} would hide the module {stem!r} that it needs "
            f"(Python would import the file instead). Call it e.g. {example.format(stem)}."
        )


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./-]+", text) else "'" + text.replace("'", "'\\''") + "'"
