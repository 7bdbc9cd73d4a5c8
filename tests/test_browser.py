"""The panel in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium.

JupyterLab runs on 127.0.0.1; Playwright drives Debian's ``chromium`` (or Playwright's own
download where there is none: see tests/system_packages.py). A learner's first minute,
clicked for real: run the notebook, Connect, type "hello", Send, see the echo in the log
and on the timeline, close with 4000 and see that code. Screenshots go to test-artifacts/
for a person to look at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.jupyterlab import (
    ARTIFACTS,
    TIMEOUT_MS,
    jupyterlab,
    notebook,
    require_chromium,
    run_all_cells,
    shut_down_kernel,
)

NOTEBOOK_CELLS = [
    "import wsplay\nfrom wsplay import WebSocket, ws\n\n"
    "@ws('/echo')\nasync def echo(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n"
    "        await websocket.send_text(await websocket.receive_text())",
    "wsplay.panel()",
]

require_chromium()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    (root / "panel.ipynb").write_text(notebook(NOTEBOOK_CELLS))
    with jupyterlab(root) as url:
        yield url


def _run_all_and_use_the_panel(page, screenshot: str) -> None:
    run_all_cells(page)
    connect = page.locator("button.jupyter-button:visible", has_text="Connect").first
    connect.wait_for(timeout=TIMEOUT_MS)
    connect.click()
    page.locator(".widget-html:visible", has_text="open #").first.wait_for(timeout=TIMEOUT_MS)
    payload = page.locator(".wsplay-payload textarea:visible").first
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
    shut_down_kernel(page)


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
