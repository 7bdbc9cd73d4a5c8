"""Grading a class with nbgrader: a course of one notebook whose autograded test cell calls
``wsplay.exercises.assert_passes``, released with ``nbgrader generate_assignment`` and graded
with ``nbgrader autograde``: a right submission gets every point, a wrong one none.

nbgrader runs as the teacher would run it, a subprocess in a course folder of its own, with
its gradebook in that folder; its kernel imports this checkout's wsplay (PYTHONPATH).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from wsplay.exercises import assert_passes, check

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = Path(sys.executable).parent / "nbgrader"
COURSE, ASSIGNMENT, NOTEBOOK = "wsplay-course", "ps1", "greet"
POINTS = 3

HANDLER = """\
from wsplay import WebSocket


async def greet(websocket: WebSocket, name: str):
    ### BEGIN SOLUTION
    await websocket.accept()
    await websocket.send_text(f"Hello, {name}!")
    ### END SOLUTION
"""
RIGHT = """\
from wsplay import WebSocket


async def greet(websocket: WebSocket, name: str):
    await websocket.accept()
    await websocket.send_text(f"Hello, {name}!")
"""
WRONG = RIGHT.replace("Hello, {name}!", "Hello {name}")
TESTS = """\
from wsplay.exercises import assert_passes

assert_passes("greet", greet)
"""


def _cell(source: str, grade_id: str, **nbgrader: object) -> nbformat.NotebookNode:
    metadata = {"grade_id": grade_id, "schema_version": 3, **nbgrader}
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": metadata})


def source_notebook() -> nbformat.NotebookNode:
    """What the teacher writes: the handler to complete (a solution cell) and the tests
    that score it (an autograded tests cell worth POINTS)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Serve /greet/{name}: send the text 'Hello, {name}!'."),
        _cell(HANDLER, "greet-handler", solution=True, grade=False, locked=False),
        _cell(TESTS, "greet-tests", solution=False, grade=True, locked=True, points=POINTS),
    ]
    return notebook


def nbgrader(course: Path, *args: str) -> str:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(NBGRADER), *args],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def submit(course: Path, student: str, handler: str) -> None:
    """The released notebook, with the student's handler in its solution cell."""
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    (cell,) = [cell for cell in released.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    assert "raise NotImplementedError" in cell.source  # the solution was taken out
    cell.source = handler
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(released, folder / f"{NOTEBOOK}.ipynb")


@pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is a test dependency")
def test_nbgrader_gives_full_points_to_a_right_handler_and_none_to_a_wrong_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nbgrader's gradebook runs `alembic` from PATH: the one beside nbgrader, in its venv.
    monkeypatch.setenv("PATH", f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    course = tmp_path / COURSE
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    database = f"sqlite:///{tmp_path / 'gradebook.db'}"
    config = f"""\
c = get_config()
c.CourseDirectory.root = {str(course)!r}
c.CourseDirectory.course_id = {COURSE!r}
c.CourseDirectory.db_url = {database!r}
c.ExecutePreprocessor.timeout = 60
"""
    (course / "nbgrader_config.py").write_text(config)
    nbformat.write(source_notebook(), course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    nbgrader(course, "db", "assignment", "add", ASSIGNMENT)
    for student in ("right", "wrong"):
        nbgrader(course, "db", "student", "add", student)

    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    submit(course, "right", RIGHT)
    submit(course, "wrong", WRONG)
    nbgrader(course, "autograde", ASSIGNMENT, "--force")

    from nbgrader.api import Gradebook

    with Gradebook(database) as gradebook:
        scores = {
            student: gradebook.find_submission(ASSIGNMENT, student).score
            for student in ("right", "wrong")
        }
        maximum = gradebook.find_assignment(ASSIGNMENT).max_score
    assert maximum == POINTS
    assert scores == {"right": POINTS, "wrong": 0}
    # The wrong student's graded notebook holds the report, for the teacher and for them.
    graded = course / "autograded" / "wrong" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    outputs = [
        output
        for cell in nbformat.read(graded, as_version=4).cells
        for output in cell.get("outputs", [])
    ]
    error = next(output for output in outputs if output.get("ename") == "AssertionError")
    assert "expected text 'Hello, Ada!', got text 'Hello Ada'" in error["evalue"]


def test_assert_passes_raises_the_report_on_a_failing_step_and_returns_it_on_success() -> None:
    namespace: dict[str, object] = {}
    exec(compile(WRONG, "<wrong>", "exec"), namespace)
    with pytest.raises(AssertionError) as raised:
        assert_passes("greet", namespace["greet"])
    assert str(raised.value) == str(check("greet", namespace["greet"]))
    assert "✗ client receives 'Hello, Ada!'" in str(raised.value)

    exec(compile(RIGHT, "<right>", "exec"), namespace)
    report = assert_passes("greet", namespace["greet"])
    assert report.passed
