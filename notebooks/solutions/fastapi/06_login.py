"""A FastAPI solution to notebook 06's exercise: check("login", private)."""

import asyncio

from fastapi import FastAPI, WebSocket

app = FastAPI()
TOKENS = {"t-ada": "ada", "t-bob": "bob"}
TRUSTED_ORIGIN = "http://localhost:8888"


@app.websocket("/private")
async def private(websocket: WebSocket, token: str | None = None):
    origin = websocket.headers.get("origin")
    if origin is not None and origin != TRUSTED_ORIGIN:
        await websocket.close()  # before accept(): the handshake is refused (HTTP 403)
        return
    await websocket.accept()
    token = token or websocket.cookies.get("session")  # FastAPI fills token from the query
    if token is None:
        try:
            login = await asyncio.wait_for(websocket.receive_json(), 1)
        except TimeoutError:
            await websocket.close(4001, "log in with your first message")
            return
        token = login.get("token") if isinstance(login, dict) else None
    user = TOKENS.get(token)
    if user is None:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {user}")
