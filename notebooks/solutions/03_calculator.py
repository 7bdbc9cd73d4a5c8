"""A solution to notebook 03's exercise: check("calculator", calc)."""

import json
import operator

from wsplay import MessageMode, WebSocket, ws

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


@ws("/calc")
async def calc(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message.get("text") is not None:
            answer = compute(json.loads(message["text"]))
            await websocket.send_json(answer)
        else:
            answer = compute(json.loads(message["bytes"]))
            await websocket.send_json(answer, mode=MessageMode.BYTES)
