"""Connection ids are the kernel's, never the wire's (SPEC §5b, issue 19.6).

The kernel reserves an id for each client it opens and gives that client a one-time ticket;
a number sent as ``x-wsplay-connection: N`` or ``?wsplay-connection=N`` by anyone else
claims nothing, and a ticket is good once. The kernel's next client keeps its own id, and
``pg.connections`` and the timeline attribute each side to the right conversation.

No kernel: a ``wsplay.Playground`` on real uvicorn on 127.0.0.1, the stranger is the real
``websockets`` client, the kernel's client is ``pg.connect_sync``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import wsplay
from tests.rawws import TIMEOUT
from wsplay import Application, WebSocket


@pytest.fixture
def pg() -> Iterator[wsplay.Playground]:
    app = Application()

    @app.router.ws("/who")
    async def who(websocket: WebSocket):
        """Says what the app saw of the id: neither the header nor the parameter, ever."""
        await websocket.accept()
        header = websocket.get_first_header(b"x-wsplay-connection")
        seen = {"query": websocket.query_string.decode(), "header": header is not None}
        await websocket.send_text(json.dumps(seen))
        await websocket.receive_text()  # stays open until the client leaves

    playground = wsplay.Playground(app).start()
    yield playground
    playground.stop()


def server_handshakes(pg: wsplay.Playground, connection: int) -> list[str]:
    events = pg.timeline.events(connection=connection, kind="handshake")
    return [event.path for event in events if event.side == "server"]


def test_a_stranger_s_header_cannot_take_the_id_the_kernel_hands_out_next(pg) -> None:
    url = f"{pg.url}/who?stranger"
    with connect(url, additional_headers={"x-wsplay-connection": "1"}) as stranger:
        assert json.loads(stranger.recv(timeout=TIMEOUT)) == {"query": "stranger", "header": False}
        kernel_client = pg.connect_sync("/who?kernel")
        try:
            assert json.loads(kernel_client.receive_text()) == {"query": "kernel", "header": False}
            by_path = {c.query: c.id for c in pg.connections}
            assert by_path["kernel"] == kernel_client.id  # the kernel's client kept its own id
            assert by_path["stranger"] != kernel_client.id
            assert server_handshakes(pg, kernel_client.id) == ["/who"]  # one story, not two
            stranger_id = by_path["stranger"]
            assert [e.side for e in pg.timeline.events(connection=stranger_id)] == ["server"] * 3
        finally:
            kernel_client.close()


def test_a_refused_cross_site_handshake_cannot_take_an_id_by_its_query(pg) -> None:
    url = f"{pg.url}/who?wsplay-connection=1"
    with pytest.raises(InvalidStatus), connect(url, origin="https://evil.example"):
        pass
    (refused,) = pg.timeline.events(kind="reject")
    kernel_client = pg.connect_sync("/who")
    try:
        assert kernel_client.id != refused.connection
        assert not pg.timeline.events(connection=kernel_client.id, kind="reject")
        assert [c.id for c in pg.connections] == [kernel_client.id]
    finally:
        kernel_client.close()


def test_a_page_s_ticket_is_good_once_and_never_reaches_the_app(pg) -> None:
    client = wsplay.browser_client("/who", playground=pg)
    sent: list[dict] = []
    client.send = sent.append  # what would go to the page
    client._on_page_message(client, {"do": "connect", "path": "/who?room=1", "view": "v"}, [])
    opening = sent[-1]["open"]
    assert opening["ticket"] != str(opening["id"])  # a token, not the bare number
    url = f"{pg.url}/who?room=1&wsplay-connection={opening['ticket']}"
    with connect(url) as page:
        assert json.loads(page.recv(timeout=TIMEOUT)) == {"query": "room=1", "header": False}
        with connect(url) as replayed:  # the same ticket again: a fresh id, still stripped
            assert json.loads(replayed.recv(timeout=TIMEOUT)) == {
                "query": "room=1",
                "header": False,
            }
            ids = sorted(c.id for c in pg.connections)
    assert len(ids) == 2 and opening["id"] in ids
    assert server_handshakes(pg, opening["id"]) == ["/who"]


def test_the_kernel_client_presents_a_ticket_not_its_id(pg) -> None:
    kernel_client = pg.connect_sync("/who")
    try:
        own = kernel_client.id
        # The ticket as the client sent it: its handshake request, read off the wire.
        (ticket,) = re.findall(rb"x-wsplay-connection: (\S+)", kernel_client.wire.request)
        ticket = ticket.decode()
        assert ticket != str(own) and len(ticket) >= 20  # unguessable, not the bare number
        with connect(f"{pg.url}/who", additional_headers={"x-wsplay-connection": ticket}):
            pass  # the ticket was spent by the kernel's client: this gets a fresh id
        assert server_handshakes(pg, own) == ["/who"]
    finally:
        kernel_client.close()
