"""The panel's route list and a refused handshake in a real JupyterLab (headless Chromium).

A click on a route pattern puts a path it matches in the client's path box with the example
value selected, so what the learner types replaces it; a refusal is said in the client's
log fix first, wrapped between words. Screenshots go to test-artifacts/.
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

require_chromium()

CELLS = [
    "import wsplay\nfrom wsplay import WebSocket, ws\n\n"
    "@ws('/chat/{user}')\nasync def chat(websocket: WebSocket, user: str):\n"
    "    await websocket.accept()\n    await websocket.send_text(f'{user} joined')\n\n"
    "@ws('/no-accept')\nasync def no_accept(websocket: WebSocket):\n"
    "    text = await websocket.receive_text()\n\n"
    "pg = wsplay.start()",
    "wsplay.panel()",
]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab-learner")
    (root / "learner.ipynb").write_text(notebook(CELLS))
    with jupyterlab(root) as url:
        yield url


def test_a_route_fills_the_path_box_and_a_refusal_leads_with_the_fix(jupyter: str, browser):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        _pick_a_route_and_be_refused(page, jupyter)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-learner-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def _pick_a_route_and_be_refused(page, jupyter: str) -> None:
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/learner.ipynb?reset")
    run_all_cells(page)
    route = page.locator(".wsplay-routes button:visible", has_text="/chat/{user}").first
    route.wait_for(timeout=TIMEOUT_MS)
    route.click()
    path = page.locator("input[placeholder='/path']:visible").first
    selected = path.evaluate(
        "input => [input.value, input.value.slice(input.selectionStart, input.selectionEnd),"
        " document.activeElement === input]"
    )
    assert selected == ["/chat/alice", "alice", True]
    page.keyboard.type("bob")  # typed over the selection
    assert path.input_value() == "/chat/bob"
    page.locator("button.jupyter-button:visible", has_text="Connect").first.click()
    log = page.locator("table.wsplay-log:visible").first
    log.locator("tr", has_text="←").filter(has_text="bob joined").wait_for(timeout=TIMEOUT_MS)

    page.locator("button.jupyter-button:visible", has_text="Add client").first.click()
    second = page.locator("input[placeholder='/path']:visible").nth(1)
    second.fill("/no-accept")
    page.locator("button.jupyter-button:visible", has_text="Connect").nth(1).click()
    second_log = page.locator("table.wsplay-log:visible").nth(1)
    failure = second_log.locator("tr.wsp-log-failure .wsp-log-text").first
    failure.wait_for(timeout=TIMEOUT_MS)
    text = failure.inner_text()
    assert text.startswith("Your handler must call `await websocket.accept()` before it receives")
    assert failure.evaluate("cell => getComputedStyle(cell).wordBreak") == "normal"
    status = page.locator(".wsplay-client:visible").nth(1).locator(".widget-html", has_text="✗")
    assert status.first.inner_text().strip() == "✗ refused (HTTP 403)"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / "jupyterlab-learner-route-and-refusal.png"), full_page=True
    )
    shut_down_kernel(page)
