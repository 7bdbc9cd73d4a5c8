"""A route is its shape: re-registering the same shape replaces it, whatever its parameters
are named or typed; overlapping shapes are both kept, matched in BlackSheep's order.

The order is checked against BlackSheep itself (its router, sorted as its app sorts it at
start-up), so an export serves a path with the same handler the playground did.
"""

from __future__ import annotations

import logging

import pytest
from blacksheep.server.routing import Router as BlackSheepRouter

from wsplay import Application, HandshakeRejectedError, Router, WebSocket
from wsplay.testing import TestClient

SAME_SHAPE = ["/chat/{room}", "/chat/{name}", "/chat/:who", "/chat/<y>", "/chat/{int:id}"]


def replying(word: str):
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(word)

    handler.__name__ = handler.__qualname__ = f"say_{word}"
    return handler


async def answer(router: Router, path: str) -> str:
    client = TestClient(Application(router=router), timeout=2)
    async with client.websocket_connect(path) as connection:
        return await connection.receive_text()


@pytest.mark.parametrize("later", SAME_SHAPE[1:])
async def test_a_renamed_or_retyped_parameter_replaces_the_route(
    later: str, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router()
    router.add_ws("/chat/{room}", replying("old"))
    with caplog.at_level(logging.WARNING, "wsplay"):
        router.add_ws(later, replying("new"))
    assert [route.pattern.text for route in router] == [later]
    assert await answer(router, "/chat/12") == "new"
    said = [record.getMessage() for record in caplog.records]
    assert said == [
        f"{later} replaces /chat/{{room}}, the route of the same shape: new connections now "
        "go to say_new()."
    ]


def test_a_retyped_parameter_takes_effect_the_other_way_too() -> None:
    router = Router()
    router.add_ws("/items/{int:id}", replying("int"))
    router.add_ws("/items/{id}", replying("str"))
    found = router.match("/items/abc")
    assert found is not None and found[1] == {"id": "abc"}
    assert len(router) == 1


def test_re_running_the_same_pattern_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    router = Router()
    with caplog.at_level(logging.INFO, "wsplay"):
        router.add_ws("/chat/{room}", replying("one"))
        router.add_ws("/chat/{room}", replying("two"))
    assert caplog.records == []
    assert len(router) == 1


async def test_an_overlapping_route_of_another_shape_is_kept_and_the_literal_wins() -> None:
    router = Router()
    router.add_ws("/chat/{room}", replying("room"))
    router.add_ws("/chat/lobby", replying("lobby"))
    assert [route.pattern.text for route in router] == ["/chat/{room}", "/chat/lobby"]
    assert await answer(router, "/chat/lobby") == "lobby"
    assert await answer(router, "/chat/kitchen") == "room"


def test_remove_ws_removes_the_route_of_that_shape() -> None:
    router = Router()
    router.add_ws("/chat/{room}", replying("room"))
    router.add_ws("/chat/lobby", replying("lobby"))
    assert router.remove_ws("/chat/:anything") is True
    assert [route.pattern.text for route in router] == ["/chat/lobby"]


REGISTRATIONS = [
    ["/chat/{room}", "/chat/lobby"],
    ["/a/{x}/{y}", "/a/{x}/end", "/a/b/c"],
    ["/files/{path:rest}", "/files/{name}", "/files/readme"],
    ["/*", "/{anything}", "/home"],
    ["/{a}/{b}", "/x/{b}/c", "/x/{b}"],
    ["/n/{int:id}", "/n/{float:x}/y", "/n/new"],
]
PATHS = [
    "/chat/lobby",
    "/chat/kitchen",
    "/a/1/end",
    "/a/b/c",
    "/a/1/2",
    "/files/readme",
    "/files/notes",
    "/files/a/b",
    "/home",
    "/other",
    "/deep/er/path",
    "/x/1",
    "/x/1/c",
    "/n/7",
    "/n/new",
    "/n/1.5/y",
]


@pytest.mark.parametrize("patterns", REGISTRATIONS, ids=" then ".join)
@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
def test_overlapping_routes_serve_a_path_as_blacksheep_does(
    patterns: list[str], reverse: bool
) -> None:
    ordered = list(reversed(patterns)) if reverse else patterns
    ours, theirs = Router(), BlackSheepRouter()
    for pattern in ordered:
        ours.add_ws(pattern, replying("x"))
        theirs.add_ws(pattern, replying("x"))
    theirs.apply_routes()
    theirs.sort_routes()  # what a BlackSheep Application does when it starts
    for path in PATHS:
        found = ours.match(path)
        route = theirs.get_matching_route(b"GET_WS", path.encode())
        expected = route.pattern.decode() if route is not None else None
        assert (found[0].pattern.text if found else None) == expected, path


async def test_a_parameter_renamed_on_one_side_only_is_named_with_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The learner renamed the handler's parameter but not the route's: said at once, fix
    first, and each connection the handler cannot serve is refused with the same fix (not
    with advice to add a query string)."""

    async def chat(websocket: WebSocket, name: str):
        await websocket.accept()
        await websocket.send_text(f"room {name}")

    router = Router()
    fix = "Name chat()'s parameter `room`, as the route /chat/{room} does (or write {name}"
    with caplog.at_level(logging.WARNING, "wsplay"):
        router.add_ws("/chat/{room}", chat)
    assert [record.getMessage()[: len(fix)] for record in caplog.records] == [fix]
    with pytest.raises(HandshakeRejectedError):
        await answer(router, "/chat/lobby")
    assert await answer(router, "/chat/lobby?name=kept") == "room kept"  # as BlackSheep binds


def test_an_unused_route_value_alone_is_no_rename(caplog: pytest.LogCaptureFixture) -> None:
    async def chat(websocket: WebSocket, page: int = 1):
        await websocket.accept()

    with caplog.at_level(logging.WARNING, "wsplay"):
        Router().add_ws("/chat/{room}", chat)
    assert caplog.records == []
