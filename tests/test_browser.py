"""The panel in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium.

JupyterLab runs on 127.0.0.1; Playwright drives Debian's ``chromium`` (or Playwright's own
download where there is none: see tests/system_packages.py). A learner's first minute,
clicked for real: run the notebook, Connect, type "hello", Send, see the echo in the log
and on the timeline, close with 4000 and see that code. Screenshots go to test-artifacts/
for a person to look at.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import system_packages
from tests.servers import free_port, wait_for_port

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

NOTEBOOK_CELLS = [
    "import wsplay\nfrom wsplay import WebSocket, ws\n\n"
    "@ws('/echo')\nasync def echo(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n"
    "        await websocket.send_text(await websocket.receive_text())",
    "wsplay.panel()",
]

if CHROMIUM is None:
    pytest.fail(
        "Chromium is missing for the browser tests: make test installs it where it can, "
        f"or run  {system_packages.fix_command(system_packages.NEEDS[:1])}",
        pytrace=False,
    )


def _notebook() -> dict:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for source in NOTEBOOK_CELLS
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    (root / "panel.ipynb").write_text(json.dumps(_notebook()))
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
        import time

        wait_for_port(port, time.monotonic() + 60, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def _run_all_and_use_the_panel(page, screenshot: str) -> None:
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
        timeout=TIMEOUT_MS,
    )
    # Fire and forget: awaiting the command would wait for the cells to finish.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    connect = page.locator("button.jupyter-button:visible", has_text="Connect").first
    connect.wait_for(timeout=TIMEOUT_MS)
    connect.click()
    page.locator(".widget-html:visible", has_text="open #").first.wait_for(timeout=TIMEOUT_MS)
    payload = page.locator("textarea[placeholder='hello']:visible").first
    payload.fill("hello")
    page.locator("button.jupyter-button:visible", has_text="Send").first.click()
    log = page.locator("table.wsplay-log:visible").first
    log.locator("tr", has_text="←").filter(has_text="hello").wait_for(timeout=TIMEOUT_MS)
    timeline = page.locator(".wsplay-timeline:visible").first
    timeline.locator(".wsp-message", has_text="hello").first.wait_for(timeout=TIMEOUT_MS)
    code = page.locator(".widget-text:visible", has_text="Code").first.locator("input")
    code.fill("4000")
    page.locator("button.jupyter-button:visible", has_text="Close").first.click()
    log.locator("tr", has_text="4000").first.wait_for(timeout=TIMEOUT_MS)
    timeline.locator(".wsp-close", has_text="close 4000").first.wait_for(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    assert log.locator("tr", has_text="→").filter(has_text="hello").count() == 1
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")


def test_first_minute_in_jupyterlab(jupyter: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/panel.ipynb?reset")
    _run_all_and_use_the_panel(page, "jupyterlab-panel.png")
    page.close()


def test_first_minute_in_notebook_7(jupyter: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{jupyter}/notebooks/panel.ipynb")
    _run_all_and_use_the_panel(page, "notebook7-panel.png")
    page.close()
