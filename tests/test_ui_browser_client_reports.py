"""What the browser client's page reports to the kernel: a batch of reports in order, and of
a long message only its start with its size (tests/test_browser_client_flood.py floods the
real page; here the kernel side is fed what that page sends).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest

import wsplay
from wsplay import Application, WebSocket
from wsplay.runtime.timeline.store import PREVIEW_CHARS, Event
from wsplay.ui.log_line import MAX_LOG_LINES, MAX_TEXT_KEPT

BIG = 20_000_000


@pytest.fixture
def playground() -> Iterator[wsplay.Playground]:
    app = Application()

    @app.router.ws("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()

    pg = wsplay.Playground(app).start()
    yield pg
    pg.stop()


def client_messages(pg: wsplay.Playground, connection: int, count: int) -> list[Event]:
    """The page's message events of ``connection`` once ``count`` are recorded (on the loop)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = [
            event
            for event in pg.timeline.events(connection, kind="message")
            if event.side == "client"
        ]
        if len(events) >= count:
            return events
        time.sleep(0.01)
    raise AssertionError(f"{count} message events of #{connection} were never recorded")


def test_a_batch_of_reports_is_recorded_in_order_long_messages_by_their_size(
    playground: wsplay.Playground,
) -> None:
    client = wsplay.browser_client("/echo", playground=playground)
    sent: list[dict] = []
    client.send = sent.append  # what would go to the page
    client._on_page_message(client, {"do": "connect", "path": "/echo", "view": "v"}, [])
    connection = sent[-1]["open"]["id"]
    # What the page sends for a 20 MB text, 2 bytes, and 3 000 bytes: starts and sizes.
    start = "x" * client.report_limit
    reports = [
        {"event": "message", "direction": "out", "text": start, "size": BIG},
        {"event": "message", "direction": "in", "base64": base64.b64encode(b"hi").decode()},
        {
            "event": "message",
            "direction": "out",
            "base64": base64.b64encode(bytes(client.report_limit)).decode(),
            "size": 3000,
        },
    ]
    page = {"reports": [{"id": connection, **report} for report in reports]}
    client._on_page_message(client, page, [])
    recorded = client_messages(playground, connection, 3)
    assert [(e.direction, e.type, e.size) for e in recorded] == [
        ("out", "text", BIG),
        ("in", "bytes", 2),
        ("out", "bytes", 3000),
    ]
    assert recorded[0].preview == "x" * PREVIEW_CHARS + "…"
    assert recorded[2].preview.endswith(" …")  # the bytes were cut: said so
    # The page's bounds are the panel's log's.
    assert (client.max_rows, client.max_text) == (MAX_LOG_LINES, MAX_TEXT_KEPT)
