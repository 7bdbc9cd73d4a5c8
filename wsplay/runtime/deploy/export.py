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

import ast
import importlib
import keyword
import re
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...framework import Application, Router
from ...framework.shown import shown_text
from .export_blacksheep import BLACKSHEEP, for_blacksheep, pattern_refusal
from .literals import name_part, string_literal
from .sources import (
    Definition,
    Import,
    Source,
    Unrecoverable,
    check_names,
    function_definition,
    import_for,
    is_builtin,
    renamed_function,
    render_imports,
    source_of,
    statement_definition,
)

FRAMEWORKS = ("blacksheep", "wsplay")
MARKER = "exported by wsplay"  # in the file's first line: pg.export may overwrite such a file
_APP = object()  # what the file's own `app` stands for: no handler's global can be it


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
    collector = _Collector(framework)
    exported, skipped = [], []
    for route in chosen:
        pattern, handler = route.pattern.text, route.handler
        try:
            refused = pattern_refusal(pattern) if framework == "blacksheep" else ""
            if refused:
                raise Unrecoverable(refused)
            exported.append((pattern, collector.add_handler(handler)))
        except Unrecoverable as why:
            skipped.append((pattern, getattr(handler, "__name__", repr(handler)), str(why)))
    if not exported:
        reasons = "; ".join(f"{pattern} ({name}): {why}" for pattern, name, why in skipped)
        raise ExportError(f"No handler could be exported, so {target} was not written: {reasons}.")
    needs = [item.module for item in collector.imports.values()]
    check_module_name(target, needs, "{}_app.py")
    target.write_text(collector.render(exported, framework, target.stem), encoding="utf-8")
    return ExportedApp(target, framework, exported, skipped, collector.notes)


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


class _Collector:
    """The imports and definitions the exported handlers need, each name bound once."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.imports: dict[str, Import] = {}
        self.definitions: dict[str, Definition] = {}
        self.values: dict[str, Any] = {}  # name in the file -> the object it stands for
        self.notes: list[str] = []
        self._sources: dict[int, Source] = {}
        wsplay = importlib.import_module("wsplay")
        self._public = {id(getattr(wsplay, name)): name for name in wsplay.__all__}
        # The file's last lines use these three names.
        self.values.update(app=_APP, Application=Application, Router=Router)
        package = "wsplay" if framework == "wsplay" else "blacksheep"
        for name in ("Application", "Router"):
            self.imports[name] = Import(package, name, name)

    def add_handler(self, handler: Any) -> str:
        """Trace ``handler`` and all it needs; nothing is kept if any of it is missing."""
        if not isinstance(handler, types.FunctionType):
            raise Unrecoverable(
                f"it is a {type(handler).__name__}, not a function defined with async def"
            )
        saved = (dict(self.imports), dict(self.definitions), dict(self.values), list(self.notes))
        try:
            namespace = handler.__globals__
            definition = function_definition(handler, self._source(namespace))
            name = self._free_name(definition.names[0], handler)
            if name != definition.names[0]:
                definition.text = renamed_function(definition.text, name)
                definition.names = (name,)
            self._bind(name, handler, definition)
            self._trace(definition.uses, namespace)
        except Unrecoverable:
            self.imports, self.definitions, self.values, self.notes = saved
            raise
        return name

    def _source(self, namespace: dict[str, Any]) -> Source:
        key = id(namespace)
        if key not in self._sources:
            self._sources[key] = source_of(namespace)
        return self._sources[key]

    def _free_name(self, name: str, value: Any) -> str:
        candidate, number = name, 1
        while candidate in self.values and self.values[candidate] is not value:
            number += 1
            candidate = f"{name}_{number}"
        return candidate

    def _bind(self, name: str, value: Any, item: Definition | Import) -> None:
        check_names(item)
        if isinstance(item, Definition) and self.framework == "blacksheep":
            self._for_blacksheep(item)
        self.values[name] = value
        if isinstance(item, Import):
            self.imports[name] = item
        else:
            self.definitions[name] = item

    def _for_blacksheep(self, definition: Definition) -> None:
        """Rewrite what BlackSheep lacks (export_blacksheep), and define the helpers."""
        rewritten = for_blacksheep(definition)
        definition.text = rewritten.text
        for helper in rewritten.helpers:
            if self.values.get(helper.name, helper) is not helper:
                raise Unrecoverable(
                    f"the file needs the name {helper.name} for BlackSheep, and the notebook "
                    "uses it for something else; rename yours"
                )
            if helper.name not in self.values:
                self.values[helper.name] = helper
                place = (-1, len(self.definitions))  # before the notebook's code
                self.definitions[helper.name] = Definition((helper.name,), helper.source, place)
                self._note(helper.note)

    def _trace(self, names: set[str], namespace: dict[str, Any]) -> None:
        pending = sorted(names)
        while pending:
            name = pending.pop()
            if name not in namespace:
                if not is_builtin(name) and name not in self.values:
                    self._note(f"{name} is used but not defined anywhere (a NameError when run)")
                continue
            value = namespace[name]
            if name in self.values:
                if self.values[name] is not value:
                    raise Unrecoverable(
                        f"it uses {name}, a name that the exported file already gives to "
                        + ("the application" if name == "app" else "something else")
                        + "; rename it in the notebook"
                    )
                continue
            item, home = self._resolve(name, value, namespace)
            self._bind(name, value, item)
            if isinstance(item, Definition):
                for other in item.names:  # a statement like `a, b = ...` binds several
                    self.values.setdefault(other, namespace.get(other))
                    self.definitions.setdefault(other, item)
                if home is namespace:
                    pending.extend(sorted(item.uses - set(self.values)))
                else:
                    self._trace(item.uses, home)  # a function of another module's code

    def _resolve(
        self, name: str, value: Any, namespace: dict[str, Any]
    ) -> tuple[Definition | Import, dict[str, Any]]:
        """What gives ``name`` its value in the file, and where its own names are found."""
        source = self._source(namespace)
        public = self._public.get(id(value))
        if public is not None:
            return self._framework_import(public, name), namespace
        if isinstance(value, types.ModuleType):
            if value.__name__.split(".")[0] == "wsplay" and self.framework == "blacksheep":
                self._note(
                    f"the handlers use the module {value.__name__} itself, so the file "
                    "imports wsplay; import what they use from blacksheep to drop it"
                )
            return import_for(name, value, source), namespace
        function = isinstance(value, types.FunctionType)
        if function and value.__globals__ is namespace:
            return function_definition(value, source), namespace
        found = import_for(name, value, source)
        if found is not None:
            return found, namespace
        if function:  # from a module that cannot be imported: its code comes along
            if value.__name__ != name:
                raise Unrecoverable(f"it uses {value.__name__} under another name, {name}")
            home = value.__globals__
            return function_definition(value, self._source(home)), home
        return statement_definition(name, value, source), namespace

    def _framework_import(self, public: str, name: str) -> Import:
        if self.framework == "wsplay":
            return Import("wsplay", public, name)
        module = BLACKSHEEP.get(public)
        if module is None:
            self._note(
                f"{public} is wsplay's own (BlackSheep has no such name), so the file "
                "imports it from wsplay"
            )
            return Import("wsplay", public, name)
        return Import(module, public, name)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # --- the file ------------------------------------------------------------------------
    def render(self, routes: list[tuple[str, str]], framework: str, module: str) -> str:
        names = {"blacksheep": "BlackSheep", "wsplay": "wsplay"}
        docstring = "\n".join(
            [
                f"A WebSocket app {MARKER} (pg.export) from a notebook, for {names[framework]}.",
                "",
                "Serve it:",
                f"    uvicorn {module}:app --host 127.0.0.1 --port 8000",
                "",
                "Routes:",
                *(f"    {_shown(pattern)}  ->  {handler}" for pattern, handler in routes),
                "",
            ]
        )
        # Built by ast, not pasted: a pattern with quotes or a newline stays text.
        header = [ast.unparse(ast.Module([ast.Expr(ast.Constant(docstring))], []))]
        blocks = [render_imports(self.imports.values())]
        blocks += [definition.text.strip("\n") for definition in self._ordered()]
        blocks.append(
            "\n".join(
                [
                    "app = Application(router=Router())",
                    *(
                        f"app.router.add_ws({string_literal(pattern)}, {name})"
                        for pattern, name in routes
                    ),
                ]
            )
        )
        blocks.append(
            'if __name__ == "__main__":\n'
            "    import uvicorn\n\n"
            '    uvicorn.run(app, host="127.0.0.1", port=8000)'
        )
        text = "\n".join(header)
        previous = ""
        for block in blocks:
            spacious = _is_definition(block) or _is_definition(previous)
            text += ("\n\n\n" if spacious else "\n\n") + block
            previous = block
        return text.lstrip("\n") + "\n"

    def _ordered(self) -> list[Definition]:
        """Definitions in the order they were written, each after what it needs to run."""
        unique = {id(item): item for item in self.definitions.values()}
        ordered, done = [], set()

        def visit(item: Definition, path: tuple[int, ...]) -> None:
            if id(item) in done or id(item) in path:
                return
            for name in sorted(item.needs):
                other = self.definitions.get(name)
                if other is not None:
                    visit(other, (*path, id(item)))
            done.add(id(item))
            ordered.append(item)

        for item in sorted(unique.values(), key=lambda item: item.position):
            visit(item, ())
        return ordered


def _is_definition(block: str) -> bool:
    return block.startswith(("def ", "async def ", "class ", "@"))


def _shown(pattern: str) -> str:
    """A pattern as the docstring lists it: as typed, or as a literal if it has a line
    break or another character that does not print."""
    return pattern if pattern.isprintable() else repr(pattern)
