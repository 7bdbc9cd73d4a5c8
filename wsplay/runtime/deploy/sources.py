"""Recover the code behind a handler: its own source and the top-level code it needs
(and write the import lines that bring the rest).

A handler defined in a notebook cell leans on other cells: a dict of members, a helper,
an import. To write it into a file that runs on its own, each global name the handler
uses is traced back to what defined it:

- a module, or an object with an importable home (``from collections import deque``), is
  an import line;
- a function of the same namespace is its own source (``inspect.getsource``), and its
  globals are traced in turn;
- anything else (``members = {}``, a class made in a cell) is the latest top-level
  statement that bound the name, in the cells run so far (IPython keeps every cell's code)
  or in the module's file.

What cannot be recovered is said in words (``Unrecoverable``), never guessed.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import inspect
import linecache
import re
import sys
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .literals import is_dotted_name, is_name

BINDING_STATEMENTS = (
    ast.Assign,
    ast.AnnAssign,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)
# Objects of these packages live only in the notebook's process (a playground, a panel).
PROCESS_BOUND = ("wsplay.runtime", "wsplay.ui", "ipywidgets", "IPython", "ipykernel")


class Unrecoverable(Exception):
    """The code behind a name cannot be written to a file; the message says why."""


@dataclass(frozen=True)
class Import:
    """``import module as name`` (attribute None) or ``from module import attribute as name``."""

    module: str
    attribute: str | None
    name: str


@dataclass
class Definition:
    """Top-level code that binds ``names``: a statement, a function or a class."""

    names: tuple[str, ...]
    text: str
    position: tuple[int, int]  # (which source, line): the order it was written in
    needs: set[str] = field(default_factory=set)  # names it needs when it runs, at top level
    uses: set[str] = field(default_factory=set)  # every global name it refers to


@dataclass
class Source:
    """The code a namespace was made from: notebook cells in the order they ran, or a file."""

    texts: list[tuple[str, str]]  # (file name, text)
    _trees: list[tuple[str, ast.Module]] | None = field(default=None, repr=False)

    def rank(self, filename: str) -> int:
        for index, (name, _) in enumerate(self.texts):
            if name == filename:
                return index
        return len(self.texts)

    def latest_binding(self, name: str) -> tuple[ast.stmt, str, int] | None:
        """The last top-level statement that binds ``name``, its text and its source's rank."""
        found = None
        for rank, (text, tree) in enumerate(self._parsed()):
            for statement in tree.body:
                if isinstance(statement, BINDING_STATEMENTS) and name in bound_names(statement):
                    found = (statement, text, rank)
        return found

    def _parsed(self) -> list[tuple[str, ast.Module]]:
        if self._trees is None:
            self._trees = []
            for _, text in self.texts:
                try:
                    self._trees.append((text, ast.parse(text)))
                except SyntaxError:
                    self._trees.append((text, ast.Module(body=[], type_ignores=[])))
        return self._trees


def source_of(namespace: dict[str, Any]) -> Source:
    """Where ``namespace``'s top-level code can be read: IPython's cells, or the file."""
    shell = _ipython()
    if shell is not None and getattr(shell, "user_ns", None) is namespace:
        return Source(_cells(shell))
    filename = namespace.get("__file__")
    if filename:
        lines = linecache.getlines(filename, namespace)
        if lines:
            return Source([(filename, "".join(lines))])
    return Source([])


def _ipython() -> Any:
    module = sys.modules.get("IPython")  # only if it is already there: no Jupyter import
    return module.get_ipython() if module is not None else None


def _cells(shell: Any) -> list[tuple[str, str]]:
    """Every cell the kernel ran, oldest first (a cell run again counts when it last ran)."""
    numbered = getattr(shell.compile, "_filename_map", None)
    if numbered:
        ordered = sorted(numbered.items(), key=lambda item: item[1])  # stable: ties keep order
        return [(name, "".join(linecache.getlines(name))) for name, _ in ordered]
    history = shell.history_manager.input_hist_parsed
    return [(f"<cell {index}>", text) for index, text in enumerate(history)]


def bound_names(statement: ast.stmt) -> set[str]:
    """The top-level names a binding statement defines."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return {
        node.id
        for target in targets
        for node in ast.walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def names_in(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


_GLOBAL_ACCESS = {"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME"}


def global_names(code: types.CodeType) -> set[str]:
    """The global (or builtin) names a function's code reads or writes, nested code
    included: read from the bytecode, so a local or an attribute of the same name is not
    mistaken for one."""
    names = {
        instruction.argval
        for instruction in dis.get_instructions(code)
        if instruction.opname in _GLOBAL_ACCESS
    }
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= global_names(constant)
    return names


# --- a function --------------------------------------------------------------------------
def function_definition(function: types.FunctionType, source: Source) -> Definition:
    """A function's own source, without route decorators (the app file registers the
    routes itself), and the global names it needs and uses."""
    name = function.__name__
    if "<locals>" in function.__qualname__ or function.__code__.co_freevars:
        free = ", ".join(function.__code__.co_freevars) or "its enclosing function's names"
        raise Unrecoverable(
            f"{name} was made inside another function and uses {free} from there; "
            "define it at the top level of a cell"
        )
    try:
        text = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as error:
        raise Unrecoverable(f"the source of {name} is not available ({error})") from None
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise Unrecoverable(f"the source of {name} does not parse ({error.msg})") from None
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        raise Unrecoverable(f"the source found for {name} is not a function definition")
    name = node.name  # the name the source defines (``__name__`` can be set to anything)
    lines = text.splitlines(keepends=True)
    kept_decorators = []
    for decorator in node.decorator_list:
        if _is_route_decorator(decorator):
            for index in range(decorator.lineno - 1, decorator.end_lineno):
                lines[index] = ""
        else:
            kept_decorators.append(decorator)
    at_definition: set[str] = set()
    arguments = node.args
    for part in [
        *kept_decorators,
        *arguments.defaults,
        *(default for default in arguments.kw_defaults if default is not None),
        *(
            argument.annotation
            for argument in [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *filter(None, [arguments.vararg, arguments.kwarg]),
            ]
            if argument.annotation is not None
        ),
        *([node.returns] if node.returns is not None else []),
    ]:
        at_definition |= names_in(part)
    code = function.__code__
    in_body = global_names(code)
    return Definition(
        (name,),
        "".join(lines).strip("\n") + "\n",
        (source.rank(code.co_filename), code.co_firstlineno),
        needs=at_definition,
        uses=at_definition | in_body,
    )


def renamed_function(text: str, name: str) -> str:
    """``text``, one function's source, defining it as ``name`` (a name the export made):
    changed on the line ast gives for the ``def``, and nowhere else."""
    node = ast.parse(text).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and is_name(name)
    lines = text.splitlines(keepends=True)
    where = node.lineno - 1
    pattern = rf"\b(def\s+){re.escape(node.name)}\b"
    lines[where] = re.sub(pattern, rf"\g<1>{name}", lines[where], count=1)
    return "".join(lines)


def _is_route_decorator(decorator: ast.expr) -> bool:
    """``@ws("/x")``, ``@router.ws("/x")``, ``@app.router.ws("/x")``, and FastAPI's and
    Starlette's ``@app.websocket("/x")``, ``@app.websocket_route("/x")``."""
    if not isinstance(decorator, ast.Call):
        return False
    target = decorator.func
    return (isinstance(target, ast.Name) and target.id == "ws") or (
        isinstance(target, ast.Attribute) and target.attr in ("ws", "websocket", "websocket_route")
    )


# --- any other name ----------------------------------------------------------------------
def import_for(name: str, value: Any, source: Source) -> Import | None:
    """The import that gives ``value`` as ``name``, or None if it has no importable home."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module == name:
            return Import(module, None, name)
        parent, _, last = module.rpartition(".")
        if parent and last == name:
            return Import(parent, last, name)
        return Import(module, None, name)
    home = getattr(value, "__module__", None)
    attribute = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(home, str) or not isinstance(attribute, str) or "." in attribute:
        return None
    written = source.latest_binding(name)
    if written is not None and isinstance(written[0], ast.ImportFrom) and written[0].module:
        for alias in written[0].names:
            if (alias.asname or alias.name) == name and _resolves(
                written[0].module, alias.name, value
            ):
                return Import(written[0].module, alias.name, name)
    if home != "__main__" and _resolves(home, attribute, value):
        return Import(home, attribute, name)
    return None


def _resolves(module: str, attribute: str, value: Any) -> bool:
    try:
        return getattr(importlib.import_module(module), attribute, None) is value
    except Exception:
        return False


def statement_definition(name: str, value: Any, source: Source) -> Definition:
    """The latest top-level statement that bound ``name``, with the names it needs."""
    kind = type(value).__module__ or ""
    if kind.startswith(PROCESS_BOUND):
        raise Unrecoverable(
            f"it uses {name} (a {type(value).__name__} of {kind.split('.')[0]}), which exists "
            "only in the notebook's process: an app file cannot have it"
        )
    found = source.latest_binding(name)
    if found is None:
        literal = _literal(value)
        if literal is not None:
            return Definition((name,), f"{name} = {literal}\n", (len(source.texts), 0))
        raise Unrecoverable(
            f"it uses {name} (a {type(value).__name__}), and no top-level statement that "
            "defines it was found in the code run so far"
        )
    statement, text, rank = found
    if isinstance(statement, ast.Import | ast.ImportFrom):
        raise Unrecoverable(f"{name} comes from an import whose module cannot be imported")
    if any(isinstance(node, ast.Await) for node in _top_level_nodes(statement)):
        raise Unrecoverable(
            f"{name} is made with `await` at the top level of a cell, which a module cannot "
            "run; make it without await (or inside the handler)"
        )
    lines = text.splitlines(keepends=True)[statement.lineno - 1 : statement.end_lineno]
    code = "".join(lines)
    if len(ast.parse(textwrap.dedent(code)).body) != 1:  # shares a line with another
        code = ast.get_source_segment(text, statement) + "\n"
    needed = names_in(statement) - bound_names(statement)
    return Definition(
        tuple(sorted(bound_names(statement))),
        textwrap.dedent(code).strip("\n") + "\n",
        (rank, statement.lineno),
        needs=needed,
        uses=needed,
    )


def _top_level_nodes(statement: ast.stmt):
    """The statement's nodes outside any function or class body it defines."""
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                pending.append(child)


def _literal(value: Any) -> str | None:
    """``repr(value)`` when it reads back as the same plain value (numbers, text, lists...)."""
    if not isinstance(value, int | float | str | bytes | bool | tuple | list | dict | set):
        return None
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value and len(text) <= 10_000 else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def is_builtin(name: str) -> bool:
    return hasattr(builtins, name)


def render_imports(imports: Iterable[Import]) -> str:
    """Import lines as isort writes them: the standard library first, then the rest."""
    sections: dict[bool, list[str]] = {True: [], False: []}
    grouped: dict[str, set[str]] = {}
    for item in imports:
        if item.attribute is None:
            alias = f" as {item.name}" if item.name != item.module else ""
            line = f"import {item.module}{alias}"
            sections[is_stdlib(item.module)].append(line)
        else:
            alias = "" if item.name == item.attribute else f" as {item.name}"
            grouped.setdefault(item.module, set()).add(item.attribute + alias)
    for module, names in grouped.items():
        line = f"from {module} import {', '.join(sorted(names))}"
        sections[is_stdlib(module)].append(line)
    ordered = [
        sorted(set(lines), key=lambda line: (line.startswith("from"), line.lower()))
        for lines in (sections[True], sections[False])
    ]
    return "\n\n".join("\n".join(lines) for lines in ordered if lines)


def check_names(item: Import | Definition) -> None:
    """Raise Unrecoverable unless every name ``item`` writes into the file is a name
    (a module, an attribute or a global may be named anything at run time)."""
    if isinstance(item, Import):
        names = [item.name] + ([item.attribute] if item.attribute is not None else [])
        if is_dotted_name(item.module) and all(map(is_name, names)):
            return
        shown = f"from {item.module!r} import {item.attribute!r} as {item.name!r}"
    else:
        if all(map(is_name, item.names)):
            return
        shown = ", ".join(map(repr, item.names))
    raise Unrecoverable(f"it needs {shown}, which is not a Python name a file can hold")


def is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names
