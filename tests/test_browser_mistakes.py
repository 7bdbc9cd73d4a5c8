"""A learner's mistakes in a real JupyterLab (headless Chromium, Playwright), clicked for real.

A handler that calls ``time.sleep`` is named in the notebook, with its line and the fix,
within a second of the stall; a handler that spins forever is recovered from the panel
(Stop, then Start) with no kernel restart, and the server echoes again. Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import time
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

require_chromium()

CELLS = [
    "import time, wsplay\nfrom wsplay import WebSocket, ws\n\n"
    "@ws('/echo')\nasync def echo(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n"
    "        await websocket.send_text(await websocket.receive_text())\n\n"
    "@ws('/slow')\nasync def slow(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n"
    "        text = await websocket.receive_text()\n"
    "        time.sleep(3)\n"
    "        await websocket.send_text(text)\n\n"
    "@ws('/spin')\nasync def spin(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n        pass\n\n"
    "pg = wsplay.start(interrupt_after=None)",
    "wsplay.panel()",
]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab-mistakes")
    (root / "mistakes.ipynb").write_text(notebook(CELLS))
    with jupyterlab(root) as url:
        yield url


def test_blocking_and_spinning_handlers_in_jupyterlab(jupyter: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        _use_the_panel(page, jupyter)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)  # what the page looked like when it went wrong
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-mistakes-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def _use_the_panel(page, jupyter: str) -> None:
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/mistakes.ipynb?reset")
    run_all_cells(page)
    path = page.locator("input[placeholder='/path']:visible").first
    path.wait_for(timeout=TIMEOUT_MS)
    path.fill("/slow")
    page.locator("button.jupyter-button:visible", has_text="Connect").first.click()
    page.locator(".widget-html:visible", has_text="open #").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(".wsplay-payload textarea:visible").first.fill("hello")
    page.locator("button.jupyter-button:visible", has_text="Send").first.click()
    clicked = time.monotonic()
    # Said in the panel's "Blocked loop" box (a cell that awaits the server shows it too).
    named = page.locator(".widget-html:visible", has_text="is blocking the server's event loop")
    named.first.wait_for(timeout=TIMEOUT_MS)
    said_after = time.monotonic() - clicked
    text = named.first.inner_text()
    assert "Cell In[" in text and "`time.sleep(3)`" in text
    assert "se `await asyncio.sleep(...)` instead of `time.sleep(...)`: " in text  # fix first
    assert said_after < 1.5, f"named {said_after:.2f} s after the click"  # 0.25 s threshold
    page.locator(".widget-html:visible", has_text="Blocked loop").first.wait_for(timeout=TIMEOUT_MS)
    log = page.locator("table.wsplay-log:visible").first
    log.locator("tr", has_text="←").filter(has_text="hello").wait_for(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-blocked-loop.png"), full_page=True)

    # A second client spins the server; the panel's Stop and Start recover it.
    page.locator("button.jupyter-button:visible", has_text="Add client").first.click()
    second_path = page.locator("input[placeholder='/path']:visible").nth(1)
    second_path.fill("/spin")
    page.locator("button.jupyter-button:visible", has_text="Connect").nth(1).click()
    page.locator(".widget-html:visible", has_text="handler for /spin").first.wait_for(
        timeout=TIMEOUT_MS
    )
    page.locator("button.jupyter-button:visible", has_text="Stop").first.click()
    page.locator(".widget-html:visible", has_text="stopped").first.wait_for(timeout=TIMEOUT_MS)
    page.locator("button.jupyter-button:visible", has_text="Start").first.click()
    page.locator(".widget-html:visible", has_text="running").first.wait_for(timeout=TIMEOUT_MS)
    path.fill("/echo")
    page.locator("button.jupyter-button:visible", has_text="Connect").first.click()
    page.locator(".widget-html:visible", has_text="open #").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(".wsplay-payload textarea:visible").first.fill("after the spin")
    page.locator("button.jupyter-button:visible", has_text="Send").first.click()
    log.locator("tr", has_text="←").filter(has_text="after the spin").wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-spin-recovered.png"), full_page=True)
    shut_down_kernel(page)
