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
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    module = ".".join(["wsplay", *parts]).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            name = f"{base}.{node.module}" if base and node.module else (node.module or base)
            found.append((name, node.lineno))
    return found


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
