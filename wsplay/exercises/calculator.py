"""Notebook 03's exercise: a JSON calculator."""

from __future__ import annotations

from .conversation import Run
from .registry import exercise
from .seen import ANY_TEXT


@exercise(
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
def _calculator(run: Run) -> None:
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
        run.asks("client", {"op": op, "a": a, "b": b}, {"result": result}, fix)
    run.leave("client", "client leaves; the handler ends without an error", "")

    error_fix = (
        'Answer `{"error": "..."}` instead of raising: check `b == 0` and unknown ops (or '
        "catch the exception), then carry on with the next request."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    for request in ({"op": "div", "a": 1, "b": 0}, {"op": "pow", "a": 2, "b": 3}):
        run.asks("client", request, {"error": ANY_TEXT}, error_fix, "{request} → an error")
    after = "after the errors, {request} → {answer}"
    run.asks("client", {"op": "add", "a": 1, "b": 1}, {"result": 2}, error_fix, after)
    run.leave("client", "client leaves; the handler ends without an error", "")

    binary_fix = (
        "Read with `message = await websocket.receive()`: a binary frame has "
        "message.get('bytes'). Parse it with json.loads and answer with "
        "`await websocket.send_json(answer, mode=MessageMode.BYTES)`."
    )
    run.conversation()
    run.connect("client", "/calc", fix="Call `await websocket.accept()` first.")
    both = "{request} in a binary frame → {answer} in a binary frame"
    run.asks("client", {"op": "mul", "a": 6, "b": 7}, {"result": 42}, binary_fix, both, binary=True)
    as_text = "then {request} as text → a text answer"
    run.asks("client", {"op": "add", "a": 1, "b": 2}, {"result": 3}, binary_fix, as_text)
    run.leave("client", "client leaves; the handler ends without an error", "")
