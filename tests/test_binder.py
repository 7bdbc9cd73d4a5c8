"""Binder: the configuration repo2docker reads, and the real proof that it works: a fresh
virtualenv built from binder/requirements.txt, as repo2docker builds it, runs the first
notebook top to bottom.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import textwrap
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.venvs import FreshVenv

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
FIRST_NOTEBOOK = ROOT / "notebooks" / "01-creating-routes.ipynb"


def requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [
        line.split(" #")[0].strip() for line in lines if line.strip() and not line.startswith("#")
    ]


def binder_requirements() -> list[Requirement]:
    """What a Binder build asks pip for: the file's own lines, and wsplay's dependencies
    with the extras its '.[...]' line names (read from pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = []
    for line in requirement_lines():
        if line.startswith("."):
            extras = re.search(r"\[([^\]]*)\]", line)
            found += [Requirement(text) for text in project["dependencies"]]
            for extra in extras[1].split(",") if extras else ():
                found += [Requirement(text) for text in project["optional-dependencies"][extra]]
        elif not line.startswith("-"):
            found.append(Requirement(line))
    return found


def pinned(name: str) -> SpecifierSet:
    specifiers = [r.specifier for r in binder_requirements() if r.name.lower() == name]
    assert specifiers, f"nothing in a Binder build asks for {name}"
    return SpecifierSet(",".join(str(specifier) for specifier in specifiers))


# --- static checks --------------------------------------------------------------------------
def test_exactly_one_binder_directory() -> None:
    # With both, repo2docker stops with an error; with one, it ignores root-level files.
    assert BINDER.is_dir()
    assert not (ROOT / ".binder").exists()


def test_runtime_is_a_python_version_repo2docker_reads_and_wsplay_supports() -> None:
    text = (BINDER / "runtime.txt").read_text()
    match = re.fullmatch(r"python-(\d+)\.(\d+)\n?", text)
    assert match, f"runtime.txt must read python-X.Y (e.g. python-3.11), not {text!r}"
    version = Version(f"{match[1]}.{match[2]}")
    assert version == Version("3.11"), "the Python version the test suite runs on"
    pyproject = (ROOT / "pyproject.toml").read_text()
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', pyproject)
    assert requires and version in SpecifierSet(requires[1])


def test_requirements_install_this_repository_with_the_lab() -> None:
    local = [line for line in requirement_lines() if line.startswith((".", "-e ."))]
    assert len(local) == 1, "install wsplay from the repository: a line '.[lab]'"
    extras = re.search(r"\[([^\]]*)\]", local[0])
    assert extras and "lab" in [extra.strip() for extra in extras[1].split(",")]


# What repo2docker 2025.12.0's Python 3.11 base environment has (its conda lock file), and
# the known problem each floor avoids.
@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("ipykernel", "7.0.1", "7.1"),  # the base image's: drops widget updates from threads
        ("jupyter-server", "2.17.0", "2.20.0"),  # the base image's: CVE-2026-44727 (XSS)
        ("jupyterlab", "4.6.1", "4.6.2"),  # CVE-2026-73415 and -73417 (XSS), fixed in 4.6.2
        ("jupyter-server-proxy", "4.1.0", "4.2.0"),  # CVE-2024-28179 (<4.1.1, no WS auth)
        ("jupyter-server-proxy", "4.1.2", "4.2.0"),  # CVE-2024-35225 (XSS), fixed in 4.2.0
    ],
)
def test_a_binder_build_gets_no_version_with_a_known_problem(name: str, bad: str, good: str):
    assert Version(bad) not in pinned(name)
    assert Version(good) in pinned(name)


def test_apt_txt_installs_redis_server_for_notebook_08() -> None:
    lines = (BINDER / "apt.txt").read_text().splitlines()
    packages = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", package) for package in packages)
    assert "redis-server" in packages


def test_post_build_is_a_strict_executable_bash_script() -> None:
    script = BINDER / "postBuild"
    lines = script.read_text().splitlines()
    assert lines[0] in ("#!/bin/bash", "#!/usr/bin/env bash")
    assert any(re.match(r"set -[a-z]*e", line.strip()) for line in lines), "failures must stop"
    assert script.stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def test_readme_binder_links_open_a_notebook_that_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s\"]+", readme)
    for link in links:
        path = unquote(parse_qs(urlparse(link).query)["labpath"][0])
        assert (ROOT / path).is_file(), f"{link} opens {path}, which does not exist"


# --- the real thing -------------------------------------------------------------------------
DRIVER = textwrap.dedent(
    """
    import json, sys
    import nbformat
    from nbclient import NotebookClient

    path, cwd = sys.argv[1], sys.argv[2]
    notebook = nbformat.read(path, as_version=4)
    probe = "import sys, wsplay; print(sys.executable); print(wsplay.__file__)"
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    NotebookClient(
        notebook, timeout=60, startup_timeout=60, kernel_name="python3",
        resources={"metadata": {"path": cwd}},
    ).execute()
    print(json.dumps(notebook.cells[-1].outputs[0]["text"].split()))
    """
)


def test_a_fresh_environment_from_the_binder_requirements_builds_and_runs_the_first_notebook(
    tmp_path: Path,
) -> None:
    venv = FreshVenv.create(tmp_path, "binder-venv")
    venv.pip("install", "-r", "binder/requirements.txt")  # as repo2docker does, from the root
    # Then repo2docker runs postBuild (apt.txt's redis-server: installed here by make test).
    built = venv.run("bash", "binder/postBuild", cwd=ROOT)
    assert built.stdout.startswith("wsplay ")
    driver = tmp_path / "run_notebook.py"
    driver.write_text(DRIVER)
    result = venv.python(str(driver), str(FIRST_NOTEBOOK), str(FIRST_NOTEBOOK.parent), cwd=tmp_path)
    kernel_python, wsplay_file = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(kernel_python).parent == venv.bin, "the kernel ran in the Binder venv"
    assert Path(wsplay_file).is_relative_to(venv.path), "wsplay came from the Binder install"
