"""The app file ``pg.export`` writes: the imports and definitions the handlers need, each
name bound once, and the file they make (``AppFile``; export.py chooses the handlers).

Every line is built from recovered source and ``ast``/``repr``, never from text a client
sent: a route pattern with quotes or a line break stays a string literal.
"""

from __future__ import annotations

import ast
import importlib
import types
from typing import Any

from ...framework import Application, Router
from .export_blacksheep import BLACKSHEEP, for_blacksheep
from .literals import string_literal
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

MARKER = "exported by wsplay"  # in the file's first line: pg.export may overwrite such a file
_APP = object()  # what the file's own `app` stands for: no handler's global can be it


class AppFile:
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
