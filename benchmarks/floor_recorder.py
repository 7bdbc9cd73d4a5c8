"""The least any recorder around an ASGI app can do: the floor under the playground's cost.

``bench_playground.py`` runs it as the ``floor`` server: one record per connection, and the
handshake, the accept, each message (its size and its first bytes) and the close appended
to a bounded deque as a tuple, the record dropped at the end. Its ``receive`` is a
coroutine around the server's, as any ASGI middleware's must be (the playground's protocol
hands it each message instead: see server/protocols.py). No Origin policy, no tickets, no
budgets, no counts, no pacing, no error hosting, no connection objects: what wsplay's
Recorder adds on top of this is what the ``recorder / floor`` gap measures, and the floor
itself is the part no recording middleware can shed.
"""

from __future__ import annotations

import itertools
from collections import deque
from time import time
from typing import Any

MAX_EVENTS = 10_000
PREVIEW = 80  # characters or bytes of a message kept, as the timeline keeps (bounded memory)


class FloorRecorder:
    """Wraps an ASGI app; appends one tuple per WebSocket event, and nothing more."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.connections: dict[int, dict[str, Any]] = {}
        self.events: deque[tuple[Any, ...]] = deque(maxlen=MAX_EVENTS)
        self._ids = itertools.count(1)

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return self.app(scope, receive, send)
        return self._conversation(scope, receive, send)

    async def _conversation(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        events, connection = self.events, next(self._ids)
        self.connections[connection] = scope
        events.append((time(), connection, "handshake", scope.get("path"), scope.get("headers")))

        def recorded_send(message: dict[str, Any]) -> Any:
            kind = message["type"]
            if kind == "websocket.send":
                data = message.get("text") or message.get("bytes") or b""
                events.append((time(), connection, "out", len(data), data[:PREVIEW]))
            elif kind == "websocket.accept":
                events.append((time(), connection, "accept"))
            elif kind == "websocket.close":
                events.append((time(), connection, "close", message.get("code")))
            return send(message)

        async def recorded_receive() -> dict[str, Any]:
            message = await receive()
            data = message.get("text") or message.get("bytes") or b""
            events.append((time(), connection, "in", len(data), data[:PREVIEW]))
            return message

        try:
            await self.app(scope, recorded_receive, recorded_send)
        finally:
            del self.connections[connection]
