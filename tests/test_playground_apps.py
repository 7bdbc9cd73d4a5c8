"""The playground hosts any ASGI app: the timeline, errors and server-side closes work for
BlackSheep and Starlette apps as for wsplay's, because they are recorded at the ASGI level.

No ``from __future__ import annotations`` here: BlackSheep must see real annotation objects.
"""

import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsplay import Playground, WebSocketClosedError


def blacksheep_app() -> Any:
    from blacksheep import Application, Router, WebSocket

    router = Router()

    @router.ws("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    @router.ws("/boom")
    async def boom(websocket: WebSocket):
        await websocket.accept()
        raise ValueError("blacksheep handler broke")

    return Application(router=router)


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    async def boom(websocket: WebSocket):
        await websocket.accept()
        raise ValueError("starlette handler broke")

    return Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/boom", boom)])


APPS: dict[str, Callable[[], Any]] = {"blacksheep": blacksheep_app, "starlette": starlette_app}


@pytest.fixture(params=list(APPS))
def playground(request: pytest.FixtureRequest) -> Iterator[Playground]:
    playground = Playground(APPS[request.param]()).start()
    playground.print_errors = False  # keep the test's output quiet; errors are asserted
    yield playground
    playground.stop()


def test_routes_and_a_two_sided_timeline(playground: Playground) -> None:
    assert playground.routes == ["/echo", "/boom"]
    connection = playground.connect_sync("/echo")
    connection.send_text("hello")
    assert connection.receive_text() == "hello"
    connection.close(4000, "done")
    server = [e for e in playground.timeline.events(connection.id) if e.side == "server"]
    kinds = [event.kind for event in server]
    assert kinds[:4] == ["handshake", "accept", "message", "message"]
    assert [e.direction for e in server if e.kind == "message"] == ["in", "out"]
    closes = playground.timeline.events(connection.id, kind="close")
    assert {(e.side, e.by, e.code) for e in closes} == {
        ("client", "client", 4000),
        ("server", "client", 4000),
    }
    assert playground.timeline.counts(connection.id) == {
        "server": {"in": 1, "out": 1},
        "client": {"in": 1, "out": 1},
    }


def test_handler_errors_are_caught_with_their_connection(playground: Playground) -> None:
    connection = playground.connect_sync("/boom")
    with pytest.raises(WebSocketClosedError) as closed:
        connection.receive_text()
    assert closed.value.code == 1011
    error = playground.errors[-1]
    assert (error.connection, error.path) == (connection.id, "/boom")
    assert "handler broke" in str(error.exception) and "Traceback" in error.traceback
    assert playground.timeline.events(connection.id, kind="error")


def test_close_from_the_server_side(playground: Playground) -> None:
    connection = playground.connect_sync("/echo")
    connection.send_text("ping")
    assert connection.receive_text() == "ping"
    (server_side,) = [c for c in playground.connections if c.id == connection.id]
    server_side.close(4001, "from a cell")
    with pytest.raises(WebSocketClosedError) as closed:
        connection.receive_text()
    assert (closed.value.code, closed.value.reason) == (4001, "from a cell")


def test_swapping_the_app_serves_new_connections_only() -> None:
    playground = Playground(starlette_app()).start()
    try:
        old = playground.connect_sync("/echo")
        assert wsplay_start_swaps(playground, blacksheep_app()) is playground
        new = playground.connect_sync("/boom")
        with pytest.raises(WebSocketClosedError):
            new.receive_text()
        assert "blacksheep" in str(playground.errors[-1].exception)
        old.send_text("still starlette")
        assert old.receive_text() == "still starlette"
    finally:
        playground.stop()


def wsplay_start_swaps(playground: Playground, app: Any) -> Playground:
    playground.print_errors = False
    playground.app = app
    return playground


def test_a_host_other_than_loopback_is_a_warning_that_says_who_can_connect() -> None:
    with pytest.warns(UserWarning, match="other machines .* can now connect"):
        Playground(host="0.0.0.0")._warn_if_not_loopback()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
            Playground(host=host)._warn_if_not_loopback()


def test_the_gil_switch_interval_is_lowered_while_playgrounds_run_and_restored() -> None:
    import sys

    before = sys.getswitchinterval()
    first = Playground(starlette_app()).start()
    second = Playground(starlette_app()).start()
    try:
        assert sys.getswitchinterval() == 0.001
        first.stop()
        assert sys.getswitchinterval() == 0.001  # the second one still runs
    finally:
        first.stop()
        second.stop()
    assert sys.getswitchinterval() == before
    untouched = Playground(starlette_app(), switch_interval=None).start()
    try:
        assert sys.getswitchinterval() == before
    finally:
        untouched.stop()


def test_ping_returns_the_round_trip_and_both_sides_draw_it(playground: Playground) -> None:
    connection = playground.connect_sync("/echo")
    round_trip = connection.ping()
    assert 0 < round_trip < playground.timeout
    seen = [
        (event.side, event.kind, event.direction)
        for event in playground.timeline.events(connection=connection.id)
        if event.kind in ("ping", "pong")
    ]
    assert ("client", "ping", "in") in seen and ("client", "pong", "out") in seen
    assert ("server", "ping", "in") in seen and ("server", "pong", "out") in seen
    connection.close()


def test_the_keepalive_is_settable_and_drawn(playground: Playground) -> None:
    playground.stop()
    keepalive = Playground(playground.app, ping_interval=0.1, ping_timeout=5).start()
    try:
        connection = keepalive.connect_sync("/echo")

        def server_pings() -> list[str | None]:
            return [
                event.direction
                for event in keepalive.timeline.events(connection=connection.id)
                if event.side == "server" and event.kind in ("ping", "pong")
            ]

        deadline = time.monotonic() + 10
        while server_pings()[:2] != ["out", "in"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server_pings()[:2] == ["out", "in"]  # the server's ping, the client's pong
        connection.close()
    finally:
        keepalive.stop()


def test_on_error_tells_a_listener_until_it_stops(playground: Playground) -> None:
    def boom_once(errors_after: int) -> None:
        connection = playground.connect_sync("/boom")
        with pytest.raises(WebSocketClosedError):
            connection.receive_text()
        deadline = time.monotonic() + 10
        while len(playground.errors) < errors_after:
            assert time.monotonic() < deadline, "the error never reached pg.errors"
            time.sleep(0.02)

    heard = []
    stop = playground.on_error(heard.append)
    boom_once(1)
    stop()
    boom_once(2)
    assert [error.path for error in heard] == ["/boom"]
