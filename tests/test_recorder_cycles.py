"""A recorded connection leaves no reference cycle behind.

The recorder's objects for one connection (its Conversation, ServerConnection, the view of
the protocol, the Close) point at each other while it lives. Were they still a cycle when it
ends, only the garbage collector could free them: in a playground serving many handshakes
that means ever more full collections, each walking the kernel's whole heap. So each
connection's objects must be freed by reference counting alone, as the bare app's are.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from tests.apps import echo
from wsplay import Application, Router
from wsplay.runtime.recording.recorder import Recorder
from wsplay.runtime.server.origins import Gate
from wsplay.runtime.timeline.store import Timeline


def websocket_scope() -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/echo",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8888")],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


class FakeServer:
    """One connection's receive and send, as a server hands them to the app: the client
    connects, says "hi" and leaves."""

    def __init__(self) -> None:
        self.inbox = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hi"},
            {"type": "websocket.disconnect", "code": 1000, "reason": ""},
        ]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.inbox.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def conversations(app: Any, count: int) -> None:
    for _ in range(count):
        server = FakeServer()
        await app(websocket_scope(), server.receive, server.send)
        assert [m["type"] for m in server.sent] == ["websocket.accept", "websocket.send"]


def test_a_recorded_connection_is_freed_without_the_garbage_collector() -> None:
    router = Router()
    router.add_ws("/echo", echo)
    timeline = Timeline()
    recorder = Recorder(
        Application(router=router), timeline, loop=None, on_error=print, gate=Gate()
    )
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(conversations(recorder, 1))  # imports, caches: once
        gc.collect()
        gc.disable()
        try:
            loop.run_until_complete(conversations(recorder, 50))
            left_in_cycles = gc.collect()
        finally:
            gc.enable()
    finally:
        sweeper = asyncio.all_tasks(loop)  # the recorder's sweep of open connections
        for task in sweeper:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*sweeper, return_exceptions=True))
        loop.close()
    assert left_in_cycles == 0
    assert len(timeline.events(kind="close")) == 51 and not recorder.connections
