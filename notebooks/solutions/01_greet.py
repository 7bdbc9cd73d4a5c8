"""A solution to notebook 01's exercise: check("greet", greet)."""

from wsplay import WebSocket, ws


@ws("/greet/{name}")
async def greet(websocket: WebSocket, name: str):
    await websocket.accept()
    await websocket.send_text(f"Hello, {name}!")
