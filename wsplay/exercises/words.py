"""The hints in the words of the framework the learner wrote for.

Every exercise's hints are written once, in wsplay's words (which are BlackSheep's too).
For a handler written for FastAPI or Starlette, each phrase that only wsplay has is said as
that framework says it: ``websocket.query_params``, ``WebSocketDisconnect``,
``mode="binary"``. The phrases are whole snippets, so a replacement never lands inside a
word it was not meant for.
"""

from __future__ import annotations

from .frameworks import WSPLAY

_RECEIVE_BINARY = "Read with `message = await websocket.receive()`"
_STARLETTE_RECEIVE = (
    f'{_RECEIVE_BINARY} (its message["type"] is "websocket.disconnect" when the client has '
    "left: then return)"
)

# (wsplay's phrase, Starlette's and FastAPI's), the longer phrases first.
STARLETTE_WORDS: tuple[tuple[str, str], ...] = (
    ('websocket.query.get("token", [None])[0]', 'websocket.query_params.get("token")'),
    ('websocket.headers.get_first(b"origin")', 'websocket.headers.get("origin")'),
    ("b'http://localhost:8888'", "'http://localhost:8888'"),
    (
        "`await websocket.send_json(answer, mode=MessageMode.BYTES)`",
        '`await websocket.send_json(answer, mode="binary")` (or '
        "`await websocket.send_bytes(json.dumps(answer).encode())`)",
    ),
    ("mode=MessageMode.BYTES", 'mode="binary"'),
    ("websocket.subprotocols", 'websocket.scope["subprotocols"]'),
    ("@ws('/", "@app.websocket('/"),
    ("(wsplay then closes with 1000)", "(the server then closes with 1000)"),
    ("(InvalidWebSocketStateError)", '(RuntimeError: Cannot call "send" once a close ...)'),
    ("WebSocketDisconnectError", "WebSocketDisconnect"),
    (_RECEIVE_BINARY, _STARLETTE_RECEIVE),
)


def in_words_of(framework: str, hint: str) -> str:
    """``hint``, said as ``framework`` says it."""
    if framework == WSPLAY:
        return hint
    for wsplay_phrase, phrase in STARLETTE_WORDS:
        hint = hint.replace(wsplay_phrase, phrase)
    return hint
