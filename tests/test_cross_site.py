"""A page of another site cannot run a guest app's HTTP routes without an Origin (CSRF).

An ``<img src="http://127.0.0.1:<port>/delete">`` or a ``fetch(..., {mode: "no-cors"})`` on
http://evil.example sends ``Host: 127.0.0.1:<port>``, no ``Origin``, and
``Sec-Fetch-Site: cross-site``, which no page can forge. The gate refuses it (HTTP 403 with
the fix), for HTTP and WebSocket alike; same-origin, same-site (the Jupyter page on another
loopback port), ``none`` (typed in the address bar) and no header at all still get the app,
and so does a cross-site request whose ``Origin`` the policy allows (the Jupyter page on
localhost:8888 is "cross-site" to 127.0.0.1). ``allowed_origins="*"`` turns it off.

Raw requests against a ``wsplay.Playground`` on real uvicorn, then once in real headless
Chromium, with ``evil.example`` mapped to 127.0.0.1.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import wsplay
from tests.jupyterlab import chromium, require_chromium
from tests.rawws import http_exchange, upgrade_request
from tests.test_host_guard import get
from wsplay.runtime.server.origins import Gate, Refusal

DELETED = "deleted everything"


def starlette_app(seen: list[str]) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute

    async def delete(request):
        seen.append(request.url.path)
        return PlainTextResponse(DELETED)

    async def tell(websocket):
        await websocket.accept()
        await websocket.close()

    return Starlette(routes=[Route("/delete", delete), WebSocketRoute("/ws", tell)])


@pytest.fixture
def served() -> Iterator[tuple[wsplay.Playground, list[str]]]:
    seen: list[str] = []
    playground = wsplay.Playground(starlette_app(seen)).start()
    yield playground, seen
    playground.stop()


def test_a_cross_site_request_without_origin_is_refused_with_the_fix(served, capsys) -> None:
    pg, seen = served
    host = f"127.0.0.1:{pg.port}"
    status, body = get(pg.port, {"Host": host, "Sec-Fetch-Site": "cross-site"}, path="/delete")
    assert status == 403 and DELETED not in body and seen == []
    assert "Sec-Fetch-Site: cross-site" in body and "allowed_origins='*'" in body
    assert "Sec-Fetch-Site: cross-site" in capsys.readouterr().err  # said in the notebook too
    status, body, _ = http_exchange(
        pg.port, upgrade_request(pg.port, "/ws", Sec_Fetch_Site="cross-site", Origin=None)
    )
    assert status.split()[1] == "403" and "Sec-Fetch-Site" in body
    assert (
        pg.timeline.events(kind="reject")[-1].reason == "Sec-Fetch-Site cross-site is not allowed"
    )
    for site in ("same-origin", "same-site", "none", None):
        headers = {"Host": host} | ({"Sec-Fetch-Site": site} if site else {})
        assert get(pg.port, headers, path="/delete") == (200, DELETED), site
    # With an Origin, the Origin decides: the Jupyter page on localhost is cross-site to
    # 127.0.0.1 and gets in; another site's page does not.
    jupyter = {"Host": host, "Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:8888"}
    assert get(pg.port, jupyter, path="/delete") == (200, DELETED)
    # A link clicked in it: no Origin, but its Referer (a page cannot forge one).
    clicked = {"Host": host, "Sec-Fetch-Site": "cross-site", "Referer": "http://localhost:8888/lab"}
    assert get(pg.port, clicked, path="/delete") == (200, DELETED)
    clicked["Referer"] = "http://evil.example/"
    assert get(pg.port, clicked, path="/delete")[0] == 403
    status, _, _ = http_exchange(
        pg.port,
        upgrade_request(pg.port, "/ws", Sec_Fetch_Site="cross-site", Origin=jupyter["Origin"]),
    )
    assert status.split()[1] == "101"


def test_allowed_origins_star_turns_the_cross_site_check_off() -> None:
    headers = [(b"host", b"127.0.0.1:1"), (b"sec-fetch-site", b"cross-site")]
    assert Gate().refusal(headers) == Refusal("Sec-Fetch-Site", "cross-site")
    assert Gate(allowed_origins="*").refusal(headers) is None
    refusal = Refusal("Sec-Fetch-Site", "cross-site")
    assert Refusal.recorded(refusal.headers) == refusal


class _EvilPage(http.server.BaseHTTPRequestHandler):
    """http://evil.example:<port>/: an image and a no-cors fetch of the playground's route."""

    target = ""

    def do_GET(self) -> None:
        page = (
            f'<img src="{self.target}?via=img">'
            f"<script>fetch('{self.target}?via=fetch', {{mode: 'no-cors'}})"
            ".finally(() => { document.title = 'sent'; });</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


def test_a_page_on_another_site_cannot_run_a_route_in_a_real_browser(served) -> None:
    require_chromium()
    pg, seen = served
    _EvilPage.target = f"http://127.0.0.1:{pg.port}/delete"
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EvilPage)
    thread = threading.Thread(target=page_server.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium("--host-resolver-rules=MAP evil.example 127.0.0.1") as browser:
            page = browser.new_page()
            page.goto(f"http://evil.example:{page_server.server_address[1]}/")
            page.wait_for_function("document.title === 'sent'", timeout=20_000)
            page.wait_for_load_state("load")  # the image's request has been answered
    finally:
        page_server.shutdown()
        page_server.server_close()
        thread.join(5)
    assert seen == []
    refused = [
        event
        for event in pg.timeline.events(kind="warning")
        if event.reason == "Sec-Fetch-Site cross-site is not allowed"
    ]
    assert len(refused) == 2  # the image and the fetch


def test_a_refusal_is_recorded_as_fields_and_explained_from_them(served) -> None:
    """The gate's event keeps the refused header itself (not a sentence to parse back): the
    kernel's client explains the refusal from it, even for a value the timeline cut."""
    pg, _ = served
    origin = "http://" + "e" * 300 + ".example"
    with pytest.raises(wsplay.HandshakeRejectedError, match="allowed_origins") as refused:
        pg.connect_sync("/ws", headers={"Origin": origin})
    assert refused.value.status == 403
    [event] = [e for e in pg.timeline.events(kind="reject") if e.side == "server"]
    assert event.side == "server" and event.asked_by == "gate"
    assert event.headers[0][0] == "Origin" and event.headers[0][1].startswith(origin[:150])
    assert Refusal.recorded(event.headers) is not None
