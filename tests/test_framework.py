"""The framework in process: patterns, binding, the WebSocket state machine and bad input.

Over-the-wire behaviour is in test_seed_samples.py and test_compat_blacksheep.py; here the
ASGI messages themselves are checked, through wsplay.testing.TestClient or raw channels.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest

from wsplay import (
    Application,
    HandshakeRejectedError,
    InvalidMessageError,
    InvalidRouteError,
    InvalidWebSocketStateError,
    MessageMode,
    Router,
    WebSocket,
    WebSocketClosedError,
    WebSocketDisconnectError,
    WebSocketState,
)
from wsplay.framework import describe_close_code
from wsplay.framework.routing import compile_pattern
from wsplay.framework.websocket import format_reason
from wsplay.testing import TestClient


@pytest.fixture
def router() -> Router:
    return Router()


@pytest.fixture
def client(router: Router):
    with TestClient(Application(router=router), timeout=2) as test_client:
        yield test_client


def raw_websocket(*incoming: dict[str, Any], path: str = "/ws", query: bytes = b""):
    """A WebSocket on hand-fed ASGI channels; ``sent`` collects what it sends."""
    queue = list(incoming)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": path, "query_string": query, "headers": []}
    return WebSocket(scope, receive, send), sent


async def accepted(*incoming: dict[str, Any]):
    websocket, sent = raw_websocket({"type": "websocket.connect"}, *incoming)
    await websocket.accept()
    sent.clear()
    return websocket, sent


# --- route patterns ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "path", "values"),
    [
        ("/ws/{client_id}", "/ws/abc", {"client_id": "abc"}),
        ("/ws/:name", "/ws/zed", {"name": "zed"}),
        ("/ws/<name>", "/ws/zed", {"name": "zed"}),
        ("/items/{int:id}", "/items/12", {"id": "12"}),
        ("/items/<int:id>", "/items/12", {"id": "12"}),
        ("/f/{float:x}", "/f/1.5", {"x": "1.5"}),
        (
            "/u/{uuid:u}",
            "/u/2b5b7c1e-6f1a-4f0e-9e7a-0c9d4c1b2a3f",
            {"u": "2b5b7c1e-6f1a-4f0e-9e7a-0c9d4c1b2a3f"},
        ),
        ("/files/{path:p}", "/files/a/b/c.txt", {"p": "a/b/c.txt"}),
        ("/star/*", "/star/x/y", {"tail": "x/y"}),
        ("/star/*", "/star", {"tail": ""}),
        ("/trailing", "/TRAILING/", {}),
        ("no-slash", "/no-slash", {}),
    ],
)
def test_patterns_match_as_blacksheep(pattern: str, path: str, values: dict[str, str]) -> None:
    router = Router()
    router.add_ws(pattern, _echo)
    found = router.match(path)
    assert found is not None and found[1] == values


@pytest.mark.parametrize(
    ("pattern", "path"),
    [("/items/{int:id}", "/items/abc"), ("/ws/{name}", "/ws/a/b"), ("/ws", "/wsx")],
)
def test_patterns_reject_other_paths(pattern: str, path: str) -> None:
    router = Router()
    router.add_ws(pattern, _echo)
    assert router.match(path) is None


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("/ws/{client_id", ["unbalanced", "'{'", "{client_id}"]),
        ("/ws/client_id}", ["unbalanced", "'}'"]),
        ("/ws/<name", ["unbalanced", "'<'"]),
        ("/ws/{decimal:x}", ["unknown parameter type 'decimal'", "int"]),
        ("/ws/{count:int}", ["Write the type first, '{int:count}'", "Starlette"]),
        ("/ws/{user_id:UUID}", ["'{uuid:user_id}'"]),
        ("/ws/{a}/{a}", ["'a' twice"]),
        ("/ws/{}", ["not a valid Python name"]),
        ("/ws/{client-id}", ["'client-id'", "not a valid Python name"]),
        ("", ["needs a path pattern"]),
    ],
)
def test_bad_patterns_are_refused_at_registration(pattern: str, words: list[str]) -> None:
    router = Router()
    with pytest.raises(InvalidRouteError) as error:
        router.add_ws(pattern, _echo)
    for word in words:
        assert word in str(error.value)
    assert len(router) == 0


def test_bare_decorator_is_explained() -> None:
    router = Router()
    with pytest.raises(InvalidRouteError, match=r'@ws\("/ws"\)'):
        router.ws(_echo)  # type: ignore[arg-type]


# --- handler signatures ------------------------------------------------------------------
def test_sync_handler_is_refused_with_the_fix() -> None:
    def handler(websocket: WebSocket, room: str): ...

    with pytest.raises(InvalidRouteError) as error:
        Router().add_ws("/chat/{room}", handler)
    assert "not `async def`" in str(error.value)
    assert "async def handler(websocket: WebSocket, room: str):" in str(error.value)


def test_handler_without_websocket_parameter_is_refused_with_the_fix() -> None:
    async def handler(conn, room): ...

    with pytest.raises(InvalidRouteError) as error:
        Router().add_ws("/chat/{room}", handler)
    assert "no parameter for the WebSocket" in str(error.value)
    assert "async def handler(websocket: WebSocket, room: str):" in str(error.value)


def test_star_args_and_unsupported_types_are_refused() -> None:
    async def star(websocket, *rest): ...

    async def odd(websocket, data: dict): ...

    with pytest.raises(InvalidRouteError, match=r"\*rest"):
        Router().add_ws("/a", star)
    with pytest.raises(InvalidRouteError, match="Supported: str, int"):
        Router().add_ws("/b", odd)


@pytest.mark.parametrize(
    "signature", ["websocket", "request", "my_ws: WebSocket", "ws: 'WebSocket'"]
)
def test_websocket_found_by_name_or_annotation(
    signature: str, client: TestClient, router: Router
) -> None:
    namespace: dict[str, Any] = {"WebSocket": WebSocket}
    exec(
        f"async def handler({signature}):\n"
        f"    ws = {signature.split(':')[0]}\n"
        "    await ws.accept()\n"
        "    await ws.send_text(repr(ws))",
        namespace,
    )
    router.add_ws("/ws", namespace["handler"])
    with client.websocket_connect("/ws?x=1") as session:
        assert session.receive_text() == "<WebSocket /ws?x=1>"


# --- binding -----------------------------------------------------------------------------
async def _report(websocket: WebSocket, **values: Any) -> None:
    await websocket.accept()
    await websocket.send_json({name: repr(value) for name, value in values.items()})


def test_route_values_and_query_are_converted(router: Router, client: TestClient) -> None:
    async def handler(
        websocket: WebSocket,
        item_id: int,
        ratio: float,
        token: uuid.UUID,
        q: int,
        flag: bool = False,
        tags: list[str] | None = None,
        untyped=None,
    ):
        await _report(
            websocket,
            item_id=item_id,
            ratio=ratio,
            token=token,
            q=q,
            flag=flag,
            tags=tags,
            untyped=untyped,
        )

    router.add_ws("/items/{int:item_id}/{ratio}/{token}", handler)
    token = "2b5b7c1e-6f1a-4f0e-9e7a-0c9d4c1b2a3f"
    path = f"/items/12/0.5/{token}?q=42&q=43&flag=yes&tags=a&tags=b&untyped=zzz"
    with client.websocket_connect(path) as session:
        assert session.receive_json() == {
            "item_id": "12",
            "ratio": "0.5",
            "token": f"UUID('{token}')",
            "q": "42",
            "flag": "True",
            "tags": "['a', 'b']",
            "untyped": "['zzz']",
        }


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/items/abc?q=1",
            "Invalid value ['abc'] for route parameter `item_id`; expected a valid int.",
        ),
        ("/items/1", "Missing query parameter `q`"),
        ("/items/1?q=x", "Invalid value ['x'] for query parameter `q`; expected a valid int."),
    ],
)
def test_binding_failures_refuse_the_handshake(
    path: str, message: str, router: Router, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(websocket: WebSocket, item_id: int, q: int):
        await websocket.accept()

    router.add_ws("/items/{item_id}", handler)
    with pytest.raises(HandshakeRejectedError) as rejected:
        client.websocket_connect(path).__enter__()
    assert rejected.value.status_code == 403
    assert message in caplog.text


# --- outcomes a client sees --------------------------------------------------------------
async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())


def test_unknown_path_is_refused_and_routes_are_listed(
    router: Router, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    router.add_ws("/echo", _echo)
    with pytest.raises(HandshakeRejectedError) as rejected:
        client.websocket_connect("/nope").__enter__()
    assert rejected.value.status_code == 403
    assert "No WebSocket route matches /nope" in caplog.text and "/echo" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_error_after_accept_closes_1011_with_the_reason(router: Router, client: TestClient) -> None:
    async def handler(websocket: WebSocket):
        await websocket.accept()
        raise ValueError("a" + "秦" * 50)

    router.add_ws("/boom", handler)
    with client.websocket_connect("/boom") as session, pytest.raises(WebSocketClosedError) as e:
        session.receive_text()
    assert e.value.code == 1011
    assert e.value.reason == format_reason("a" + "秦" * 50)
    assert len(e.value.reason.encode()) <= 123 and e.value.reason.endswith("...")
    assert "Internal Error" in str(e.value)


def test_return_after_accept_closes_normally(router: Router, client: TestClient) -> None:
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("bye")

    router.add_ws("/once", handler)
    with client.websocket_connect("/once") as session:
        assert session.receive_text() == "bye"
        with pytest.raises(WebSocketClosedError) as closed:
            session.receive_text()
    assert (closed.value.code, closed.value.reason) == (1000, "")


def test_uncaught_disconnect_is_quiet(
    router: Router, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    router.add_ws("/echo", _echo)
    with client.websocket_connect("/echo") as session:
        session.send_text("hi")
        assert session.receive_text() == "hi"
        session.close(4002, "client bye")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_disconnect_error_carries_code_and_reason(router: Router, client: TestClient) -> None:
    seen: list[WebSocketDisconnectError] = []

    async def handler(websocket: WebSocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnectError as error:
            seen.append(error)

    router.add_ws("/ws", handler)
    with client.websocket_connect("/ws") as session:
        session.close(4002, "client bye")
    (error,) = seen
    assert (error.code, error.reason) == (4002, "client bye")
    assert str(error) == "The client closed the connection. WebSocket close code: 4002."


# --- live redefinition -------------------------------------------------------------------
async def test_redefinition_serves_new_connections_and_keeps_open_ones(router: Router) -> None:
    def versioned(tag: str):
        async def handler(websocket: WebSocket):
            await websocket.accept()
            while True:
                await websocket.send_text(f"{tag}:{await websocket.receive_text()}")

        return handler

    router.add_ws("/echo", versioned("v1"))
    client = TestClient(Application(router=router), timeout=2)
    async with client.websocket_connect("/echo") as old:
        await old.send_text("a")
        assert await old.receive_text() == "v1:a"
        router.add_ws("/ECHO/", versioned("v2"))  # the same route, written differently
        assert len(router) == 1
        async with client.websocket_connect("/echo") as new:
            await new.send_text("b")
            assert await new.receive_text() == "v2:b"
        await old.send_text("c")
        assert await old.receive_text() == "v1:c"


# --- the WebSocket object: state machine and bad input -----------------------------------
async def test_states_follow_the_connection() -> None:
    websocket, sent = raw_websocket(
        {"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1001}
    )
    assert (websocket.client_state, websocket.application_state) == (
        WebSocketState.CONNECTING,
        WebSocketState.CONNECTING,
    )
    await websocket.accept()
    assert websocket.accepted and websocket.client_state is WebSocketState.CONNECTED
    assert sent == [{"type": "websocket.accept", "headers": [], "subprotocol": None}]
    with pytest.raises(WebSocketDisconnectError):
        await websocket.receive()
    assert websocket.client_state is WebSocketState.DISCONNECTED
    with pytest.raises(InvalidWebSocketStateError) as error:
        await websocket.send_text("late")
    assert str(error.value).startswith(
        "Invalid client state of the WebSocket connection. Expected state: "
        "WebSocketState.CONNECTED. Current state: WebSocketState.DISCONNECTED."
    )
    assert "catch WebSocketDisconnectError" in str(error.value)


async def test_send_and_receive_before_accept_say_what_to_do() -> None:
    websocket, sent = raw_websocket()
    with pytest.raises(InvalidWebSocketStateError) as error:
        await websocket.send_text("x")
    assert error.value.fix == (
        "Your handler must call `await websocket.accept()` before it sends; it called "
        "`send_text()` first."
    )
    with pytest.raises(InvalidWebSocketStateError) as error:
        await websocket.receive_text()
    assert error.value.party == "application"
    assert sent == []


async def test_accept_twice_is_refused() -> None:
    websocket, _ = await accepted()
    with pytest.raises(InvalidWebSocketStateError, match="only once"):
        await websocket.accept()


async def test_close_updates_state_and_later_sends_fail_clearly() -> None:
    websocket, sent = await accepted()
    await websocket.close(4321, "custom reason")
    assert sent == [{"type": "websocket.close", "code": 4321, "reason": "custom reason"}]
    assert websocket.client_state is WebSocketState.DISCONNECTED
    with pytest.raises(InvalidWebSocketStateError, match=r"already closed .*code 4321"):
        await websocket.send_text("late")
    await websocket.close()  # closing again is a no-op
    assert len(sent) == 1


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 5000, "1000", True])
async def test_bad_close_codes_are_refused_and_nothing_is_sent(code: Any) -> None:
    websocket, sent = await accepted()
    with pytest.raises(ValueError, match="Invalid close code") as error:
        await websocket.close(code)
    assert "4000-4999" in str(error.value)
    assert sent == [] and websocket.client_state is WebSocketState.CONNECTED


async def test_too_long_close_reason_is_refused() -> None:
    websocket, sent = await accepted()
    with pytest.raises(ValueError, match="at most 123 bytes"):
        await websocket.close(1000, "é" * 62)
    assert sent == []


@pytest.mark.parametrize(
    ("method", "value", "words"),
    [
        ("send_text", b"bytes", ["takes a str, got bytes", "send_bytes()"]),
        ("send_bytes", "text", ["takes bytes, got str", "encode()"]),
        ("send_json", {"when": object()}, ["cannot turn", "into JSON", "convert"]),
        ("send_json", {1, 2}, ["cannot turn", "set"]),
    ],
)
async def test_wrong_values_to_send_are_refused(method: str, value: Any, words: list[str]) -> None:
    websocket, sent = await accepted()
    with pytest.raises(TypeError) as error:
        await getattr(websocket, method)(value)
    for word in words:
        assert word in str(error.value)
    assert sent == []


async def test_json_is_compact_and_keeps_non_ascii() -> None:
    websocket, sent = await accepted()
    await websocket.send_json({"a": "é", "b": [1, 2]})
    await websocket.send_json({"a": "é"}, MessageMode.BYTES)
    await websocket.send_json([1], "text")  # the enum's value works too
    assert [message.get("text", message.get("bytes")) for message in sent] == [
        '{"a":"é","b":[1,2]}',
        '{"a":"é"}'.encode(),
        "[1]",
    ]
    with pytest.raises(ValueError, match="Unknown message mode 'xml'"):
        await websocket.send_json({}, "xml")


@pytest.mark.parametrize(
    ("message", "mode", "words"),
    [
        ({"text": "{not json"}, MessageMode.TEXT, ["invalid JSON", "'{not json'"]),
        ({"text": "x" * 500}, MessageMode.TEXT, ["invalid JSON", "(500 characters)"]),
        ({"bytes": b"\xff\xfe{}"}, MessageMode.BYTES, ["must be UTF-8", "\\xff"]),
        (
            {"bytes": b'{"a":1}'},
            MessageMode.TEXT,
            ["expected a text frame", "binary frame", "receive_bytes()"],
        ),
        ({"text": '{"a":1}'}, MessageMode.BYTES, ["expected a binary frame", "text frame"]),
    ],
)
async def test_unreadable_json_names_the_problem(
    message: dict[str, Any], mode: MessageMode, words: list[str]
) -> None:
    websocket, _ = await accepted({"type": "websocket.receive", **message})
    with pytest.raises(InvalidMessageError) as error:
        await websocket.receive_json(mode)
    for word in words:
        assert word in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("message", "method", "result"),
    [
        ({"text": "[1,2,3]"}, "receive_json", [1, 2, 3]),
        ({"bytes": b"\x00\x01"}, "receive_bytes", b"\x00\x01"),
        ({"text": "hi", "bytes": None}, "receive_text", "hi"),  # hypercorn's shape
        ({"bytes": b"hi", "text": None}, "receive_bytes", b"hi"),
    ],
)
async def test_receive_helpers(message: dict[str, Any], method: str, result: Any) -> None:
    websocket, _ = await accepted({"type": "websocket.receive", **message})
    assert await getattr(websocket, method)() == result


async def test_wrong_frame_type_names_both_types_even_with_hypercorn_shape() -> None:
    websocket, _ = await accepted({"type": "websocket.receive", "bytes": b"\x01", "text": None})
    with pytest.raises(
        InvalidMessageError, match="expected a text frame but the client sent a binary frame"
    ):
        await websocket.receive_text()


async def test_subprotocol_must_be_offered() -> None:
    websocket, sent = raw_websocket({"type": "websocket.connect"})
    websocket.scope["subprotocols"] = ["chat.v2"]
    with pytest.raises(Exception, match=r"did not offer it \(it offered: 'chat.v2'\)"):
        await websocket.accept(subprotocol="chat.v1")
    assert sent == []


def test_handshake_details_and_repr() -> None:
    websocket, _ = raw_websocket(path="/ws/x", query=b"a=1&a=2&b=")
    websocket.scope["headers"] = [(b"x-token", b"abc"), (b"cookie", b"c1=v1; c2=v%202")]
    assert repr(websocket) == "<WebSocket /ws/x?a=1&a=2&b=>"
    assert websocket.query == {"a": ["1", "2"], "b": [""]}
    assert websocket.headers.get_first("X-Token") == b"abc"
    assert websocket.get_first_header(b"x-token") == b"abc"
    assert websocket.cookies == {"c1": "v1", "c2": "v 2"}


def test_format_reason_never_cuts_a_character() -> None:
    assert format_reason("short") == "short"
    assert format_reason("a" * 123) == "a" * 123
    cut = format_reason("秦" * 42)
    assert cut == "秦" * 40 + "..."
    assert len(format_reason("a" + "秦" * 50).encode()) <= 123


def test_close_codes_are_described() -> None:
    assert describe_close_code(1000).startswith("Normal Closure")
    assert describe_close_code(4000).startswith("Application")
    assert describe_close_code(3001).startswith("Registered")
    assert describe_close_code(999).startswith("Invalid")


# --- the ASGI app around the routes ------------------------------------------------------
async def _http_get(app: Application, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "headers": []}, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def test_plain_http_is_told_what_this_is(router: Router) -> None:
    router.add_ws("/echo", _echo)
    app = Application(router=router)
    status, body = await _http_get(app, "/echo")
    assert status == 426 and b"WebSocket endpoint" in body
    assert (await _http_get(app, "/other"))[0] == 404


async def test_lifespan_is_answered(router: Router) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await asyncio.wait_for(Application(router=router)({"type": "lifespan"}, receive, send), 2)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_default_router_serves_ws_decorator() -> None:
    from wsplay import ws
    from wsplay.framework.routing import default_router

    @ws("/default-router-probe")
    async def probe(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("default")

    try:
        with TestClient(Application()).websocket_connect("/default-router-probe") as session:
            assert session.receive_text() == "default"
    finally:
        default_router.remove_ws("/default-router-probe")


def test_compile_pattern_lists_parameters() -> None:
    assert compile_pattern("/a/{int:x}/<y>/:z/*").parameters == ("x", "y", "z", "tail")


def test_route_values_are_a_dict_and_decoded_once(router: Router, client: TestClient) -> None:
    async def report(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json(websocket.route_values)

    router.add_ws("/plain", report)
    router.add_ws("/v/{value}", report)
    with client.websocket_connect("/plain") as session:
        assert session.receive_json() == {}
    with client.websocket_connect("/v/a%2541") as session:
        assert session.receive_json() == {"value": "a%41"}


def test_a_peer_leaving_during_a_broadcast_fails_only_the_sender_cleanly(
    router: Router, client: TestClient
) -> None:
    """The sender's handler did not catch a *peer's* disconnect: its own client gets 1011."""

    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        raise WebSocketDisconnectError(1006, "a peer vanished")  # as a send to it would

    router.add_ws("/room", handler)
    with client.websocket_connect("/room") as session:
        session.send_text("hello room")
        with pytest.raises(WebSocketClosedError) as closed:
            session.receive_text()
    assert closed.value.code == 1011
    assert "WebSocket close code: 1006" in closed.value.reason


def test_a_close_is_one_value_carried_by_the_error() -> None:
    from wsplay import CloseCode, WebSocketClosedError
    from wsplay.framework.close_codes import Close

    error = WebSocketClosedError(CloseCode.GOING_AWAY, "the playground is stopping")
    assert error.close == Close(1001, "the playground is stopping", "server")
    assert (error.code, error.reason) == (1001, "the playground is stopping")
    assert error.meaning.startswith("Going Away")
    assert CloseCode(1011) is CloseCode.INTERNAL_ERROR and CloseCode.INTERNAL_ERROR == 1011
    with pytest.raises(Exception):  # noqa: B017 - frozen: a close does not change afterwards
        error.close.code = 1000  # type: ignore[misc]
