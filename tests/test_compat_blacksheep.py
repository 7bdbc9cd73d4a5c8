"""wsplay and BlackSheep side by side: the same handlers, real uvicorn servers, a real client.

``build_app(flavour)`` registers one set of handlers, written once, on a BlackSheep app and
on a wsplay app; each app runs on its own uvicorn on 127.0.0.1 for the whole module, and the
``websockets`` client drives both the same way. What the client sees (the messages, the
close code and reason, or the HTTP status of a refused handshake) is an *outcome*, and:

* where SPEC §2 says "as BlackSheep", the test asserts ``wsplay == blacksheep`` and pins the
  expected value, so two equal mistakes still fail;
* where SPEC §2 lists a fix ("Where BlackSheep is wrong, wsplay is right"), the test asserts
  BlackSheep's outcome and wsplay's better one side by side, so the difference is on record.

Every connection carries an ``x-test-id`` header. Handlers write what they observed into
``server.notes[test_id]``, and an ASGI wrapper signals when the app has finished with that
connection, so nothing here sleeps: each test waits for an event, with a timeout.

Do not add ``from __future__ import annotations``: BlackSheep must see real annotations.
"""

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from tests.servers import serve_uvicorn

TIMEOUT = 5.0
TEST_ID = "x-test-id"
JSON_DOC = {"a": "é", "b": [1, 2], "秦": None}
COMPACT_JSON = '{"a":"é","b":[1,2],"秦":null}'
LONG_MESSAGE = "".join(str(i % 10) for i in range(300))
WIDE_MESSAGE = "a" + "秦" * 50  # 151 bytes of UTF-8; byte 120 falls inside a character


# --- the two frameworks --------------------------------------------------------------------
def framework(flavour: str) -> SimpleNamespace:
    """The names a handler file imports, from BlackSheep or from wsplay."""
    if flavour == "blacksheep":
        import blacksheep as fw
        from blacksheep.server.websocket import InvalidWebSocketStateError, MessageMode
    else:
        import wsplay as fw
        from wsplay import InvalidWebSocketStateError, MessageMode
    return SimpleNamespace(
        Application=fw.Application,
        Router=fw.Router,
        WebSocket=fw.WebSocket,
        WebSocketDisconnectError=fw.WebSocketDisconnectError,
        InvalidWebSocketStateError=InvalidWebSocketStateError,
        MessageMode=MessageMode,
    )


def build_app(flavour: str) -> tuple[Any, dict[str, list]]:
    """The same handlers on ``flavour``'s Application; returns the app and its notes."""
    names = framework(flavour)
    WebSocket = names.WebSocket
    WebSocketDisconnectError = names.WebSocketDisconnectError
    InvalidWebSocketStateError = names.InvalidWebSocketStateError
    MessageMode = names.MessageMode
    router = names.Router()
    app = names.Application(router=router)
    notes: dict[str, list] = defaultdict(list)

    def note(websocket, value) -> None:
        notes[websocket.get_first_header(TEST_ID.encode()).decode()].append(value)

    # Communicating: echo of text, bytes and JSON; raw receive().
    @router.ws("/echo/text")
    async def echo_text(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnectError:
            return

    @router.ws("/echo/bytes")
    async def echo_bytes(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())
        except WebSocketDisconnectError:
            return

    @router.ws("/json/text")
    async def json_text(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json(await websocket.receive_json())
        await websocket.close()

    @router.ws("/json/bytes")
    async def json_bytes(websocket: WebSocket):
        await websocket.accept()
        data = await websocket.receive_json(MessageMode.BYTES)
        await websocket.send_json(data, MessageMode.BYTES)
        await websocket.close()

    @router.ws("/raw")
    async def raw(websocket: WebSocket):
        await websocket.accept()
        for _ in range(2):
            message = await websocket.receive()
            await websocket.send_json(sorted((k, type(v).__name__) for k, v in message.items()))
        await websocket.close()

    # Accepting: response headers and a subprotocol.
    @router.ws("/accept")
    async def accept_with_extras(websocket: WebSocket):
        await websocket.accept(headers=[(b"x-custom", b"v1")], subprotocol="chat.v1")
        await websocket.send_text("accepted")
        await websocket.close()

    # Routes: parameters, typed or not, and query binding.
    async def hello(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    router.add_ws("/added", hello)
    router.add_ws("/hello", hello)

    async def describe(websocket: WebSocket, value: object) -> None:
        await websocket.accept()
        await websocket.send_text(f"{type(value).__name__}:{value}")
        await websocket.close()

    @router.ws("/typed/{int:id}")
    async def typed_int(websocket: WebSocket, id: int):
        await describe(websocket, id)

    @router.ws("/untyped/{int:id}")
    async def untyped_int(websocket: WebSocket, id):
        await describe(websocket, id)

    @router.ws("/item/{item_id}")
    async def item(websocket: WebSocket, item_id: int):
        await describe(websocket, item_id)

    @router.ws("/colon/:name")
    async def colon(websocket: WebSocket, name):
        await describe(websocket, name)

    @router.ws("/angle/<name>")
    async def angle(websocket: WebSocket, name):
        await describe(websocket, name)

    @router.ws("/float/{float:x}")
    async def floating(websocket: WebSocket, x: float):
        await describe(websocket, x)

    @router.ws("/uuid/{uuid:u}")
    async def uuids(websocket: WebSocket, u: UUID):
        await describe(websocket, u)

    @router.ws("/path/{path:p}")
    async def path(websocket: WebSocket, p):
        await describe(websocket, p)

    @router.ws("/star/*")
    async def star(websocket: WebSocket, tail):
        await describe(websocket, tail)

    @router.ws("/query")
    async def query(websocket: WebSocket, q: int, extra):
        await websocket.accept()
        await websocket.send_text(f"{type(q).__name__}:{q} extra={extra!r}")
        await websocket.close()

    @router.ws("/repr")
    async def representation(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(repr(websocket))
        await websocket.send_json({"path": websocket.path, "query": websocket.query})
        await websocket.close()

    # Closing, and failing.
    @router.ws("/close/custom")
    async def close_custom(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(4321, "custom reason")

    @router.ws("/close/4000")
    async def close_4000(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(4000)

    @router.ws("/fail/before-accept")
    async def fail_before_accept(websocket: WebSocket):
        raise ValueError("Server error before accept")

    @router.ws("/fail/after-accept")
    async def fail_after_accept(websocket: WebSocket):
        await websocket.accept()
        raise ValueError("Server error after accept")

    @router.ws("/fail/send-before-accept")
    async def send_before_accept(websocket: WebSocket):
        await websocket.send_text("too early")

    @router.ws("/fail/close-before-accept")
    async def close_before_accept(websocket: WebSocket):
        await websocket.close(4001, "go away")

    @router.ws("/fail/accept-twice")
    async def accept_twice(websocket: WebSocket):
        await websocket.accept()
        await websocket.accept()

    @router.ws("/fail/long")
    async def fail_long(websocket: WebSocket):
        await websocket.accept()
        raise ValueError(LONG_MESSAGE)

    @router.ws("/fail/wide")
    async def fail_wide(websocket: WebSocket):
        await websocket.accept()
        raise ValueError(WIDE_MESSAGE)

    # Disconnects.
    @router.ws("/disconnect")
    async def disconnect(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnectError as error:
            note(websocket, (error.code, str(error), getattr(error, "reason", "<no .reason>")))

    @router.ws("/echo/uncaught")
    async def echo_uncaught(websocket: WebSocket):  # the docs' echo loop, no try/except
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    # Where BlackSheep is wrong.
    @router.ws("/wrong-frame")
    async def wrong_frame(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()

    @router.ws("/no-close")
    async def no_close(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("bye")

    @router.ws("/send-after-close")
    async def send_after_close(websocket: WebSocket):
        await websocket.accept()
        await websocket.close()
        note(websocket, (websocket.client_state.name, websocket.application_state.name))
        try:
            await websocket.send_text("too late")
        except InvalidWebSocketStateError as error:
            note(websocket, ("InvalidWebSocketStateError", str(error)))
        except Exception as error:
            note(websocket, (type(error).__name__, str(error)))
        else:
            note(websocket, ("sent", ""))

    return app, notes


# --- the servers ---------------------------------------------------------------------------
class Tracked:
    """ASGI wrapper that lets a test wait until the app has finished with a connection."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._finished: dict[str, threading.Event] = {}

    def finished(self, test_id: str) -> threading.Event:
        return self._finished.setdefault(test_id, threading.Event())

    async def __call__(self, scope, receive, send) -> None:
        test_id = None
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers", ()))
            test_id = headers.get(TEST_ID.encode(), b"").decode() or None
        try:
            await self.app(scope, receive, send)
        finally:
            if test_id:
                self.finished(test_id).set()


@dataclass
class Server:
    flavour: str
    url: str
    tracked: Tracked
    notes: dict[str, list] = field(repr=False)

    def wait(self, test_id: str) -> None:
        assert self.tracked.finished(test_id).wait(TIMEOUT), (
            f"{self.flavour}: the app did not finish the connection {test_id} in {TIMEOUT} s"
        )


@contextmanager
def serve(flavour: str) -> Iterator[Server]:
    app, notes = build_app(flavour)
    tracked = Tracked(app)
    with serve_uvicorn(tracked) as url:
        yield Server(flavour, url, tracked, notes)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    """(BlackSheep's server, wsplay's server), each a real uvicorn on 127.0.0.1."""
    with serve("blacksheep") as blacksheep, serve("wsplay") as wsplay:
        yield blacksheep, wsplay


# --- the client and its outcomes -----------------------------------------------------------
@dataclass(frozen=True)
class Talk:
    """An accepted connection: what came back, and the server's close (None if we closed).

    ``closed`` is ``(code, reason)`` of the server's close frame, or ``(1006, "")`` when the
    connection ended with no close frame at all.
    """

    received: tuple = ()
    closed: tuple[int, str] | None = None
    subprotocol: str | None = None
    custom_header: str | None = None


@dataclass(frozen=True)
class Refused:
    """The server answered the handshake with an HTTP status instead of 101."""

    status: int


@dataclass(frozen=True)
class HandshakeFailed:
    """The client gave up on a 101 response it could not accept."""

    error: str


Outcome = Talk | Refused | HandshakeFailed


def talk(
    server: Server,
    path: str,
    *messages: str | bytes,
    replies: int | None = None,
    close: tuple[int, str] = (1000, ""),
    subprotocols: list[str] | None = None,
    test_id: str | None = None,
) -> Outcome:
    """Connect to ``path``, send ``messages``, and collect what the server sends back.

    With ``replies=None`` read until the server closes; with ``replies=n`` read n messages,
    then close with ``close``. Returns once the server's app has finished the connection.
    """
    test_id = test_id or uuid.uuid4().hex
    try:
        outcome = _talk(server.url + path, messages, replies, close, subprotocols, test_id)
    finally:
        server.wait(test_id)
    return outcome


def _talk(url, messages, replies, close, subprotocols, test_id) -> Outcome:
    try:
        connection = connect(
            url,
            additional_headers={TEST_ID: test_id},
            subprotocols=subprotocols,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
        )
    except InvalidStatus as refused:
        return Refused(refused.response.status_code)
    except InvalidHandshake as failed:
        return HandshakeFailed(type(failed).__name__)
    with connection:
        handshake = {
            "subprotocol": connection.subprotocol,
            "custom_header": connection.response.headers.get("x-custom"),
        }
        received = []
        try:
            for message in messages:
                connection.send(message)
            while replies is None or len(received) < replies:
                received.append(connection.recv(timeout=TIMEOUT))
        except ConnectionClosed as ended:
            frame = ended.rcvd
            closed = (frame.code, frame.reason) if frame else (1006, "")
            return Talk(tuple(received), closed, **handshake)
        connection.close(*close)
    return Talk(tuple(received), None, **handshake)


def same(servers: tuple[Server, Server], path: str, *messages, **options) -> Outcome:
    """Run one scenario on both servers, assert wsplay's outcome is BlackSheep's, return it."""
    blacksheep, wsplay = servers
    expected = talk(blacksheep, path, *messages, **options)
    assert talk(wsplay, path, *messages, **options) == expected
    return expected


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


# --- same behaviour --------------------------------------------------------------------------
def test_echo_text(servers):
    assert same(servers, "/echo/text", "hello", "wörld", replies=2) == Talk(("hello", "wörld"))


def test_echo_bytes(servers):
    data = (b"\x00\x01\xff", b"bytes")
    assert same(servers, "/echo/bytes", *data, replies=2) == Talk(data)


def test_json_in_text_mode_is_compact_and_keeps_non_ascii(servers):
    sent = json.dumps(JSON_DOC)  # with spaces and \u escapes
    assert same(servers, "/json/text", sent) == Talk((COMPACT_JSON,), (1000, ""))


def test_json_in_bytes_mode_is_compact_utf8(servers):
    sent = json.dumps(JSON_DOC).encode()
    assert same(servers, "/json/bytes", sent) == Talk((COMPACT_JSON.encode(),), (1000, ""))


def test_raw_receive_gives_the_asgi_message(servers):
    assert same(servers, "/raw", "hi", b"\x00") == Talk(
        ('[["text","str"],["type","str"]]', '[["bytes","bytes"],["type","str"]]'),
        (1000, ""),
    )


def test_accept_with_headers_and_an_offered_subprotocol(servers):
    outcome = same(servers, "/accept", subprotocols=["chat.v1"])
    assert outcome == Talk(("accepted",), (1000, ""), subprotocol="chat.v1", custom_header="v1")


def test_add_ws(servers):
    assert same(servers, "/added") == Talk(("hello",), (1000, ""))


@pytest.mark.parametrize("path", ["/hello/", "/HELLO", "/Hello/"])
def test_trailing_slash_and_case_are_ignored(servers, path):
    assert same(servers, path) == Talk(("hello",), (1000, ""))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/typed/12", Talk(("int:12",), (1000, ""))),
        ("/typed/abc", Refused(403)),
        ("/untyped/12", Talk(("str:12",), (1000, ""))),
        ("/item/7", Talk(("int:7",), (1000, ""))),
        ("/item/abc", Refused(403)),
        ("/colon/zed", Talk(("str:zed",), (1000, ""))),
        ("/angle/zed", Talk(("str:zed",), (1000, ""))),
        ("/float/1.5", Talk(("float:1.5",), (1000, ""))),
        ("/float/abc", Refused(403)),
        (
            "/uuid/6f1c2a9e-0b1d-4c8e-9a55-2f7d3e4b5c6d",
            Talk(("UUID:6f1c2a9e-0b1d-4c8e-9a55-2f7d3e4b5c6d",), (1000, "")),
        ),
        ("/uuid/not-a-uuid", Refused(403)),
        ("/path/a/b/c", Talk(("str:a/b/c",), (1000, ""))),
        ("/star/a/b/c", Talk(("str:a/b/c",), (1000, ""))),
        ("/star/", Talk(("str:",), (1000, ""))),
        ("/star", Talk(("str:",), (1000, ""))),  # BlackSheep: "/*" also matches "/star"
    ],
)
def test_route_parameters(servers, path, expected):
    assert same(servers, path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=42", Talk(("int:42 extra=None",), (1000, ""))),
        ("?q=42&q=43&extra=x&extra=y", Talk(("int:42 extra=['x', 'y']",), (1000, ""))),
        ("", Refused(403)),
        ("?q=abc", Refused(403)),
    ],
)
def test_query_binding(servers, query, expected):
    assert same(servers, "/query" + query) == expected


def test_repr_path_and_query(servers):
    assert same(servers, "/repr?a=1&b=two&b=2") == Talk(
        ("<WebSocket /repr?a=1&b=two&b=2>", '{"path":"/repr","query":{"a":["1"],"b":["two","2"]}}'),
        (1000, ""),
    )


def test_close_with_a_custom_code_and_reason(servers):
    assert same(servers, "/close/custom") == Talk((), (4321, "custom reason"))


def test_close_with_a_code_only(servers):
    assert same(servers, "/close/4000") == Talk((), (4000, ""))


@pytest.mark.parametrize(
    "path", ["/fail/before-accept", "/fail/send-before-accept", "/fail/close-before-accept"]
)
def test_an_end_before_accept_refuses_the_handshake(servers, path):
    assert same(servers, path) == Refused(403)


def test_accept_twice_closes_1011_with_the_state_error(servers):
    reason = (
        "Invalid client state of the WebSocket connection. Expected state: "
        "WebSocketState.CONNECTING. Current state: WebSocketState.CONNECTED."
    )
    assert same(servers, "/fail/accept-twice") == Talk((), (1011, reason[:120] + "..."))


def test_exception_after_accept_closes_1011_with_the_message(servers):
    assert same(servers, "/fail/after-accept") == Talk((), (1011, "Server error after accept"))


def test_a_long_exception_message_is_cut_to_120_bytes_and_an_ellipsis(servers):
    assert same(servers, "/fail/long") == Talk((), (1011, LONG_MESSAGE[:120] + "..."))


def test_unknown_path_refuses_the_handshake(servers):
    assert same(servers, "/no/such/route") == Refused(403)


def test_disconnect_code_and_message_seen_by_the_handler(servers):
    seen = {}
    for server in servers:
        test_id = uuid.uuid4().hex
        bye = (4002, "client bye")
        outcome = talk(server, "/disconnect", "ping", replies=1, close=bye, test_id=test_id)
        assert outcome == Talk(("ping",))
        ((code, text, reason),) = server.notes[test_id]
        seen[server.flavour] = (code, text, reason)
    message = "The client closed the connection. WebSocket close code: 4002."
    # BlackSheep drops the close reason; wsplay keeps it in WebSocketDisconnectError.reason.
    assert seen == {
        "blacksheep": (4002, message, "<no .reason>"),
        "wsplay": (4002, message, "client bye"),
    }


# --- where BlackSheep is wrong, wsplay is right ----------------------------------------------
def test_fix_receive_text_on_a_binary_frame(servers):
    blacksheep, wsplay = servers
    assert talk(blacksheep, "/wrong-frame", b"\x01\x02") == Talk((), (1011, "'text'"))
    outcome = talk(wsplay, "/wrong-frame", b"\x01\x02")
    assert isinstance(outcome, Talk)
    code, reason = outcome.closed
    assert code == 1011
    assert reason.startswith(
        "receive_text() expected a text frame but the client sent a binary frame"
    )
    assert len(reason.encode()) <= 123


def test_fix_returning_after_accept_closes_1000(servers):
    blacksheep, wsplay = servers
    # uvicorn drops the TCP connection: no close frame (1006).
    assert talk(blacksheep, "/no-close") == Talk(("bye",), (1006, ""))
    assert talk(wsplay, "/no-close") == Talk(("bye",), (1000, ""))


def test_fix_an_uncaught_disconnect_is_not_logged_as_an_error(servers, caplog):
    blacksheep, wsplay = servers
    caplog.set_level(logging.WARNING)
    assert talk(blacksheep, "/echo/uncaught", "hi", replies=1) == Talk(("hi",))
    logged = errors_logged(caplog)
    assert [record.getMessage() for record in logged][:1] == ["Exception while handling WebSocket"]
    assert logged[0].exc_info[0] is framework("blacksheep").WebSocketDisconnectError

    caplog.clear()
    assert talk(wsplay, "/echo/uncaught", "hi", replies=1) == Talk(("hi",))
    assert errors_logged(caplog) == []


def test_fix_send_after_close_raises_a_clear_error(servers):
    outcomes, notes = {}, {}
    for server in servers:
        test_id = uuid.uuid4().hex
        outcomes[server.flavour] = talk(server, "/send-after-close", test_id=test_id)
        notes[server.flavour] = server.notes[test_id]
    assert outcomes == {"blacksheep": Talk((), (1000, "")), "wsplay": Talk((), (1000, ""))}

    # BlackSheep: close() leaves both states CONNECTED, and uvicorn rejects the send.
    (states, (error, text)) = notes["blacksheep"]
    assert states == ("CONNECTED", "CONNECTED")
    assert error == "RuntimeError"
    assert "Unexpected ASGI message 'websocket.send'" in text

    # wsplay: close() updates the state, so the send fails with a clear state error.
    (states, (error, text)) = notes["wsplay"]
    assert states == ("DISCONNECTED", "DISCONNECTED")
    assert error == "InvalidWebSocketStateError"
    assert "Expected state: WebSocketState.CONNECTED" in text
    assert "already closed" in text


def test_fix_a_close_reason_is_never_cut_inside_a_character(servers):
    blacksheep, wsplay = servers
    # BlackSheep's format_reason raises UnicodeDecodeError, which escapes the app: uvicorn
    # drops the connection with no close frame.
    assert talk(blacksheep, "/fail/wide") == Talk((), (1006, ""))
    # wsplay cuts on a character boundary: 1 + 39 * 3 = 118 bytes, then "...".
    good = talk(wsplay, "/fail/wide")
    assert good == Talk((), (1011, "a" + "秦" * 39 + "..."))
    assert len(good.closed[1].encode()) <= 123


def test_fix_a_subprotocol_the_client_did_not_offer(servers, caplog):
    blacksheep, wsplay = servers
    caplog.set_level(logging.WARNING)
    # BlackSheep sends it anyway, and the client cannot accept that 101 response.
    assert talk(blacksheep, "/accept") == HandshakeFailed("NegotiationError")
    caplog.clear()
    # wsplay refuses the handshake and logs why.
    assert talk(wsplay, "/accept") == Refused(403)
    explained = [str(record.exc_info[1]) for record in errors_logged(caplog) if record.exc_info]
    assert any("'chat.v1'" in text and "did not offer" in text for text in explained), explained


def test_disconnect_error_carries_the_reason_only_in_wsplay():
    blacksheep_error = framework("blacksheep").WebSocketDisconnectError(4002)
    wsplay_error = framework("wsplay").WebSocketDisconnectError(4002, "client bye")
    assert str(wsplay_error) == str(blacksheep_error)
    assert wsplay_error.code == blacksheep_error.code == 4002
    assert wsplay_error.reason == "client bye"
    assert not hasattr(blacksheep_error, "reason")


# --- running third-party BlackSheep code on wsplay: the three gaps, closed -------------------
def test_a_hand_made_scope_with_a_str_query_string_has_a_repr() -> None:
    from wsplay import WebSocket as WsplayWebSocket

    scope = {"type": "websocket", "path": "/chat", "query_string": "room=1", "headers": []}
    websocket = WsplayWebSocket(scope, None, None)
    assert repr(websocket) == "<WebSocket /chat?room=1>"
    assert websocket.query == {"room": ["1"]}


def test_a_handler_under_blacksheeps_auth_is_refused_not_served_to_anyone() -> None:
    from blacksheep.server.authorization import auth

    from wsplay import InvalidRouteError
    from wsplay import Router as WsplayRouter

    @auth("admin")
    async def admin_only(websocket):
        await websocket.accept()

    with pytest.raises(InvalidRouteError, match=r"@auth\(...\), which wsplay does not enforce"):
        WsplayRouter().add_ws("/admin", admin_only)


def test_blacksheeps_header_binder_is_named_with_what_to_use_instead() -> None:
    from blacksheep import FromCookie, FromHeader, FromQuery

    from wsplay import InvalidRouteError
    from wsplay import Router as WsplayRouter

    async def by_header(websocket, x_user: FromHeader[str]):
        await websocket.accept()

    async def by_cookie(websocket, session: FromCookie[str]):
        await websocket.accept()

    async def by_query(websocket, page: FromQuery[int]):
        await websocket.accept()

    cases = [
        (by_header, r"FromHeader is BlackSheep's binder.*get_first_header\(b'x-user'\)"),
        (by_cookie, r"FromCookie .* from websocket.headers"),
        (by_query, r"FromQuery .* plain type, page: int;"),
    ]
    for handler, message in cases:
        with pytest.raises(InvalidRouteError, match=message):
            WsplayRouter().add_ws("/x", handler)
