"""A FastAPI solution to notebook 02's exercise: check("chat-v1", chat_v1)."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.websocket("/chat")
async def chat_v1(websocket: WebSocket):
    if "chat.v1" not in websocket.scope["subprotocols"]:
        # Accept first: a close before accept() refuses the handshake, and the client
        # would never see the code or the reason.
        await websocket.accept()
        await websocket.close(4003, "this chat speaks chat.v1 only")
        return
    await websocket.accept(subprotocol="chat.v1")
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
