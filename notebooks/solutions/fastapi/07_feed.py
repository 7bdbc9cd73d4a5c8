"""A FastAPI solution to notebook 07's exercise: check("feed", feed)."""

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
LIMIT = 65_536  # bytes of UTF-8 in one text
clients: set[WebSocket] = set()


async def deliver(peer: WebSocket, text: str) -> None:
    """Send, or give up on a client that has not taken it within a second."""
    try:
        await asyncio.wait_for(peer.send_text(text), 1)
    except (TimeoutError, WebSocketDisconnect):
        clients.discard(peer)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peer.close(1008, "too slow"), 1)


@app.websocket("/feed")
async def feed(websocket: WebSocket):
    await websocket.accept()
    clients.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > LIMIT:
                await websocket.close(1009, "message too big")
                return
            await asyncio.gather(*(deliver(peer, text) for peer in list(clients)))
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(websocket)
