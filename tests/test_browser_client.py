"""The browser-side client in real JupyterLab in headless Chromium: the page's own WebSocket,
directly to 127.0.0.1 and through jupyter-server-proxy (installed in the test environment,
enabled in the same JupyterLab), each clicked for real.

Each run offers two subprotocols, sends "hello" (and asks for two bytes back), closes from
the page with 4000, then connects again and asks the handler to close with 4001. What the
handler saw is read from the kernel (as the notebook's own front end runs code), what the
page saw from the page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

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

HANDLER = """\
import json
import wsplay
from wsplay import WebSocket, WebSocketDisconnectError, ws

seen = []  # what the handler saw of each connection


@ws('/echo')
async def echo(websocket: WebSocket):
    offered = websocket.subprotocols
    record = {"offered": offered, "query": websocket.query_string.decode()}
    seen.append(record)
    await websocket.accept(subprotocol=offered[-1] if offered else None)  # the last one
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(4001, "server says bye")
                return
            if text == "bytes":
                await websocket.send_bytes(bytes([0, 255]))
                continue
            await websocket.send_text(text)
    except WebSocketDisconnectError as error:
        record["close"] = [error.code, error.reason]
"""

CLIENT = "pg = wsplay.start()\nclient = wsplay.browser_client('/echo', route={route!r})"

REPORT = """\
print(json.dumps({
    "seen": seen,
    "port": pg.port,
    "url": client.url,
    "events": [
        {"id": e.connection, "side": e.side, "kind": e.kind, "direction": e.direction,
         "preview": e.preview, "subprotocol": e.subprotocol, "code": e.code,
         "reason": e.reason, "by": e.by, "headers": dict(e.headers)}
        for e in pg.timeline.events()
    ],
}))
"""

require_chromium()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    for route in ("auto", "proxy"):
        (root / f"client-{route}.ipynb").write_text(
            notebook([HANDLER, CLIENT.format(route=route), "client"])
        )
    with jupyterlab(root) as url:
        yield url


def _open_page(browser, jupyter: str, route: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{jupyter}/lab/workspaces/{uuid.uuid4().hex}/tree/client-{route}.ipynb?reset")
    run_all_cells(page)
    widget = page.locator(".wsplay-browser-client").first
    widget.wait_for(timeout=TIMEOUT_MS)
    return page, widget


def _converse(page, widget, notes: int = 0) -> dict:
    """Connect offering two subprotocols, echo "hello", close with 4000 'bye' from the page;
    connect again and have the handler close with 4001. What the page and the kernel saw."""
    status = widget.locator(".wsp-bc-status")
    log = widget.locator(".wsp-bc-log")
    widget.locator(".wsp-bc-subprotocols").fill("chat.v2, chat.v1")
    widget.locator(".wsp-bc-connect").click()
    status.filter(has_text="● open").wait_for(timeout=TIMEOUT_MS)
    opened = status.text_content()
    widget.locator(".wsp-bc-payload").fill("hello")
    widget.locator(".wsp-bc-send").click()
    log.locator("tr", has_text="←").filter(has_text="hello").wait_for(timeout=TIMEOUT_MS)
    widget.locator(".wsp-bc-payload").fill("bytes")
    widget.locator(".wsp-bc-send").click()
    log.locator("tr.wsp-bc-bytes", has_text="2 B: 00 ff").wait_for(timeout=TIMEOUT_MS)
    widget.locator(".wsp-bc-code").fill("1001")  # a code a page may not send
    widget.locator(".wsp-bc-close").click()
    refused = widget.locator(".wsp-bc-error", has_text="1000 or 3000-4999")
    refused.wait_for(timeout=TIMEOUT_MS)
    assert status.text_content() == opened, "nothing was sent: still open"
    widget.locator(".wsp-bc-code").fill("4000")
    widget.locator(".wsp-bc-reason").fill("bye")
    widget.locator(".wsp-bc-close").click()
    status.filter(has_text="closed").wait_for(timeout=TIMEOUT_MS)
    page_closed = log.locator("tr.wsp-bc-close").first.text_content()
    widget.locator(".wsp-bc-connect").click()
    status.filter(has_text="● open").wait_for(timeout=TIMEOUT_MS)
    widget.locator(".wsp-bc-payload").fill("bye")
    widget.locator(".wsp-bc-send").click()
    status.filter(has_text="closed").wait_for(timeout=TIMEOUT_MS)
    server_closed = log.locator("tr.wsp-bc-close").first.text_content()
    if notes:
        widget.locator(f".wsp-bc-note >> nth={notes - 1}").wait_for(timeout=TIMEOUT_MS)
    kernel = json.loads(kernel_output(page, REPORT).strip().splitlines()[-1])
    return {
        "opened": opened,
        "page_closed": page_closed,
        "server_closed": server_closed,
        "notes": widget.locator(".wsp-bc-note").all_text_contents(),
        "route": widget.locator(".wsp-bc-route").text_content(),
        "kernel": kernel,
    }


def _events(kernel: dict, connection: int, side: str, kind: str) -> list[dict]:
    return [
        event
        for event in kernel["events"]
        if (event["id"], event["side"], event["kind"]) == (connection, side, kind)
    ]


def _assert_both_sides_share_the_ids(kernel: dict, origin: str) -> None:
    for connection in (1, 2):
        for side in ("client", "server"):
            assert len(_events(kernel, connection, side, "handshake")) == 1
            assert len(_events(kernel, connection, side, "close")) == 1
        (handshake,) = _events(kernel, connection, "server", "handshake")
        assert handshake["headers"]["origin"] == origin  # the page's own: allowed (loopback)
    messages = {
        (e["side"], e["direction"], e["preview"])
        for e in kernel["events"]
        if e["kind"] == "message" and e["id"] == 1
    }
    for side in ("client", "server"):  # the page reports what it sent and received, too
        assert {(side, "in", "hello"), (side, "out", "hello"), (side, "out", "00 ff")} <= messages
    # The id travelled as ?wsplay-connection=N and was taken out before the handler ran.
    assert [record["query"] for record in kernel["seen"]] == ["", ""]


def test_the_page_echoes_and_closes_directly_on_127_0_0_1(jupyter: str, browser) -> None:
    page, widget = _open_page(browser, jupyter, "auto")  # the page is on 127.0.0.1: direct
    seen = _converse(page, widget)
    kernel = seen["kernel"]
    assert seen["route"] == "Route: directly to the playground on 127.0.0.1"
    assert kernel["url"] == f"ws://127.0.0.1:{kernel['port']}/echo"
    assert seen["opened"] == "● open #1 with subprotocol 'chat.v1'"  # the handler's choice
    assert kernel["seen"][0]["close"] == [4000, "bye"]  # the handler got the page's code
    assert seen["page_closed"].endswith("closed by the page: 4000 'bye'")
    assert seen["server_closed"].endswith("closed by the server: 4001 'server says bye'")
    assert seen["notes"] == []  # nothing differed between the two sides
    _assert_both_sides_share_the_ids(kernel, origin=jupyter)
    _finish(page, "browser-client-direct.png")


def test_the_page_echoes_through_jupyter_server_proxy_which_changes_codes(
    jupyter: str, browser
) -> None:
    page, widget = _open_page(browser, jupyter, "proxy")
    seen = _converse(page, widget, notes=4)
    kernel = seen["kernel"]
    assert seen["route"].startswith("Route: through jupyter-server-proxy.")
    assert kernel["url"] == f"{jupyter.replace('http', 'ws')}/proxy/{kernel['port']}/echo"
    # The proxy answered the page with the first subprotocol offered; the handler chose the
    # last: each side got a different one.
    assert seen["opened"] == "● open #1 with subprotocol 'chat.v2'"
    (accepted,) = _events(kernel, 1, "server", "accept")
    assert accepted["subprotocol"] == "chat.v1"
    # Close codes do not pass through: the page's 4000 'bye' reaches the handler as 1005
    # (a close frame with no code), and the handler's 4001 reaches the page as 1005.
    assert kernel["seen"][0]["close"] == [1005, ""]
    assert seen["page_closed"].endswith("closed by the page: 4000")  # the proxy's echo
    assert seen["server_closed"].endswith("closed by the server: 1005")
    (handshake,) = _events(kernel, 1, "server", "handshake")
    assert handshake["headers"]["host"] == jupyter.removeprefix("http://")  # forwarded
    subprotocols = (
        "The page offered chat.v2, chat.v1 and got 'chat.v2', but your handler accepted "
        "'chat.v1': jupyter-server-proxy answered the page itself, with the first one offered. "
        "Offer the one you want first, or only one."
    )
    assert sorted(seen["notes"]) == [
        "#1: The page closed with 4000; your handler got 1005 (No Status Received: the close "
        "frame carried no code): jupyter-server-proxy does not pass close codes on.",
        f"#1: {subprotocols}",
        f"#2: {subprotocols}",
        "#2: Your handler closed with 4001; the page got 1005 (No Status Received: the close "
        "frame carried no code): jupyter-server-proxy does not pass close codes on.",
    ]
    _assert_both_sides_share_the_ids(kernel, origin=jupyter)
    _finish(page, "browser-client-proxy.png")


def _finish(page, screenshot: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    shut_down_kernel(page)
    page.close()
