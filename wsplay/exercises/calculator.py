"""Notebook 03's exercise: a JSON calculator."""

from __future__ import annotations

import json
from typing import Any

from .conversation import _Run
from .registry import _exercise
from .seen import ANY_TEXT


@_exercise(
    "calculator",
    "03",
    "a JSON calculator",
    "/calc",
    """
Serve /calc. Each request is JSON such as {"op": "add", "a": 2, "b": 3}, with op one of add,
sub, mul, div; answer {"result": 5}. When the request cannot be computed (division by zero,
an unknown op) answer {"error": "<what went wrong>"} and keep the connection open. A request
sent as JSON in a binary frame (MessageMode.BYTES) gets its answer in a binary frame.
""",
)
def _calculator(run: _Run) -> None:
    arithmetic = (
        ("add", 2, 3, 5),
        ("sub", 1, 5, -4),
        ("mul", 4, 2.5, 10),
        ("div", 7, 2, 3.5),
    )
    fix = (
        "Read the request with `await websocket.receive_json()` and answer with "
        '`await websocket.send_json({"result": ...})`, in a `while True:` loop.'
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    for op, a, b, result in arithmetic:
        request = {"op": op, "a": a, "b": b}
        run.send("client", request, "json")
        run.expect_json(
            "client", {"result": result}, f"{_js(request)} → {_js({'result': result})}", fix
        )
    run.leave("client", "client leaves; the handler ends without an error", "")

    error_fix = (
        'Answer `{"error": "..."}` instead of raising: check `b == 0` and unknown ops (or '
        "catch the exception), then carry on with the next request."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    for request in ({"op": "div", "a": 1, "b": 0}, {"op": "pow", "a": 2, "b": 3}):
        run.send("client", request, "json")
        run.expect_json("client", {"error": ANY_TEXT}, f"{_js(request)} → an error", error_fix)
    request = {"op": "add", "a": 1, "b": 1}
    run.send("client", request, "json")
    run.expect_json(
        "client",
        {"result": 2},
        f"after the errors, {_js(request)} → {_js({'result': 2})}",
        error_fix,
    )
    run.leave("client", "client leaves; the handler ends without an error", "")

    binary_fix = (
        "Read with `message = await websocket.receive()`: a binary frame has "
        "message.get('bytes'). Parse it with json.loads and answer with "
        "`await websocket.send_json(answer, mode=MessageMode.BYTES)`."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    request = {"op": "mul", "a": 6, "b": 7}
    run.send("client", request, "json-bytes")
    run.expect_json(
        "client",
        {"result": 42},
        f"{_js(request)} in a binary frame → {_js({'result': 42})} in a binary frame",
        binary_fix,
        binary=True,
    )
    request = {"op": "add", "a": 1, "b": 2}
    run.send("client", request, "json")
    run.expect_json(
        "client", {"result": 3}, f"then {_js(request)} as text → a text answer", binary_fix
    )
    run.leave("client", "client leaves; the handler ends without an error", "")


def _js(value: Any) -> str:
    return json.dumps(value)
