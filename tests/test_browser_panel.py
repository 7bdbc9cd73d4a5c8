"""The panel's tools in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium.

Clicked as a learner would, at 900 px wide: three clients side by side with no control
truncated; saved messages, Ping, the message views (hex, base64, pretty JSON), the
handshake in full, repeat, the log's filter; a broadcast drawn as one arrow fanning out to
three lanes; twenty connections' lanes, scrolled and narrowed; the timeline's filter; and
the page ``pg.timeline.to_html`` writes, opened from disk. Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

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

HANDLERS = (
    "import wsplay\nfrom wsplay import WebSocket, WebSocketDisconnectError, ws\n\n"
    "@ws('/echo')\nasync def echo(websocket: WebSocket):\n"
    "    await websocket.accept()\n    while True:\n"
    "        message = await websocket.receive()\n"
    "        if message.get('text') is not None:\n"
    "            await websocket.send_text(message['text'])\n"
    "        else:\n            await websocket.send_bytes(message['bytes'])\n\n"
    "room = set()\n\n"
    "@ws('/chat')\nasync def chat(websocket: WebSocket):\n"
    "    await websocket.accept()\n    room.add(websocket)\n    try:\n"
    "        while True:\n            text = await websocket.receive_text()\n"
    "            for peer in list(room):\n                await peer.send_text(text)\n"
    "    except WebSocketDisconnectError:\n        pass\n"
    "    finally:\n        room.discard(websocket)\n\n"
    "pg = wsplay.start()"
)
PANEL = "wsplay.panel(messages={'hi': 'hello', 'bin': b'\\x00\\xffhi', 'obj': {'a': [1, 2]}})"
WIDTH = 900

# Every visible button of the panel whose text does not fit: its text's rendered width
# against the room inside the button, and any overflow the ellipsis would hide.
TRUNCATED = """() => [...document.querySelectorAll(
    '.wsplay-client button, .wsplay-panel-bar button, .wsplay-saved button')]
  .filter((b) => b.offsetParent !== null && b.textContent.trim())
  .map((b) => {
    const range = document.createRange();
    range.selectNodeContents(b);
    const style = getComputedStyle(b);
    const room = b.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { text: b.textContent.trim(), text_width: range.getBoundingClientRect().width,
             room, scroll: b.scrollWidth, client: b.clientWidth };
  })
  .filter((b) => b.text_width > b.room + 1 || b.scroll > b.client + 1)"""

require_chromium()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("lab")
    (root / "tools.ipynb").write_text(notebook([HANDLERS, PANEL]))
    with jupyterlab(root) as url:
        yield url, root


def _client(page, index: int):
    return page.locator(".wsplay-client:visible").nth(index)


def _button(scope, text: str):
    return scope.locator("button.jupyter-button:visible", has_text=text).first


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _three_clients_fit(page, prefix: str) -> None:
    run_all_cells(page)
    _client(page, 0).wait_for(timeout=TIMEOUT_MS)
    add = _button(page, "Add client")
    for count in (2, 3):
        add.click()
        _client(page, count - 1).wait_for(timeout=TIMEOUT_MS)
    first = _client(page, 0)
    first.locator("button", has_text="▶ hi").wait_for(timeout=TIMEOUT_MS)
    _button(first, "Headers…").click()  # the folded parts open, with their buttons
    _button(first, "Repeat…").click()
    if prefix == "jupyterlab":  # with the file browser open the clients stack up ...
        _shot(page, f"{prefix}-three-clients-{WIDTH}-file-browser.png")
        assert page.evaluate(TRUNCATED) == []
        _same_width(page)
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        page.wait_for_function(
            "() => document.querySelectorAll('.wsplay-client')[2].getBoundingClientRect().top"
            " === document.querySelectorAll('.wsplay-client')[0].getBoundingClientRect().top",
            timeout=TIMEOUT_MS,
        )
    # ... and side by side when the notebook has the width.
    tops = [_client(page, index).bounding_box()["y"] for index in range(3)]
    _shot(page, f"{prefix}-three-clients-{WIDTH}.png")
    assert page.evaluate(TRUNCATED) == []
    assert max(tops) - min(tops) < 2, f"the clients are not side by side: {tops}"
    _same_width(page)
    heights = first.evaluate(
        "(c) => c.querySelector('.wsplay-client-log').getBoundingClientRect().top"
        " - c.getBoundingClientRect().top"
    )
    _button(first, "Headers…").click()
    _button(first, "Repeat…").click()
    first.locator("input[placeholder='chat.v2, chat.v1']").wait_for(state="hidden")
    first.locator(".widget-text", has_text="every (ms)").wait_for(state="hidden")
    folded = first.evaluate(
        "(c) => c.querySelector('.wsplay-client-log').getBoundingClientRect().top"
        " - c.getBoundingClientRect().top"
    )
    assert folded < 340 < heights, f"a client is {folded:.0f} px before its log"


def _kernel_has(page, expression: str, expected: str) -> None:
    """Wait until the kernel's side of a box has what was typed (the page syncs it)."""
    deadline = time.monotonic() + 10
    while (got := kernel_output(page, f"print({expression})").strip()) != expected:
        assert time.monotonic() < deadline, f"the kernel has {got!r}, not {expected!r}"
        page.wait_for_timeout(100)


def _same_width(page) -> None:
    widths = [_client(page, index).bounding_box()["width"] for index in range(3)]
    assert max(widths) - min(widths) < 2, f"the clients differ in width: {widths}"


def _view(row, name: str) -> None:
    """Show a logged message in another encoding: its switches show while hovered."""
    row.hover()
    row.locator("button.wsp-view", has_text=name).click()


def _use_the_tools(page, prefix: str) -> None:
    """Client 1: saved messages, views, Ping, handshake, repeat, the log's filter."""
    client = _client(page, 0)
    log = client.locator("table.wsplay-log")
    _button(client, "Connect").click()
    client.locator(".widget-html", has_text="open #").wait_for(timeout=TIMEOUT_MS)
    expect(client.locator("button.jupyter-button", has_text="Drop")).to_be_enabled()
    _button(client, "▶ hi").click()
    received = log.locator("tr.wsp-log-received", has_text="hello").first
    received.wait_for(timeout=TIMEOUT_MS)
    _view(received, "hex")
    log.locator("tr.wsp-log-received", has_text="68 65 6c 6c 6f").wait_for(timeout=TIMEOUT_MS)
    _view(log.locator("tr.wsp-log-received").first, "base64")
    log.locator("tr.wsp-log-received", has_text="aGVsbG8=").wait_for(timeout=TIMEOUT_MS)
    _button(client, "▶ obj").click()
    as_json = log.locator("tr.wsp-log-received", has_text='{"a":[1,2]}').first
    as_json.wait_for(timeout=TIMEOUT_MS)
    _view(as_json, "json")
    pretty = log.locator("tr.wsp-log-received pre.wsp-log-data").first
    pretty.wait_for(timeout=TIMEOUT_MS)
    assert pretty.inner_text() == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    _button(client, "▶ bin").click()
    binary = log.locator("tr.wsp-log-received.wsp-log-kind-bytes", has_text="00 ff 68 69")
    binary.wait_for(timeout=TIMEOUT_MS)
    _view(binary, "utf-8")
    log.locator("tr.wsp-log-received", has_text="··hi").wait_for(timeout=TIMEOUT_MS)
    _button(client, "Ping").click()
    log.locator("tr", has_text="pong: round trip").wait_for(timeout=TIMEOUT_MS)
    timeline = page.locator(".wsplay-timeline:visible").first
    timeline.locator(".wsp-pong").first.wait_for(timeout=TIMEOUT_MS)

    client.locator("summary", has_text="Handshake #").click()
    shown = client.locator(".wsplay-handshake")
    for text in ("GET /echo HTTP/1.1", "sec-websocket-key", "HTTP/1.1 101 Switching Protocols"):
        shown.locator("code", has_text=text).first.wait_for(timeout=TIMEOUT_MS)
    assert "✓ matches" in shown.inner_text()

    _button(client, "Repeat…").click()
    client.locator(".widget-text", has_text="every (ms)").locator("input").fill("50")
    client.locator(".widget-text", has_text="times").locator("input").fill("3")
    payload = client.locator(".wsplay-payload textarea")
    client.locator(".widget-toggle-button", has_text="text").click()
    payload.fill("tick")
    _kernel_has(page, "wsplay.panel().clients[0].payload.value", "tick")
    _button(client, "Start repeating").click()
    log.locator("tr", has_text="repeat done: 3 of 3 sent").wait_for(timeout=TIMEOUT_MS)
    _button(client, "Repeat…").click()

    client.locator("select.wsp-log-dir").select_option("←")
    client.locator("input.wsp-log-search").fill("tick")
    assert log.locator("tr:visible").count() == 3  # the three echoes, nothing else
    log.scroll_into_view_if_needed()
    _shot(page, f"{prefix}-client-tools.png")
    client.locator("select.wsp-log-dir").select_option("")
    client.locator("input.wsp-log-search").fill("")

    payload.fill("")
    _button(client, "Send").click()
    client.locator(".widget-html", has_text="The payload box is empty").wait_for(timeout=TIMEOUT_MS)
    _button(client, "Close").click()
    client.locator(".widget-html", has_text="not connected").wait_for(timeout=TIMEOUT_MS)
    drop = client.locator("button.jupyter-button", has_text="Drop")
    expect(drop).to_be_disabled()
    expect(drop).to_have_css("background-color", "rgb(238, 238, 238)")  # grey, not orange


def test_the_new_tools_in_jupyterlab(jupyter, browser) -> None:
    url, root = jupyter
    page = browser.new_page(viewport={"width": WIDTH, "height": 1600})
    page.goto(f"{url}/lab/workspaces/{uuid.uuid4().hex}/tree/tools.ipynb?reset")
    try:
        _three_clients_fit(page, "jupyterlab")
        _use_the_tools(page, "jupyterlab")
        _lanes(page)
        _remove_a_client(page)
        kernel_output(page, f"pg.timeline.to_html({str(root / 'timeline.html')!r})")
    except Exception:
        _shot(page, "jupyterlab-tools-failure.png")
        raise
    finally:
        shut_down_kernel(page)
        page.close()
    _exported_page(browser, root / "timeline.html")


def _lanes(page) -> None:
    """A broadcast fans out to three lanes; twenty lanes scroll, closed ones narrow."""
    for index in range(3):
        client = _client(page, index)
        client.locator("input[placeholder='/path']").fill("/chat")
        _button(client, "Connect").click()
        client.locator(".widget-html", has_text="open #").wait_for(timeout=TIMEOUT_MS)
    first = _client(page, 0)
    first.locator(".widget-toggle-button", has_text="text").click()
    first.locator(".wsplay-payload textarea").fill("hi all")
    _button(first, "Send").click()
    timeline = page.locator(".wsplay-timeline:visible").first
    fan = timeline.locator(".wsp-message", has_text="→ 3 clients").filter(has_text="hi all")
    fan.wait_for(timeout=TIMEOUT_MS)
    assert fan.locator(".wsp-head-out").count() == 3  # one arrow, three heads
    fan.scroll_into_view_if_needed()
    _shot(page, "jupyterlab-fan-out.png")

    out = kernel_output(
        page,
        "many = [pg.connect_sync('/echo') for _ in range(20)]\n"
        "for index, conn in enumerate(many):\n"
        "    conn.send_text(f'lane {index}'); conn.receive_text()\n"
        "for conn in many[:12]:\n    conn.close()\n"
        "print(many[5].id)",
    )
    fifth = int(out.split()[-1])
    page.wait_for_function(
        "() => document.querySelectorAll('.wsplay-timeline .wsp-lane-head').length > 20",
        timeout=TIMEOUT_MS,
    )
    scroller = timeline.locator(".wsp-scroll")
    assert scroller.evaluate("(s) => s.scrollWidth > s.clientWidth")  # it scrolls sideways
    # More lanes than fit: those of closed connections start narrow.
    assert timeline.locator(".wsp-lane-head.wsp-collapsed").count() >= 12
    scroller.scroll_into_view_if_needed()
    _shot(page, "jupyterlab-twenty-lanes.png")
    timeline.locator("select.wsp-f-conn").select_option(str(fifth))
    rows = timeline.locator(".wsp-row")
    page.wait_for_function(
        "(id) => { const rows = [...document.querySelectorAll('.wsplay-timeline .wsp-row')];"
        " return rows.length > 0 && rows.every((r) => r.title.includes('#' + id)); }",
        arg=fifth,
        timeout=TIMEOUT_MS,
    )
    assert rows.filter(has_text="lane 5").count() == 2  # in, and echoed out
    timeline.locator("select.wsp-f-conn").select_option("")
    timeline.locator("select.wsp-f-kind").select_option("close")
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('.wsplay-timeline .wsp-row')];"
        " return rows.length >= 12 && rows.every((r) => r.classList.contains('wsp-close')); }",
        timeout=TIMEOUT_MS,
    )
    timeline.locator("select.wsp-f-kind").select_option("")


def _remove_a_client(page) -> None:
    """A fourth client, connected, then taken off with its ✕: the card goes, it says 1001."""
    _button(page, "Add client").click()
    extra = _client(page, 3)
    extra.wait_for(timeout=TIMEOUT_MS)
    _button(extra, "Connect").click()
    extra.locator(".widget-html", has_text="open #").wait_for(timeout=TIMEOUT_MS)
    _shot(page, "jupyterlab-four-clients.png")
    _button(extra, "✕").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.wsplay-client')]"
        ".filter((c) => c.offsetParent !== null).length === 3",
        timeout=TIMEOUT_MS,
    )
    _kernel_has(  # the close runs on the server's loop: it may land a moment later
        page,
        "[(e.code, e.reason) for e in pg.timeline.events(kind='close')"
        " if e.side == 'server'][-1], len(wsplay.panel().clients)",
        "(1001, 'the client was removed from the panel') 3",
    )


def _exported_page(browser, path: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(path.as_uri())
        timeline = page.locator(".wsplay-timeline")
        fan = timeline.locator(".wsp-message", has_text="→ 3 clients").filter(has_text="hi all")
        fan.wait_for(timeout=TIMEOUT_MS)
        assert timeline.locator(".wsp-lane-head").count() > 20
        page.locator("input.wsp-f-text").fill("lane 7")
        page.wait_for_function(
            "() => document.querySelectorAll('.wsplay-timeline .wsp-row').length === 2",
            timeout=TIMEOUT_MS,
        )
        page.locator("input.wsp-f-text").fill("")
        _shot(page, "timeline-export.png")
    finally:
        page.close()


def test_the_new_tools_in_notebook_7(jupyter, browser) -> None:
    url, _ = jupyter
    page = browser.new_page(viewport={"width": WIDTH, "height": 1600})
    page.goto(f"{url}/notebooks/tools.ipynb")
    try:
        _three_clients_fit(page, "notebook7")
        _use_the_tools(page, "notebook7")
    except Exception:
        _shot(page, "notebook7-tools-failure.png")
        raise
    finally:
        shut_down_kernel(page)
        page.close()
