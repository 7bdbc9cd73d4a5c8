"""Plain HTTP is guarded like WebSockets, and both by the Host too (SPEC §5b, issue 19.4).

A DNS-rebinding page renames the playground (``evil.example`` resolves to 127.0.0.1): its
requests are then same-origin, carry no ``Origin``, but say ``Host: evil.example:<port>``.
It must get a 403 with a sentence naming the fix, never the app's body. A normal local
request still gets the app.

No kernel: a ``wsplay.Playground`` serves a Starlette app (an HTTP route and a WebSocket
route) on real uvicorn on 127.0.0.1; the requests go over raw sockets (tests/rawws.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

import wsplay
from tests.apps import echo
from tests.rawws import TIMEOUT, http_exchange, upgrade_request
from wsplay import Application

SECRET = "the notebook's variables"


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute

    async def secret(request):
        return PlainTextResponse(SECRET)

    async def tell(websocket):
        await websocket.accept()
        await websocket.send_text(SECRET)
        await websocket.close()

    return Starlette(routes=[Route("/secret", secret), WebSocketRoute("/ws", tell)])


@pytest.fixture(scope="module")
def pg() -> Iterator[wsplay.Playground]:
    playground = wsplay.Playground(starlette_app()).start()
    yield playground
    playground.stop()


def get(
    port: int, headers: dict[str, str], version: str = "1.1", path: str = "/secret"
) -> tuple[int, str]:
    """GET ``path`` with exactly ``headers``: (status, body)."""
    lines = [f"GET {path} HTTP/{version}", *(f"{n}: {v}" for n, v in headers.items())]
    request = "\r\n".join([*lines, "Connection: close", "", ""]).encode()
    status_line, body, _ = http_exchange(port, request)
    return int(status_line.split()[1]), body


def rebinding_requests(port: int) -> dict[str, dict[str, str]]:
    return {
        "renamed, same-origin (no Origin)": {"Host": f"evil.example:{port}"},
        "renamed, with its Origin": {
            "Host": f"evil.example:{port}",
            "Origin": f"http://evil.example:{port}",
        },
        "a name ending in a dot": {"Host": f"evil.example.:{port}"},
    }


LOCAL_REQUESTS = [
    {"Host": "127.0.0.1:{port}"},
    {"Host": "localhost:{port}"},
    {"Host": "[::1]:{port}"},
    {"Host": "lab.localhost:{port}", "Origin": "http://lab.localhost:8888"},
    {"Host": "127.0.0.1:{port}", "Origin": "http://localhost:8888"},
    {"Host": "127.0.0.1:{port}", "Origin": "http://127.0.0.1:{port}"},
]


def test_a_dns_rebinding_page_gets_403_with_the_fix_not_the_app_s_body(pg) -> None:
    for case, headers in rebinding_requests(pg.port).items():
        status, body = get(pg.port, headers)
        assert status == 403, case
        assert SECRET not in body, case
        assert "DNS rebinding" in body and "wsplay.start(allowed_hosts=['evil.example'])" in body
    # What the sentence quotes from the wire cannot pose as the playground's own words.
    status, body = get(pg.port, {"Host": "evil.example"}, path="/%0Awsplay:%20all%20fine%1B[2J")
    assert status == 403 and "\n" not in body and "\x1b" not in body
    for headers in LOCAL_REQUESTS:  # while this machine's own requests get the app
        sent = {name: value.format(port=pg.port) for name, value in headers.items()}
        assert get(pg.port, sent) == (200, SECRET), sent


def test_a_page_from_another_site_gets_403_for_http_as_for_websockets(pg) -> None:
    status, body = get(pg.port, {"Host": f"127.0.0.1:{pg.port}", "Origin": "https://evil.example"})
    assert status == 403 and SECRET not in body
    assert "refused an HTTP request (GET /secret) from https://evil.example" in body
    assert "wsplay.start(allowed_origins=['https://evil.example'])" in body
    # No Host and no Origin (HTTP/1.0): not a browser, so no page can be behind it.
    assert get(pg.port, {}, version="1.0") == (200, SECRET)


def test_a_websocket_handshake_for_another_host_is_refused(pg) -> None:
    status, body, _ = http_exchange(pg.port, upgrade_request(pg.port, "/ws", Host="evil.example"))
    assert status.split()[1] == "403" and SECRET not in body
    assert "wsplay.start(allowed_hosts=['evil.example'])" in body
    status, _, _ = http_exchange(pg.port, upgrade_request(pg.port, "/ws", Host="localhost"))
    assert status.split()[1] == "101"
    rejects = pg.timeline.events(kind="reject")
    assert rejects[-1].reason == "Host evil.example is not allowed" and rejects[-1].code == 403


def test_refused_http_is_on_the_timeline_and_said_once(capsys) -> None:
    playground = wsplay.Playground(starlette_app()).start()
    try:
        for _ in range(3):
            assert get(playground.port, {"Host": "evil.example"})[0] == 403
        said = capsys.readouterr().err
        warnings = playground.timeline.events(kind="warning")
    finally:
        playground.stop()
    assert said.count("refused an HTTP request (GET /secret) addressed to evil.example") == 1
    refused = [event for event in warnings if event.reason == "Host evil.example is not allowed"]
    assert len(refused) == 3 and {event.code for event in refused} == {403}
    assert refused[0].preview.startswith("refused an HTTP request (GET /secret)")


def test_allowed_hosts_and_the_jupyter_page_let_a_name_in() -> None:
    playground = wsplay.Playground(starlette_app(), allowed_hosts=["class.example"]).start()
    try:
        port = playground.port
        assert get(port, {"Host": f"class.example:{port}"}) == (200, SECRET)
        assert get(port, {"Host": f"evil.example:{port}"})[0] == 403
        assert get(port, {"Host": "lab.example.net"})[0] == 403
        playground.gate.trust("https://lab.example.net/user/ada/lab/tree/01.ipynb")
        assert get(port, {"Host": "lab.example.net"}) == (200, SECRET)
    finally:
        playground.stop()


def test_allowed_hosts_star_turns_the_check_off_through_wsplay_start() -> None:
    playground = wsplay.start(app=starlette_app(), allowed_hosts="*")
    try:
        assert get(playground.port, {"Host": "evil.example"}) == (200, SECRET)
        url = f"ws://127.0.0.1:{playground.port}/ws"
        with connect(url, additional_headers={"Host": "evil.example"}, open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT) == SECRET
    finally:
        playground.stop()


def test_an_allowed_host_that_is_a_url_is_refused_with_the_fix() -> None:
    with pytest.raises(
        ValueError, match=r"allowed_hosts takes host names such as 'class\.example'"
    ):
        wsplay.Playground(allowed_hosts=["https://class.example"])


def test_the_hub_s_host_and_the_address_asked_for_are_let_in(monkeypatch) -> None:
    from wsplay.runtime.server.origins import Gate, HostPolicy

    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/user/ada/")
    assert Gate().refusal([(b"host", b"hub.example.org")]) is None
    assert Gate().refusal([(b"host", b"evil.example")]) is not None
    shared = HostPolicy()
    shared.listening_on("0.0.0.0")  # the learner asked to share: IP addresses cannot rebind
    assert shared.refusal([(b"host", b"192.168.1.20:8000")]) is None
    assert shared.refusal([(b"host", b"evil.example:8000")]) is not None
    assert HostPolicy(["fe80::1"]).refusal([(b"host", b"[fe80::1]:8000")]) is None
    one = HostPolicy()
    one.listening_on("192.168.1.20")
    assert one.refusal([(b"host", b"192.168.1.20:8000")]) is None
    assert one.refusal([(b"host", b"192.168.1.21:8000")]) is not None


def test_to_test_leaves_out_a_handshake_the_host_check_refused(tmp_path) -> None:
    app = Application()
    app.router.add_ws("/echo", echo)
    playground = wsplay.Playground(app).start()
    try:
        port = playground.port
        status, _, _ = http_exchange(port, upgrade_request(port, "/echo", Host="evil.example"))
        assert status.split()[1] == "403"
        conn = playground.connect_sync("/echo")
        conn.send_text("hello")
        assert conn.receive_text() == "hello"
        conn.close()
        written = playground.timeline.to_test(tmp_path / "test_replay.py", app=app)
    finally:
        playground.stop()
    (why,) = [why for _, why in written.left_out]
    assert why.startswith("Host evil.example is not allowed: the Host check is the playground's")


def test_the_page_a_panel_is_shown_in_may_reach_the_playground_by_its_name() -> None:
    playground = wsplay.Playground(starlette_app()).start()
    panel = wsplay.Panel(playground)
    try:
        assert get(playground.port, {"Host": "lab.example.net"})[0] == 403
        panel.timeline.page_url = "https://lab.example.net/user/ada/lab/tree/01.ipynb"
        assert get(playground.port, {"Host": "lab.example.net"}) == (200, SECRET)
    finally:
        panel.close()
        playground.stop()
