"""A FastAPI solution to notebook 08's exercise: check("redis-rooms", room_chat)."""

import asyncio
import os

import redis.asyncio as redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
hub = redis.from_url(REDIS_URL, decode_responses=True)  # connects when first used


async def forward(pubsub, websocket: WebSocket) -> None:
    """Everything the channel brings, from any worker, to this one client."""
    async for message in pubsub.listen():
        if message["type"] == "message":
            try:
                await websocket.send_text(message["data"])
            except (WebSocketDisconnect, RuntimeError):
                return  # the client has gone; its handler is ending


@app.websocket("/room/{room}/{user}")
async def room_chat(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    channel = f"room:{room}"
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=5)  # Redis confirms: from now on we hear the room
        relay = asyncio.create_task(forward(pubsub, websocket))
        await hub.publish(channel, f"{user} joined")
        try:
            while True:
                text = await websocket.receive_text()
                await hub.publish(channel, f"{user}: {text}")
        except WebSocketDisconnect:
            pass
        finally:
            relay.cancel()
            await hub.publish(channel, f"{user} left")
