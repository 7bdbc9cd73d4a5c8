"""FastAPI, Starlette and BlackSheep apps as first-class guests of the playground (a real
uvicorn on 127.0.0.1, the kernel client): their routes listed whatever the framework, their
lifespan run when they are swapped in and out, and a path registered twice served by its
newest handler. The kernel's side (cells re-run, ``%wsplay routes``) is in
tests/test_asgi_guests_kernel.py.

No ``from __future__ import annotations``: FastAPI and BlackSheep read real annotations.
"""

import contextlib
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.endpoints import WebSocketEndpoint
from starlette.routing import Mount, Route, WebSocketRoute

from wsplay import Application, Playground, Router
from wsplay.runtime.guests.lifespan import LifespanError
from wsplay.runtime.guests.routes import route_table


@pytest.fixture
def playground() -> Iterator[Playground]:
    playground = Playground(Application(router=Router())).start()
    playground.print_errors = False
    yield playground
    playground.stop()


def says(text: str):
    """A FastAPI handler that accepts and sends ``text`` and what its lifespan put in state."""

    async def handler(websocket: WebSocket):
        await websocket.accept()
        state = getattr(websocket.state, "greeting", "no state")
        await websocket.send_text(f"{text} ({state})")
        await websocket.close()

    return handler


def first_message(playground: Playground, path: str) -> str:
    connection = playground.connect_sync(path)
    try:
        return connection.receive_text()
    finally:
        connection.close()


# --- 22.1: the routes of every framework ------------------------------------------------
def test_fastapi_routes_with_included_routers_and_mounts_are_listed_and_marked(
    playground: Playground,
) -> None:
    app = FastAPI()
    app.add_api_websocket_route("/hello", says("hello"))
    app.add_api_route("/", lambda: {"ok": True})
    chat = APIRouter(prefix="/chat")
    chat.add_api_websocket_route("/{room}", says("room"))
    app.include_router(chat, prefix="/v1")
    inner = FastAPI()
    inner.add_api_websocket_route("/inner", says("inner"))
    app.mount("/sub", inner)
    wsplay_router = Router()
    wsplay_router.add_ws("/w/{name}", says("wsplay"))
    app.mount("/wsplay", Application(router=wsplay_router))

    playground.app = app
    assert playground.routes == ["/hello", "/v1/chat/{room}", "/sub/inner", "/wsplay/w/{name}"]
    table = {(route.path, route.kind, route.framework) for route in playground.route_table}
    assert ("/hello", "websocket", "fastapi") in table
    assert ("/", "http", "fastapi") in table
    assert ("/wsplay/w/{name}", "websocket", "wsplay") in table
    assert first_message(playground, "/v1/chat/kitchen").startswith("room")
    assert first_message(playground, "/sub/inner").startswith("inner")


def test_starlette_routes_endpoint_classes_and_mounts_are_listed(playground: Playground) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket, data):
            await websocket.send_text(data)

    async def page(request):  # an HTTP route: listed, not as a WebSocket one
        raise AssertionError("never requested")

    app = Starlette(
        routes=[
            WebSocketRoute("/echo", Echo),
            Route("/", page),
            Mount("/rooms", routes=[WebSocketRoute("/{room}", Echo)]),
        ]
    )
    playground.app = app
    assert playground.routes == ["/echo", "/rooms/{room}"]
    kinds = {route.path: route.kind for route in playground.route_table}
    assert kinds == {"/echo": "websocket", "/": "http", "/rooms/{room}": "websocket"}
    connection = playground.connect_sync("/rooms/a")
    connection.send_text("through the mount")
    assert connection.receive_text() == "through the mount"
    connection.close()


def test_blacksheep_routes_are_listed_before_its_first_request() -> None:
    from blacksheep import Application as BlackSheep

    app = BlackSheep()

    @app.router.ws("/chat/{room}")
    async def chat(websocket):
        await websocket.accept()

    @app.router.get("/")
    async def index():
        return "index"

    assert not app.started
    assert [(r.path, r.kind) for r in route_table(app)] == [
        ("/chat/{room}", "websocket"),
        ("/", "http"),
    ]


# --- 22.2: the lifespan of an app swapped in and out -----------------------------------
def app_with_lifespan(log: list[str], name: str) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app):
        log.append(f"{name} up")
        yield {"greeting": f"{name} state"}
        log.append(f"{name} down")

    app = FastAPI(lifespan=lifespan)
    app.add_api_websocket_route("/hello", says(name))
    return app


def test_an_app_swapped_in_starts_before_it_serves_and_shuts_down_when_swapped_out(
    playground: Playground,
) -> None:
    log: list[str] = []
    playground.app = app_with_lifespan(log, "first")
    assert log == ["first up"]
    assert first_message(playground, "/hello") == "first (first state)"
    playground.app = app_with_lifespan(log, "second")
    assert log == ["first up", "second up", "first down"]
    assert first_message(playground, "/hello") == "second (second state)"

    async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket", "no lifespan: served without one, as by uvicorn"
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bare"})
        await send({"type": "websocket.close", "code": 1000})

    playground.app = bare
    assert log[-1] == "second down"
    assert first_message(playground, "/hello") == "bare"
    playground.app = app_with_lifespan(log, "third")
    playground.stop()
    assert log[-2:] == ["third up", "third down"]


def test_a_raw_app_that_reads_first_and_raises_on_the_lifespan_scope_is_served(
    playground: Playground,
) -> None:
    """uvicorn's lifespan="auto": an app that raises without saying startup.failed does not
    speak lifespan (here it reads, then looks up a WebSocket-only key), and is served."""

    async def reads_then_assumes_websocket(scope: dict[str, Any], receive: Any, send: Any):
        await receive()
        subprotocols = scope["subprotocols"]  # KeyError on the lifespan scope
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"offered {len(subprotocols)}"})
        await send({"type": "websocket.close", "code": 1000})

    playground.app = reads_then_assumes_websocket
    assert first_message(playground, "/any") == "offered 0"


def test_on_event_startup_runs_when_swapped_in_and_shutdown_when_stopped(
    playground: Playground,
) -> None:
    log: list[str] = []
    app = FastAPI()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # on_event: deprecated, still used

        @app.on_event("startup")
        async def connect_the_database():
            log.append("startup")

        @app.on_event("shutdown")
        def close_the_database():
            log.append("shutdown")

    app.add_api_websocket_route("/hello", says("events"))
    playground.app = app
    assert log == ["startup"]
    playground.stop()
    assert log == ["startup", "shutdown"]


def test_a_failing_startup_names_the_app_and_the_previous_app_keeps_serving(
    playground: Playground, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    good = app_with_lifespan(log, "good")
    playground.app = good

    @contextlib.asynccontextmanager
    async def broken(app):
        raise ConnectionRefusedError("the database is not running")
        yield

    bad = FastAPI(lifespan=broken)
    bad.add_api_websocket_route("/hello", says("bad"))
    # The names a notebook gives them (its globals are __main__'s).
    monkeypatch.setattr(sys.modules["__main__"], "broken_app", bad, raising=False)
    monkeypatch.setattr(sys.modules["__main__"], "good_app", good, raising=False)
    with pytest.raises(LifespanError) as failed:
        playground.app = bad
    headline = str(failed.value).splitlines()[0]
    assert headline.startswith("The startup of the FastAPI app `broken_app` failed")
    assert "(ConnectionRefusedError: the database is not running)" in headline
    assert headline.endswith("The playground keeps serving the FastAPI app `good_app`.")
    assert playground.app is good
    assert first_message(playground, "/hello") == "good (good state)"
    assert log == ["good up"]  # the good app was not shut down


def test_an_app_that_fails_to_start_is_named_and_leaves_no_thread_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    @contextlib.asynccontextmanager
    async def broken(app):
        raise RuntimeError("no database")
        yield

    fresh = FastAPI(lifespan=broken)
    monkeypatch.setattr(sys.modules["__main__"], "fresh_app", fresh, raising=False)
    threads = set(threading.enumerate())
    with pytest.raises(RuntimeError) as failed:
        Playground(fresh).start()
    assert str(failed.value).startswith(
        "The startup of the FastAPI app `fresh_app` failed (RuntimeError: no database)."
    )
    assert set(threading.enumerate()) <= threads


def test_a_startup_that_never_finishes_is_stopped_with_a_clear_message(
    playground: Playground,
) -> None:
    import asyncio

    playground.startup_timeout = 0.5

    @contextlib.asynccontextmanager
    async def waits_forever(app):
        await asyncio.Event().wait()
        yield

    began = time.monotonic()
    with pytest.raises(LifespanError, match=r"did not finish within 0.5 s"):
        playground.app = FastAPI(lifespan=waits_forever)
    assert time.monotonic() - began < 5
    assert playground.routes == []  # still the empty wsplay app


# --- 22.5: a path registered again is served by its newest handler ---------------------
def test_fastapi_path_registered_twice_is_served_by_the_newest(playground: Playground) -> None:
    app = FastAPI()
    app.add_api_websocket_route("/hello", says("first"))
    playground.app = app
    assert first_message(playground, "/hello").startswith("first")
    app.add_api_websocket_route("/hello", says("second"))  # the cell, re-run
    assert first_message(playground, "/hello").startswith("second")
    assert playground.routes == ["/hello"]
    notices = [e.preview for e in playground.timeline.events(kind="warning")]
    assert [n for n in notices if "registered again" in n and "/hello" in n]


def test_a_duplicate_wsplay_cannot_resolve_is_named_with_the_fix(playground: Playground) -> None:
    app = FastAPI()
    app.add_api_websocket_route("/rooms/{room}", says("app"))
    rooms = APIRouter()
    rooms.add_api_websocket_route("/rooms/{name}", says("router"))
    app.include_router(rooms)
    playground.app = app
    assert first_message(playground, "/rooms/a").startswith("app")
    notices = [e.preview for e in playground.timeline.events(kind="warning")]
    (notice,) = [n for n in notices if "more than once" in n]
    assert "the app's routes" in notice and "a router" in notice and "re-run the cell" in notice


def test_a_route_registered_again_in_an_included_router_is_replaced(
    playground: Playground,
) -> None:
    app = FastAPI()
    chat = APIRouter(prefix="/chat")
    chat.add_api_websocket_route("/{room}", says("first"))
    app.include_router(chat)
    playground.app = app
    assert first_message(playground, "/chat/a").startswith("first")
    chat.add_api_websocket_route("/{name}", says("second"))  # another name, the same shape
    assert first_message(playground, "/chat/a").startswith("second")
    assert playground.routes == ["/chat/{name}"]


def test_a_router_built_and_included_again_replaces_the_older_include(
    playground: Playground,
) -> None:
    app = FastAPI()

    def include_chat(text: str, with_history: bool = True) -> None:
        """The cell: a router built, given its routes, included in the app."""
        chat = APIRouter(prefix="/chat")
        chat.add_api_websocket_route("/{room}", says(text))
        if with_history:
            chat.add_api_route("/history", lambda: [])
        app.include_router(chat, prefix="/v1")

    include_chat("first")
    playground.app = app
    assert first_message(playground, "/v1/chat/a").startswith("first")
    include_chat("second")  # the cell, re-run
    assert first_message(playground, "/v1/chat/a").startswith("second")
    assert playground.routes == ["/v1/chat/{room}"]
    assert [route.path for route in playground.route_table].count("/v1/chat/history") == 1
    include_chat("third", with_history=False)  # dropping the older would lose /history
    assert first_message(playground, "/v1/chat/a").startswith("second")
    notices = [e.preview for e in playground.timeline.events(kind="warning")]
    assert [n for n in notices if "/v1/chat/{room} is registered more than once" in n]
