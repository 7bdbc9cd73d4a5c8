"""Real JupyterLab (and Notebook 7) on 127.0.0.1, driven in headless Chromium by Playwright.

    with jupyterlab(root) as base_url: ...           # a server for the notebooks in root
    with chromium() as browser: page = browser.new_page()
    run_all_cells(page); kernel_output(page, "print(1)")

Chromium is Debian's (or Playwright's own download: see tests/system_packages.py).
Shared by the browser test modules.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import system_packages
from tests.servers import free_port, stop_process, wait_for_port

CHROMIUM = system_packages.chromium()
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


def require_chromium() -> None:
    """Fail the module (never skip it) when there is no Chromium, with the line to run."""
    if CHROMIUM is None:
        pytest.fail(
            "Chromium is missing for the browser tests: make test installs it where it can, "
            f"or run  {system_packages.fix_command(system_packages.NEEDS[:1])}",
            pytrace=False,
        )


def notebook(cells: list[str]) -> str:
    """An .ipynb's text with ``cells`` as code cells, for the python3 kernel."""
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for source in cells
            ],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


@contextlib.contextmanager
def jupyterlab(root: Path) -> Iterator[str]:
    """A JupyterLab server (Notebook 7 too) on a free port, no token; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
    ]
    log = open(root / "jupyter.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        wait_for_port(port, time.monotonic() + 60, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, 15)
        log.close()


@contextlib.contextmanager
def chromium(*flags: str):
    """A headless Chromium; ``flags`` are added to its command line."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *flags]
        )
        try:
            yield browser
        finally:
            browser.close()


def run_all_cells(page) -> None:
    """Wait for the notebook's kernel, then run every cell (without waiting for them)."""
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
        timeout=TIMEOUT_MS,
    )
    # Fire and forget: awaiting the command would wait for the cells to finish.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


_EXECUTE = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, store_history: false });
  let out = "";
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === "stream") out += msg.content.text;
    if (msg.header.msg_type === "error") out += msg.content.traceback.join("\\n");
  };
  await future.done;
  return out;
}"""


def kernel_output(page, code: str) -> str:
    """Run ``code`` in the notebook's kernel, as the page's own front end does; its output."""
    return page.evaluate(_EXECUTE, code)


def shut_down_kernel(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
