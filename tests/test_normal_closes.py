"""A client that leaves is not an error, whatever the framework (issue 22.4).

FastAPI's own documentation leaves ``WebSocketDisconnect`` uncaught in its first example:
every client that closes (or drops) ends that handler with the exception, and the
playground must end it quietly, as it ends wsplay's own. A real error is reported once,
the learner's frames first, never a second time as the server's "Exception in ASGI
application".

The apps are FastAPI's documented examples, written as FastAPI documents them, served by
the real playground (uvicorn on 127.0.0.1) and driven by its kernel client.

No ``from __future__ import annotations``: FastAPI reads the handlers' annotations.
"""

import asyncio
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from wsplay import Playground, WebSocketClosedError

# --- FastAPI's "WebSockets" page: the basic example (WebSocketDisconnect left uncaught) ---
echo_app = FastAPI()


@echo_app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket):
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        await websocket.send_text(f"Message text was: {data}")


@echo_app.websocket("/broken")
async def broken(websocket: WebSocket):
    await websocket.accept()
    data = await websocket.receive_text()
    raise KeyError(f"no such command: {data}")  # the learner's bug


@echo_app.websocket("/broken-before-accept")
async def broken_before_accept(websocket: WebSocket):
    raise KeyError("no such user")


# --- FastAPI's "Handling disconnections and multiple clients" (ConnectionManager) ---
chat_app = FastAPI()


class ConnectionManager:
    def __init__(self):
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket):
        self.active_connections.remove(websocket)

    async def send_personal_message(self, message: str, websocket: WebSocket):
        await websocket.send_text(message)

    async def broadcast(self, message: str):
        for connection in self.active_connections:
            await connection.send_text(message)


manager = ConnectionManager()


@chat_app.websocket("/ws/{client_id}")
async def chat_endpoint(websocket: WebSocket, client_id: int):
    await manager.connect(websocket)
    try:
        while True:
            data = await websocket.receive_text()
            await manager.send_personal_message(f"You wrote: {data}", websocket)
            await manager.broadcast(f"Client #{client_id} says: {data}")
    except WebSocketDisconnect:
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left the chat")


class Finished:
    """The app, telling each time one of its WebSocket calls is over (its path), once the
    playground's recorder has dealt with what it raised: ``call_soon`` runs after the
    rest of the task's step, which is where the recorder reports (or not)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: queue.Queue[str] = queue.Queue()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "websocket":
                asyncio.get_running_loop().call_soon(self.paths.put, scope["path"])

    def wait(self, path: str) -> None:
        assert self.paths.get(timeout=10) == path


def the_one_error(
    playground: Playground, app: Finished, path: str, data: str | bytes, code: int
) -> Any:
    """Send ``data`` to ``path``, whose handler fails: the client gets ``code``, and
    ``pg.errors`` holds exactly one error, returned."""
    client = playground.connect_sync(path)
    client.send_bytes(data) if isinstance(data, bytes) else client.send_text(data)
    with pytest.raises(WebSocketClosedError) as closed:
        client.receive_text()
    assert closed.value.code == code
    app.wait(path)
    (error,) = playground.errors
    return error


@pytest.fixture
def echo() -> Iterator[tuple[Playground, Finished]]:
    app = Finished(echo_app)
    playground = Playground(app).start()
    yield playground, app
    playground.stop()


@pytest.mark.parametrize("code", [1000, 1001, None])
def test_a_client_that_closes_ends_an_uncaught_disconnect_quietly(
    echo: tuple[Playground, Finished], code: int | None, capfd: pytest.CaptureFixture[str]
) -> None:
    playground, app = echo
    client = playground.connect_sync("/ws")
    client.send_text("hello")
    assert client.receive_text() == "Message text was: hello"
    if code is None:
        client.drop()  # no close frame: the server sees 1006 once the client is gone
    else:
        client.close(code)
    app.wait("/ws")
    assert playground.errors == []
    assert playground.timeline.events(kind="error") == []
    closes = playground.timeline.events(client.id, kind="close")
    assert [event.code for event in closes if event.side == "server"] == [code or 1006]
    assert "wsplay" not in capfd.readouterr().err


def test_the_chat_example_says_who_left_and_reports_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = Finished(chat_app)
    playground = Playground(app).start()
    try:
        alice, bob = playground.connect_sync("/ws/1"), playground.connect_sync("/ws/2")
        alice.send_text("hi")
        assert alice.receive_text() == "You wrote: hi"
        assert bob.receive_text() == "Client #1 says: hi"
        alice.close()
        assert bob.receive_text() == "Client #1 left the chat"
        app.wait("/ws/1")
        bob.drop()
        app.wait("/ws/2")
        assert playground.errors == []
        assert playground.timeline.events(kind="error") == []
    finally:
        playground.stop()
    assert "wsplay" not in capfd.readouterr().err


def test_a_real_error_is_reported_once_with_the_learners_frame_first(
    echo: tuple[Playground, Finished], capfd: pytest.CaptureFixture[str]
) -> None:
    playground, app = echo
    error = the_one_error(playground, app, "/broken", "launch", 1011)
    assert isinstance(error.exception, KeyError)
    # The learner's line comes first, before any of the forty frames of the libraries.
    first_frame = next(line for line in error.traceback.splitlines() if "File " in line)
    assert __file__ in first_frame
    assert error.traceback.index("raise KeyError") < error.traceback.index("site-packages")
    assert len(playground.timeline.events(error.connection, kind="error")) == 1
    printed = capfd.readouterr().err
    assert printed.count("raised KeyError") == 1
    assert "Exception in ASGI application" not in printed


def test_an_error_before_accept_is_said_once_too(
    echo: tuple[Playground, Finished], capfd: pytest.CaptureFixture[str]
) -> None:
    playground, app = echo
    with pytest.raises(Exception, match="KeyError"):
        playground.connect_sync("/broken-before-accept")
    app.wait("/broken-before-accept")
    assert len(playground.errors) == 1
    assert "Exception in ASGI application" not in capfd.readouterr().err


def test_starlettes_1003_runtime_error_is_reported_once(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from starlette.applications import Starlette
    from starlette.endpoints import WebSocketEndpoint
    from starlette.routing import WebSocketRoute

    class Echo(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket, data):
            await websocket.send_text(data)

    app = Finished(Starlette(routes=[WebSocketRoute("/text", Echo)]))
    playground = Playground(app).start()
    try:
        error = the_one_error(playground, app, "/text", b"\x00", 1003)
        assert isinstance(error.exception, RuntimeError)
    finally:
        playground.stop()
    printed = capfd.readouterr().err
    assert printed.count("raised RuntimeError") == 1
    assert "Exception in ASGI application" not in printed
