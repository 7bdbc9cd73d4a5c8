"""Every refusal explained, whatever the framework (issue 22.3).

An app refuses a handshake two ways: a close before accepting (uvicorn answers HTTP 403,
and the close's code and reason never reach the client) or an HTTP denial response
(``websocket.http.response.*``: a status and a body). The playground records what the app
answered at the ASGI level, as fields of the timeline's REJECT event; the kernel's client
joins it to its ``HandshakeRejectedError`` through the connection id; the timeline's line
and the HTML export say it. wsplay's own 403 for an unknown path names the routes that exist.

FastAPI's examples are written as its "WebSockets" documentation writes them, served by the
real playground (uvicorn on 127.0.0.1). No ``from __future__ import annotations``: FastAPI
reads the handlers' annotations.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import (
    Cookie,
    Depends,
    FastAPI,
    Query,
    WebSocket,
    WebSocketException,
    status,
)
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.test_normal_closes import chat_app
from wsplay import Application, HandshakeRejectedError, Playground
from wsplay.framework.routing import Router
from wsplay.runtime.timeline.budget import FIELD_CHARS, is_cut

# --- FastAPI's "WebSockets" page: "Using Depends and others" ------------------------
app = FastAPI()


async def get_cookie_or_token(
    websocket: WebSocket,
    session: Annotated[str | None, Cookie()] = None,
    token: Annotated[str | None, Query()] = None,
):
    if session is None and token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return session or token


@app.websocket("/items/{item_id}/ws")
async def websocket_endpoint(
    *,
    websocket: WebSocket,
    item_id: str,
    q: int | None = None,
    cookie_or_token: Annotated[str, Depends(get_cookie_or_token)],
):
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        await websocket.send_text(f"Session cookie or query token value is: {cookie_or_token}")
        if q is not None:
            await websocket.send_text(f"Query parameter q is: {q}")
        await websocket.send_text(f"Message text was: {data}, for item ID: {item_id}")


# The same dependency, saying why (WebSocketException takes a reason, as Starlette's does).
async def members_only(token: Annotated[str | None, Query()] = None):
    if token != "member":
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="members only")
    return token


@app.websocket("/members")
async def members(websocket: WebSocket, token: Annotated[str, Depends(members_only)]):
    await websocket.accept()


@pytest.fixture
def fastapi_playground() -> Iterator[Playground]:
    playground = Playground(app).start()
    yield playground
    playground.stop()


def refused(playground: Playground, path: str) -> HandshakeRejectedError:
    with pytest.raises(HandshakeRejectedError) as rejected:
        playground.connect_sync(path)
    return rejected.value


def server_reject(playground: Playground, connection: int) -> Any:
    (event,) = [
        event
        for event in playground.timeline.events(connection, kind="reject")
        if event.side == "server"
    ]
    return event


def error_connection(playground: Playground) -> int:
    """The connection the (only) refusal so far was on."""
    (event,) = [e for e in playground.timeline.events(kind="reject") if e.side == "server"]
    return event.connection


def exported(playground: Playground, tmp_path: Path) -> str:
    return playground.timeline.to_html(tmp_path / "timeline.html").read_text()


def test_a_parameter_fastapi_cannot_fill_is_named_everywhere(
    fastapi_playground: Playground, tmp_path: Path
) -> None:
    error = refused(fastapi_playground, "/items/foo/ws?token=secret&q=abc")
    assert (error.status, error.code) == (403, 1008)
    assert "`q` (query: Input should be a valid integer" in error.reason
    assert "1008 (Policy Violation)" in str(error) and error.reason in str(error)
    event = server_reject(fastapi_playground, error_connection(fastapi_playground))
    assert (event.code, event.close_code, event.reason) == (403, 1008, error.reason)
    assert "closed before accepting, with 1008 (Policy Violation)" in event.describe()
    assert "valid integer" in exported(fastapi_playground, tmp_path)


def test_a_dependency_that_refuses_is_named_with_its_code_and_reason(
    fastapi_playground: Playground, tmp_path: Path
) -> None:
    no_token = refused(fastapi_playground, "/items/foo/ws")
    assert (no_token.status, no_token.code, no_token.reason) == (403, 1008, "")
    assert "with 1008 (Policy Violation)" in str(no_token)
    not_member = refused(fastapi_playground, "/members?token=guest")
    assert (not_member.code, not_member.reason) == (1008, "members only")
    assert "'members only'" in str(not_member)
    events = [e for e in fastapi_playground.timeline.events(kind="reject") if e.side == "server"]
    assert [(e.close_code, e.reason) for e in events] == [(1008, ""), (1008, "members only")]
    page = exported(fastapi_playground, tmp_path)
    assert "members only" in page and "1008" in page
    assert fastapi_playground.errors == []  # a refusal is the app's answer, not a crash


def test_an_int_path_parameter_given_text_is_explained() -> None:
    playground = Playground(chat_app).start()
    try:
        error = refused(playground, "/ws/abc")
        assert error.code == 1008 and "`client_id` (path: Input should be a valid integer" in (
            error.reason
        )
        assert server_reject(playground, error_connection(playground)).close_code == 1008
    finally:
        playground.stop()


def test_a_refusal_a_browser_met_is_said_in_the_notebook(
    fastapi_playground: Playground, capfd: pytest.CaptureFixture[str]
) -> None:
    # Not the kernel's client: nobody's exception says it, so the notebook does.
    with pytest.raises(InvalidStatus), connect(f"{fastapi_playground.url}/members?token=x"):
        pass
    said = capfd.readouterr().err
    assert "/members" in said and "1008 (Policy Violation) 'members only'" in said


# --- Starlette's denial response: a status and a body instead of accepting -------------
async def private(websocket):
    await websocket.send_denial_response(PlainTextResponse("Members only.", status_code=401))


async def chatty(websocket):
    await websocket.send_denial_response(PlainTextResponse("x" * 5000, status_code=429))


def test_an_http_denial_keeps_its_status_and_body(tmp_path: Path) -> None:
    starlette = Starlette(
        routes=[WebSocketRoute("/private", private), WebSocketRoute("/chatty", chatty)]
    )
    playground = Playground(starlette).start()
    try:
        error = refused(playground, "/private")
        assert (error.status, error.body, error.code) == (401, "Members only.", None)
        assert "'Members only.'" in str(error)
        event = server_reject(playground, error_connection(playground))
        assert (event.code, event.body, event.close_code) == (401, "Members only.", None)
        assert "HTTP 401" in event.describe() and "Members only." in event.describe()
        assert "Members only." in exported(playground, tmp_path)
        long = refused(playground, "/chatty")
        assert long.status == 429 and len(long.body) == 5000  # the client has it whole
        (cut,) = [
            e.body
            for e in playground.timeline.events(kind="reject")
            if e.side == "server" and e.code == 429
        ]
        assert is_cut(cut) and len(cut) <= FIELD_CHARS["body"] + 32  # the timeline, cut
    finally:
        playground.stop()


# --- wsplay's own app: an unknown path ------------------------------------------------
def test_an_unknown_path_is_answered_with_the_routes_that_exist(tmp_path: Path) -> None:
    router = Router()

    @router.ws("/echo")
    async def echo(websocket):
        await websocket.accept()

    @router.ws("/chat/{room}")
    async def chat(websocket, room: str):
        await websocket.accept()

    playground = Playground(Application(router=router)).start()
    try:
        error = refused(playground, "/nope")
        assert "Known routes: /echo, /chat/{room}" in error.body  # the 403's body
        assert str(error).startswith("Connect to a path one of your routes matches")
        event = server_reject(playground, error_connection(playground))
        assert event.code == 403 and "/echo, /chat/{room}" in event.body
        assert "Known routes: /echo, /chat/{room}" in exported(playground, tmp_path)
        # Any client reads the same body: curl, websockets, a learner's tool.
        with pytest.raises(InvalidStatus) as raw, connect(f"{playground.url}/nope"):
            pass
        assert raw.value.response.status_code == 403
        assert b"Known routes: /echo, /chat/{room}" in raw.value.response.body
    finally:
        playground.stop()
