"""A FastAPI solution to notebook 03's exercise: check("calculator", calc)."""

import json
import operator

from fastapi import FastAPI, WebSocket

app = FastAPI()
OPERATIONS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}


def compute(request):
    try:
        operation = OPERATIONS[request["op"]]
        return {"result": operation(request["a"], request["b"])}
    except KeyError as missing:
        return {"error": f"unknown or missing {missing}"}
    except (ArithmeticError, TypeError) as error:
        return {"error": str(error)}


@app.websocket("/calc")
async def calc(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()  # Starlette's raw ASGI message
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_json(compute(json.loads(message["text"])))
        else:
            answer = compute(json.loads(message["bytes"]))
            await websocket.send_json(answer, mode="binary")
