"""The layers import downwards only: framework -> runtime -> ui -> magics.

Read from the source (every import statement, including those inside functions), so a
lazy import cannot hide a dependency that points the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wsplay"
LAYERS = ["framework", "runtime", "ui", "magics"]
JUPYTER = ("IPython", "ipykernel", "ipywidgets", "anywidget", "traitlets", "comm", "jupyter")


def _layer(path: Path) -> str | None:
    part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return part if part in LAYERS else None


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute module names imported by ``path`` (relative ones resolved)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((_imported_from(path, node), node.lineno))
    return found


def _imported_from(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement in ``path`` reads from."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    module = ".".join(["wsplay", *parts]).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level else ""
    return f"{base}.{node.module}" if base and node.module else (node.module or base)


SOURCES = [path for path in PACKAGE.rglob("*.py") if _layer(path)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_layer_imports_a_higher_one(path: Path) -> None:
    own = LAYERS.index(_layer(path))
    for name, line in _imports(path):
        parts = name.split(".")
        if parts[0] == "wsplay" and len(parts) > 1 and parts[1] in LAYERS:
            assert LAYERS.index(parts[1]) <= own, f"{path.name}:{line} imports {name}"


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if _layer(p) == "framework"], ids=lambda p: p.name
)
def test_the_framework_imports_nothing_from_jupyter(path: Path) -> None:
    for name, line in _imports(path):
        assert not name.startswith(JUPYTER), f"{path.name}:{line} imports {name}"


# --- private names stay private ----------------------------------------------------------
ALL_SOURCES = sorted(PACKAGE.rglob("*.py"))


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` (wsplay.x.y) names a module or package of wsplay's source."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    """A `_`-name is its module's own: what another module needs gets a public name (a
    private module, `_loop.py`, may be imported: it is the names inside that are checked)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _imported_from(path, node)
        if not source.startswith("wsplay"):
            continue
        for alias in node.names:
            private = alias.name.startswith("_") and not alias.name.startswith("__")
            if private and not _is_module(f"{source}.{alias.name}"):
                raise AssertionError(
                    f"{path.relative_to(PACKAGE)}:{node.lineno} imports {alias.name} from "
                    f"{source}: give it a public name there"
                )


def test_the_loop_thread_knows_nothing_of_the_watchdog() -> None:
    names = [name for name, _ in _imports(PACKAGE / "_loop.py")]
    assert not [name for name in names if name.startswith("wsplay._watchdog")], names


def _is_wsplay_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and str(node.value).startswith("wsplay.")


def _is_type_key(node: ast.AST) -> bool:
    return isinstance(node, ast.Subscript) and getattr(node.slice, "value", None) == "type"


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_asgi_message_type_is_wsplays_own(path: Path) -> None:
    """An ASGI message's "type" is the ASGI spec's: wsplay's own signals travel otherwise."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "type":
                    assert not _is_wsplay_text(value), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_type_key(side) for side in sides):
                assert not any(_is_wsplay_text(side) for side in sides), (
                    f"{path.name}:{node.lineno}"
                )


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_asgi_message_carries_a_wsplay_key(path: Path) -> None:
    """wsplay's own news about a connection travels through the protocol's typed observer
    (runtime/server/protocol_state.py), never as an extra key in a message."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
            assert not any(_is_wsplay_text(key) for key in keys), f"{path.name}:{node.lineno}"


def test_only_the_protocol_view_reaches_the_servers_protocol() -> None:
    """The recorder reads the protocol behind ``send`` in one place, and reports to nothing
    but the observer it registered there."""
    readers = set()
    for path in ALL_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant | ast.Attribute):
                name = node.attr if isinstance(node, ast.Attribute) else node.value
                if name == "__self__":
                    readers.add(path.relative_to(PACKAGE).as_posix())
    assert readers == {"runtime/server/protocol_state.py"}
