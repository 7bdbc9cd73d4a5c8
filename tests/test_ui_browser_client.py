"""The browser client's kernel side, in process: its checks, the id a page passes as a query
parameter, and what it says when a page could not connect.

The page itself is played here by the real ``websockets`` client plus the messages the
widget's JavaScript sends (the real page runs in tests/test_browser_client.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import wsplay
from wsplay import Application, WebSocket
from wsplay.ui.inputs import InputError


@pytest.fixture
def playground() -> Iterator[wsplay.Playground]:
    app = Application()

    @app.router.ws("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(websocket.query_string.decode() or "(no query)")

    pg = wsplay.Playground(app).start()
    yield pg
    pg.stop()


class Sent(list):
    """What the widget sends to the page; the notes come from the server's thread."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def __call__(self, content: dict) -> None:
        with self.changed:
            self.append(content)
            self.changed.notify_all()

    def wait_for(self, predicate, what: str, timeout: float = 5.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self[-1]), timeout):
                raise AssertionError(f"{what} did not come within {timeout} s: {self[-1]}")


def _client(playground, **options) -> tuple[wsplay.ui.BrowserClient, Sent]:
    client = wsplay.browser_client("/echo", playground=playground, **options)
    client.send = sent = Sent()  # what would go to the page
    return client, sent


def test_a_route_other_than_auto_direct_or_proxy_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"route is 'auto', 'direct' .* or 'proxy'"):
        wsplay.browser_client("/echo", route="tunnel")


def test_a_path_without_a_slash_is_refused_with_the_fix() -> None:
    with pytest.raises(InputError, match="did you mean '/echo'"):
        wsplay.browser_client("echo")


def test_bad_boxes_and_a_stopped_server_are_answered_to_the_page(playground) -> None:
    client, sent = _client(playground)
    client._on_page_message(client, {"do": "connect", "path": "echo", "view": "v"}, [])
    assert sent[-1] == {"error": "A path starts with '/': did you mean '/echo'?", "view": "v"}
    playground.stop()
    client._on_page_message(client, {"do": "connect", "path": "/echo", "view": "v"}, [])
    assert sent[-1]["error"] == "The server is stopped: run pg.start() first."


def test_the_page_s_connection_id_names_the_server_side_and_leaves_the_query_alone(
    playground,
) -> None:
    client, sent = _client(playground)
    client._on_page_message(client, {"do": "connect", "path": "/echo?room=1", "view": "v"}, [])
    opening = sent[-1]["open"]
    assert opening["port"] == playground.port and opening["path"] == "/echo?room=1"

    async def as_the_page_would() -> str:
        url = f"{playground.url}{opening['path']}&wsplay-connection={opening['ticket']}"
        async with connect(url) as websocket:
            return await websocket.recv()

    assert asyncio.run(as_the_page_would()) == "room=1"  # the handler never saw the id
    server_side = [e for e in playground.timeline.events(opening["id"]) if e.side == "server"]
    assert [e.kind for e in server_side][:2] == ["handshake", "accept"]
    assert client.connection == opening["id"]


def test_a_refused_handshake_is_told_apart_from_one_that_never_arrived(playground) -> None:
    client, sent = _client(playground)
    client.url = f"ws://127.0.0.1:8888/proxy/{playground.port}/nowhere"  # as the page sets it
    client._on_page_message(client, {"do": "connect", "path": "/nowhere", "view": "v"}, [])
    refused, ticket = sent[-1]["open"]["id"], sent[-1]["open"]["ticket"]

    async def refused_handshake() -> None:
        with pytest.raises(InvalidStatus):
            async with connect(f"{playground.url}/nowhere?wsplay-connection={ticket}"):
                pass

    asyncio.run(refused_handshake())
    client._on_page_message(client, {"event": "close", "opened": False, "id": refused}, [])
    sent.wait_for(lambda last: "note" in last, "the note on the refusal")
    assert sent[-1]["note"].startswith("The playground refused the handshake")

    client._on_page_message(client, {"do": "connect", "path": "/echo", "view": "v"}, [])
    lost = sent[-1]["open"]["id"]
    client._on_page_message(client, {"event": "close", "opened": False, "id": lost}, [])
    sent.wait_for(lambda last: last.get("id") == lost and "note" in last, "the note")
    assert "never reached the playground through jupyter-server-proxy" in sent[-1]["note"]
    assert "pip install 'jupyter-server-proxy>=4.2'" in sent[-1]["note"]
