"""BlackSheep's ``@auth`` is refused in either decorator order, never served to anyone.

``@auth("admin")`` above ``@router.ws(...)`` is the order BlackSheep's own integration apps
use: the route registers the handler before ``auth`` marks it, so only a check when a
connection arrives can see it. Served by real uvicorn (and by the playground), reached with
the real ``websockets`` client.
"""

from __future__ import annotations

import pytest
from blacksheep.server.authorization import auth
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import wsplay
from tests.servers import serve_uvicorn
from wsplay import Application, InvalidRouteError, Router, WebSocket

TIMEOUT = 10
SENTENCE = (
    "The handler admin_room() for '/admin' is decorated with BlackSheep's @auth(...), which "
    "wsplay does not enforce: it would be served to anyone, so wsplay refuses every "
    "connection (HTTP 403). Remove @auth and check the credentials in the handler before "
    "`await websocket.accept()`"
)


def auth_above_the_route() -> Router:
    router = Router()

    @auth("admin")
    @router.ws("/admin")
    async def admin_room(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("secret")

    return router


def refusal(url: str) -> tuple[int, str]:
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(f"{url}/admin", open_timeout=TIMEOUT) as client,
    ):
        pytest.fail(f"served to anyone: {client.recv(timeout=TIMEOUT)!r}")
    response = refused.value.response
    return response.status_code, response.body.decode()


def test_auth_above_the_route_is_refused_with_403_and_a_sentence_on_uvicorn() -> None:
    with serve_uvicorn(Application(router=auth_above_the_route())) as url:
        status, body = refusal(url)
    assert status == 403
    assert body.startswith(SENTENCE), body


def test_auth_above_the_route_is_refused_in_the_playground_and_said_there(
    capsys: pytest.CaptureFixture[str],
) -> None:
    playground = wsplay.Playground(Application(router=auth_above_the_route())).start()
    try:
        status, body = refusal(playground.url)
    finally:
        playground.stop()
    assert status == 403
    assert body.startswith(SENTENCE), body
    assert SENTENCE in capsys.readouterr().err


def test_auth_below_the_route_is_refused_when_it_registers() -> None:
    router = Router()
    with pytest.raises(InvalidRouteError) as refused:

        @router.ws("/admin")
        @auth("admin")
        async def admin_room(websocket: WebSocket):
            await websocket.accept()

    assert str(refused.value).startswith(
        "The handler admin_room() for '/admin' is decorated with BlackSheep's @auth(...), "
        "which wsplay does not enforce: it would be served to anyone, so it cannot be "
        "registered. Remove @auth"
    )
    assert len(router) == 0
