"""``make playground`` opens the first notebook in JupyterLab, or in Notebook 7 with UI=notebook,
and either way the one server serves both front ends.

The real make target runs (with this test's venv, and arguments for a headless server on a
free port); the pages are fetched over HTTP as a browser would first load them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
FIRST = "notebooks/01-creating-routes.ipynb"
LAB_PAGE = f"/lab/tree/{FIRST}"
NOTEBOOK_PAGE = f"/notebooks/{FIRST}"


def _fetch(url: str) -> tuple[str, str]:
    """The final URL after redirects, and the page."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.url, response.read().decode()


@pytest.mark.parametrize(("ui", "first_page"), [("lab", LAB_PAGE), ("notebook", NOTEBOOK_PAGE)])
def test_make_playground_opens_the_first_notebook_and_serves_both_front_ends(
    ui: str, first_page: str
) -> None:
    port = free_port()
    venv = sys.prefix
    arguments = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token="
    command = [
        *(shutil.which("make"), "-C", str(ROOT), f"VENV={venv}", f"UI={ui}"),
        *("-o", f"{venv}/.installed-lab", f"JUPYTER_ARGS={arguments}", "playground"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_port(port, time.monotonic() + 90, process)
        base = f"http://127.0.0.1:{port}"
        opened, _ = _fetch(base + "/")
        assert opened == base + first_page
        _, lab = _fetch(base + LAB_PAGE)
        _, notebook = _fetch(base + NOTEBOOK_PAGE)
        assert '"appName": "JupyterLab"' in lab
        assert '"appName": "Jupyter Notebook"' in notebook
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the Jupyter server it started
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        process.stderr.close()


def test_make_playground_names_the_choices_for_an_unknown_ui() -> None:
    venv = sys.prefix
    result = subprocess.run(
        [shutil.which("make"), "-C", str(ROOT), f"VENV={venv}", "UI=colab", "playground"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "UI is lab or notebook, not 'colab'" in result.stderr
    assert "pip install" not in result.stdout  # refused before setting anything up
