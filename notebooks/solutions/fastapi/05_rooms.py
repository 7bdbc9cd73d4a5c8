"""A FastAPI solution to notebook 05's exercise: check("rooms", room_chat)."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
rooms: dict[str, dict[str, WebSocket]] = {}  # room name -> {user: websocket}


async def broadcast(room: str, text: str) -> None:
    members = rooms.get(room, {})
    vanished = []
    for user, peer in list(members.items()):
        try:
            await peer.send_text(text)
        except WebSocketDisconnect:
            vanished.append(user)  # gone mid-broadcast: the others still get the message
    for user in vanished:
        await leave(room, user)


async def leave(room: str, user: str) -> None:
    if rooms.get(room, {}).pop(user, None) is not None:
        await broadcast(room, f"{user} left")


@app.websocket("/room/{room}/{user}")
async def room_chat(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    rooms.setdefault(room, {})[user] = websocket
    await broadcast(room, f"{user} joined")
    try:
        while True:
            text = await websocket.receive_text()
            await broadcast(room, f"{user}: {text}")
    except WebSocketDisconnect:
        pass
    finally:
        await leave(room, user)
