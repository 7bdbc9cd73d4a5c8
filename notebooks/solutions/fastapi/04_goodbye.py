"""A FastAPI solution to notebook 04's exercise: check("goodbye", talk)."""

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/talk")
async def talk(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()  # Starlette's raw ASGI message
        if message["type"] == "websocket.disconnect":
            return  # the client left: nothing more to say
        text = message.get("text")
        if text is None:
            await websocket.close(1003, "this endpoint speaks text only")
            return
        if text == "bye":
            await websocket.close(4000, "goodbye")
            return
        await websocket.send_text(text)
