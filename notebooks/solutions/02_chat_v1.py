"""A solution to notebook 02's exercise: check("chat-v1", chat_v1)."""

from wsplay import WebSocket, ws


@ws("/chat")
async def chat_v1(websocket: WebSocket):
    if "chat.v1" not in websocket.subprotocols:
        # Accept first: a close before accept() refuses the handshake, and the client
        # would never see the code or the reason.
        await websocket.accept()
        await websocket.close(4003, "this chat speaks chat.v1 only")
        return
    await websocket.accept(subprotocol="chat.v1")
    while True:
        await websocket.send_text(await websocket.receive_text())
