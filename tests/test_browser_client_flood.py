"""The browser client under a flood, in real JupyterLab in headless Chromium: 25 000
messages and one of 20 MB from the handler. The page's log stays bounded (the newest rows,
with a line counting the others; a long message cut, its size shown), the page reports
only the start of each message to the kernel, and both the socket and the page's kernel
connection live on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.jupyterlab import (
    ARTIFACTS,
    TIMEOUT_MS,
    jupyterlab,
    kernel_output,
    notebook,
    require_chromium,
    run_all_cells,
    shut_down_kernel,
)

FLOOD = 25_000
BIG = 20_000_000
HANDLER = f"""\
import json
import wsplay
from wsplay import WebSocket, ws


@ws('/flood')
async def flood(websocket: WebSocket):
    await websocket.accept()
    await websocket.receive_text()  # the page says go
    for number in range({FLOOD}):
        await websocket.send_text(f"message {{number}}")
    await websocket.send_text("x" * {BIG})
    await websocket.send_text("the end")
    while True:  # then an echo: the socket still works
        await websocket.send_text(await websocket.receive_text())
"""
CLIENT = "pg = wsplay.start()\nclient = wsplay.browser_client('/flood')"
REPORT = """\
print(json.dumps([
    [e.direction, e.size, e.preview]
    for e in pg.timeline.events(1, kind="message") if e.side == "client"
][-4:]))
"""
# What the page's log holds: its rows, the longest row's text, the line about the others.
LOG = """(log) => ({
  rows: log.rows.length,
  longest: Math.max(...Array.from(log.rows, (row) => row.textContent.length)),
  earlier: log.querySelector(".wsp-bc-earlier")?.textContent ?? "",
  big: Array.from(log.rows, (row) => row.textContent).find((text) => text.includes("xxxx")) ?? "",
})"""

require_chromium()


def reports_until(page, done: Callable[[list], bool], tries: int = 50) -> list:
    """The page's last reports as the kernel recorded them, once ``done`` (the page sends
    messages' reports in batches, a little later than the messages)."""
    for _ in range(tries):  # each a cell: between two, the kernel takes the page's reports
        reported = json.loads(kernel_output(page, REPORT).strip().splitlines()[-1])
        if reported and done(reported):
            break
    return reported


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    (root / "flood.ipynb").write_text(notebook([HANDLER, CLIENT, "client"]))
    with jupyterlab(root) as url:
        yield url


def test_a_flood_and_a_20_mb_message_keep_the_page_bounded_and_connected(
    jupyter: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/flood.ipynb?reset")
    run_all_cells(page)
    widget = page.locator(".wsplay-browser-client").first
    widget.wait_for(timeout=TIMEOUT_MS)
    status = widget.locator(".wsp-bc-status")
    log = widget.locator(".wsp-bc-log")
    widget.locator(".wsp-bc-connect").click()
    status.filter(has_text="● open").wait_for(timeout=TIMEOUT_MS)
    widget.locator(".wsp-bc-payload").fill("go")
    widget.locator(".wsp-bc-send").click()
    log.locator("tr", has_text="the end").wait_for(timeout=3 * TIMEOUT_MS)

    held = log.evaluate(LOG)
    assert held["rows"] <= 501, f"the page's log holds {held['rows']} rows"
    assert held["earlier"].startswith("⋯ ")
    assert "earlier messages not shown (the log keeps the newest 500)" in held["earlier"]
    assert held["longest"] < 2200, f"a row holds {held['longest']} characters"
    assert f"({BIG} B in all: only the start is shown)" in held["big"]

    widget.locator(".wsp-bc-payload").fill("still here")  # the socket lives on
    widget.locator(".wsp-bc-send").click()
    log.locator("tr", has_text="←").filter(has_text="still here").wait_for(timeout=TIMEOUT_MS)
    assert status.text_content().startswith("● open")
    # The page's kernel connection lives on: the kernel runs code for it, and the page's
    # reports reached the timeline, the big one with its size and no more than its start.
    reported = reports_until(page, lambda reported: reported[-1] == ["out", 10, "still here"])
    assert reported == [
        ["out", BIG, "x" * 80 + "…"],
        ["out", 7, "the end"],
        ["in", 10, "still here"],
        ["out", 10, "still here"],
    ]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-client-flood.png"))
    shut_down_kernel(page)
    page.close()
