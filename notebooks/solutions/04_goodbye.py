"""A solution to notebook 04's exercise: check("goodbye", talk)."""

from wsplay import WebSocket, WebSocketDisconnectError, ws


@ws("/talk")
async def talk(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            text = message.get("text")
            if text is None:
                await websocket.close(1003, "this endpoint speaks text only")
                return
            if text == "bye":
                await websocket.close(4000, "goodbye")
                return
            await websocket.send_text(text)
    except WebSocketDisconnectError:
        return  # the client left: nothing more to say
