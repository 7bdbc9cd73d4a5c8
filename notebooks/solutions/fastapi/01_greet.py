"""A FastAPI solution to notebook 01's exercise: check("greet", greet)."""

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/greet/{name}")
async def greet(websocket: WebSocket, name: str):
    await websocket.accept()
    await websocket.send_text(f"Hello, {name}!")
