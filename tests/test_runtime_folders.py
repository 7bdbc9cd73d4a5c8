"""The runtime is split by concern: one idea a folder, each named where a newcomer looks.

Every module of ``wsplay/runtime`` lives in one of the folders below, except the playground
itself, what every folder reports through, and how their work on the loop thread is paced;
each folder's ``__init__`` says what it holds and names each of its modules; the README's
architecture section names each folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parent.parent / "wsplay" / "runtime"
README = (RUNTIME.parent.parent / "README.md").read_text()
FOLDERS = ("server", "recording", "timeline", "clients", "guests", "deploy")
TOP_LEVEL = {"__init__.py", "playground.py", "reports.py", "notices.py", "pacing.py"}


def test_every_runtime_module_lives_in_a_named_folder() -> None:
    loose = {path.name for path in RUNTIME.glob("*.py")} - TOP_LEVEL
    assert not loose, f"put {sorted(loose)} in one of {FOLDERS} (or name a new folder here)"
    folders = {path.name for path in RUNTIME.iterdir() if path.is_dir()} - {"__pycache__"}
    assert folders == set(FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_says_what_it_holds(folder: str) -> None:
    init = RUNTIME / folder / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
    modules = sorted(p.name for p in (RUNTIME / folder).glob("*.py") if p.name != "__init__.py")
    unnamed = [name for name in modules if f"``{name}``" not in docstring]
    assert not unnamed, f"{folder}/__init__.py's docstring does not name {unnamed}"
    assert f"`runtime/{folder}/`" in README, f"the README's architecture omits {folder}/"
