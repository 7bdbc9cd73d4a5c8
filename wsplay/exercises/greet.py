"""Notebook 01's exercise: a route with a parameter."""

from __future__ import annotations

from .conversation import Run
from .registry import exercise


@exercise(
    "greet",
    "01",
    "a route with a parameter",
    "/greet/{name}",
    """
Serve /greet/{name}: accept the connection and send the text "Hello, {name}!", with the name
from the path (/greet/Ada → "Hello, Ada!").
""",
)
def _greet(run: Run) -> None:
    fix = (
        "Take the name from the route: `async def greet(websocket: WebSocket, name: str)`, "
        'then `await websocket.send_text(f"Hello, {name}!")`.'
    )
    for name in ("Ada", "Grace"):
        run.conversation()
        run.connect(
            "client",
            f"/greet/{name}",
            fix="Call `await websocket.accept()` first (the route is @ws('/greet/{name}')).",
        )
        run.expect_text("client", f"Hello, {name}!", f"client receives 'Hello, {name}!'", fix)
        run.leave(
            "client",
            "client leaves; the handler ends without an error",
            "Let the handler return, or stop when WebSocketDisconnectError arrives.",
        )
