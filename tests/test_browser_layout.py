"""The panel uses the page, and shows the wire: JupyterLab 4 and Notebook 7 in Chromium.

At 1 400 px, then 900 px, clicked as a learner would: one client takes the panel's width,
two take half each, three share 900 px in equal columns; "Add client" is a button's size;
the payload box's hint is italic words, not a message; the log's encoding switches show
only on hover or with its toggle; a long message shows its start and "show all"; a closed
connection's lane is narrower than an open one's; and a click on a message shows the
frames that carried it (MASK=1 and the key for what the client sent, MASK=0 for what it
received), inside the client's card; its handshake shows the bytes of both heads and the
Sec-WebSocket-Accept worked out. Screenshots go to test-artifacts/.
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
from tests.test_browser_panel import HANDLERS, TRUNCATED

LONG = "word " * 120  # 600 characters: more than a log line shows before "show all"

require_chromium()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    (root / "layout.ipynb").write_text(notebook([HANDLERS, "wsplay.panel()"]))
    with jupyterlab(root) as url:
        yield url


def _client(page, index: int):
    return page.locator(".wsplay-client:visible").nth(index)


def _button(scope, text: str):
    return scope.locator("button.jupyter-button:visible", has_text=text).first


def _shot(page, name: str, part=None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    if part is None:
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    else:
        part.screenshot(path=str(ARTIFACTS / name))


def _widths(page, count: int) -> tuple[float, list[float], list[float]]:
    """The panel's width, and the first ``count`` clients' widths and tops."""
    panel = page.locator(".wsplay-panel:visible").first.bounding_box()["width"]
    boxes = [_client(page, index).bounding_box() for index in range(count)]
    return panel, [box["width"] for box in boxes], [box["y"] for box in boxes]


def _side_by_side(page, count: int) -> list[float]:
    page.wait_for_function(
        "(n) => { const tops = [...document.querySelectorAll('.wsplay-client')]"
        ".filter((c) => c.offsetParent !== null).slice(0, n)"
        ".map((c) => Math.round(c.getBoundingClientRect().top));"
        " return tops.length === n && new Set(tops).size === 1; }",
        arg=count,
        timeout=TIMEOUT_MS,
    )
    panel, widths, _ = _widths(page, count)
    assert max(widths) - min(widths) < 2, f"the clients differ in width: {widths}"
    return [width / panel for width in widths]


def _send(client, text: str) -> None:
    client.locator(".wsplay-payload textarea").fill(text)
    _button(client, "Send").click()


def _visible_switches(page) -> int:
    return page.evaluate(
        "() => [...document.querySelectorAll('.wsplay-client-log button.wsp-view')]"
        ".filter((b) => b.offsetParent !== null && b.getBoundingClientRect().width > 0).length"
    )


def _one_client_and_the_log(page, prefix: str) -> None:
    """At 1 400 px: one client's card, the button, the hint, the switches, a long message."""
    first = _client(page, 0)
    first.wait_for(timeout=TIMEOUT_MS)
    # JupyterLab: the file browser closed, as a learner reading a notebook has it.
    page.evaluate(
        "() => { const shell = window.jupyterapp.shell;"
        " if (shell.collapseLeft && !shell.leftCollapsed) shell.collapseLeft(); }"
    )
    page.wait_for_function(  # ... and the notebook has taken the room it gave up
        "() => document.querySelector('.wsplay-panel').getBoundingClientRect().width"
        " > 0.7 * window.innerWidth",
        timeout=TIMEOUT_MS,
    )
    panel, (width,), _ = _widths(page, 1)
    assert width >= 0.9 * panel, f"one client is {width / panel:.0%} of the panel"
    add = _button(page, "Add client").bounding_box()["width"]
    assert add < min(200, 0.3 * panel), f"Add client is {add:.0f} px wide"

    payload = first.locator(".wsplay-payload textarea")
    hint = payload.evaluate(
        "(box) => ({ text: box.placeholder, hint: getComputedStyle(box, '::placeholder')"
        ".fontStyle, typed: getComputedStyle(box).fontStyle })"
    )
    assert hint == {"text": "type a message…", "hint": "italic", "typed": "normal"}, hint

    first.locator(".wsplay-path input").fill("/echo")
    _button(first, "Connect").click()
    first.locator(".widget-html", has_text="open #").wait_for(timeout=TIMEOUT_MS)
    _send(first, "hello")
    log = first.locator("table.wsplay-log")
    received = log.locator("tr.wsp-log-received", has_text="hello").first
    received.wait_for(timeout=TIMEOUT_MS)
    page.mouse.move(0, 0)
    assert _visible_switches(page) == 0  # no chips on any line ...
    received.hover()  # ... until the pointer is on one
    expect_switches = received.locator("button.wsp-view:visible")
    expect_switches.first.wait_for(timeout=TIMEOUT_MS)
    assert _visible_switches(page) == expect_switches.count() >= 3
    _shot(page, f"{prefix}-hovered-line-1400.png", first.locator(".wsp-log-scroll"))
    page.mouse.move(0, 0)
    first.locator(".wsp-log-encodings input").check()  # ... or the toggle shows them all
    assert _visible_switches(page) >= 2 * 3
    first.locator(".wsp-log-encodings input").uncheck()

    _send(first, LONG)
    echoed = log.locator("tr.wsp-log-received", has_text="word word").first
    echoed.wait_for(timeout=TIMEOUT_MS)
    data = echoed.locator(".wsp-log-data")
    assert len(data.inner_text()) < 300  # the start of it ...
    echoed.locator("button.wsp-log-more", has_text="show all 600 characters").click()
    echoed.locator("button.wsp-log-more", has_text="show less").wait_for(timeout=TIMEOUT_MS)
    assert len(echoed.locator(".wsp-log-data").inner_text().strip()) == len(LONG.strip())
    scroller = first.locator(".wsp-log-scroll")
    assert scroller.evaluate("(s) => s.scrollWidth <= s.clientWidth + 1")  # wrapped, not wide
    _shot(page, f"{prefix}-one-client-1400.png")


def _two_clients_and_a_closed_lane(page, prefix: str) -> None:
    _button(page, "Add client").click()
    second = _client(page, 1)
    second.wait_for(timeout=TIMEOUT_MS)
    ratios = _side_by_side(page, 2)
    assert all(0.45 <= ratio <= 0.5 for ratio in ratios), f"two clients: {ratios}"
    second.locator(".wsplay-path input").fill("/echo")
    _button(second, "Connect").click()
    second.locator(".widget-html", has_text="open #").wait_for(timeout=TIMEOUT_MS)
    _button(second, "Close").click()
    second.locator(".widget-html", has_text="not connected").wait_for(timeout=TIMEOUT_MS)
    timeline = page.locator(".wsplay-timeline:visible").first
    closed = timeline.locator(".wsp-lane-head.wsp-collapsed")
    closed.first.wait_for(timeout=TIMEOUT_MS)
    open_lane = timeline.locator(".wsp-lane-head:not(.wsp-collapsed):not(.wsp-server-head)")
    assert open_lane.count() == 1 and closed.count() == 1
    narrow, wide = closed.bounding_box()["width"], open_lane.bounding_box()["width"]
    assert narrow < wide / 2, f"the closed lane is {narrow:.0f} px, the open one {wide:.0f}"
    _shot(page, f"{prefix}-two-clients-1400.png")


def _three_clients_and_the_frames(page, prefix: str) -> None:
    """At 900 px: three equal columns, and a message's frames inside its card."""
    _button(page, "Add client").click()
    _client(page, 2).wait_for(timeout=TIMEOUT_MS)
    ratios = _side_by_side(page, 3)
    assert all(ratio < 0.34 for ratio in ratios), ratios
    page.set_viewport_size({"width": 900, "height": 1600})
    _side_by_side(page, 3)
    assert page.evaluate(TRUNCATED) == []
    _shot(page, f"{prefix}-three-clients-900.png")

    first = _client(page, 0)
    log = first.locator("table.wsplay-log")
    log.locator("tr.wsp-log-sent .wsp-log-data", has_text="hello").first.click()
    sent = log.locator("tr.wsp-log-sent .wsp-frames").first
    sent.wait_for(timeout=TIMEOUT_MS)
    log.locator("tr.wsp-log-received .wsp-log-data", has_text="hello").first.click()
    received = log.locator("tr.wsp-log-received .wsp-frames").first
    received.wait_for(timeout=TIMEOUT_MS)
    words = sent.inner_text()
    for said in ("FIN=1", "opcode=0x1 text", "MASK=1", "mask key", "7-bit", "unmasked"):
        assert said in words, f"{said!r} not in the sent frame: {words}"
    assert "MASK=0" in received.inner_text() and "a server never masks" in received.inner_text()
    inside = first.evaluate(
        "(card) => { const right = card.getBoundingClientRect().right;"
        " return [...card.querySelectorAll('.wsp-frame')].map((f) =>"
        " f.getBoundingClientRect().right <= right + 1 && f.scrollWidth <= f.clientWidth + 1); }"
    )
    assert inside == [True, True], f"a frame overflows its card: {inside}"
    sent.scroll_into_view_if_needed()
    _shot(page, f"{prefix}-frames-900.png", first)

    first.locator("summary", has_text="Handshake #").click()
    shown = first.locator(".wsplay-handshake")
    shown.locator("summary", has_text="On the wire").click()
    raw = shown.locator("code.wsp-hs-raw").first
    raw.wait_for(timeout=TIMEOUT_MS)
    assert raw.inner_text().startswith("GET /echo HTTP/1.1\\r\\n")  # the CR LF shown
    worked = shown.locator("code.wsp-hs-accept").inner_text()
    assert "SHA-1" in worked and "(matches the server's answer)" in worked
    assert shown.evaluate(
        "(hs) => [...hs.querySelectorAll('code')].every((c) => c.scrollWidth <= c.clientWidth + 1"
        " && c.getBoundingClientRect().right <= hs.getBoundingClientRect().right + 1)"
    ), "a line of the handshake's bytes runs out of the card"
    raw.scroll_into_view_if_needed()
    _shot(page, f"{prefix}-handshake-bytes-900.png", first)


def _check(page, prefix: str) -> None:
    run_all_cells(page)
    try:
        _one_client_and_the_log(page, prefix)
        _two_clients_and_a_closed_lane(page, prefix)
        _three_clients_and_the_frames(page, prefix)
    except Exception:
        _shot(page, f"{prefix}-layout-failure.png")
        raise
    finally:
        shut_down_kernel(page)
        page.close()


def test_the_panel_uses_the_page_in_jupyterlab(jupyter, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/layout.ipynb?reset")
    _check(page, "jupyterlab")


def test_the_panel_uses_the_page_in_notebook_7(jupyter, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{jupyter}/notebooks/layout.ipynb")
    _check(page, "notebook7")
