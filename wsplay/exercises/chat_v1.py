"""Notebook 02's exercise: speak chat.v1, or say why not."""

from __future__ import annotations

from .conversation import Run
from .registry import exercise
from .seen import ANY_TEXT


@exercise(
    "chat-v1",
    "02",
    "choosing a subprotocol",
    "/chat",
    """
Serve /chat. When the client offers the subprotocol "chat.v1" (in any position), accept with
subprotocol="chat.v1". Otherwise accept without a subprotocol and close at once with code
4003 and a reason that says chat.v1 is required: a refused handshake would tell a browser
nothing, a close code and reason tell it why.
""",
)
def _chat_v1(run: Run) -> None:
    accept_fix = (
        'Accept with `await websocket.accept(subprotocol="chat.v1")` when '
        '"chat.v1" is in websocket.subprotocols.'
    )
    for offered in (["chat.v1"], ["chat.v2", "chat.v1"]):
        run.conversation()
        run.connect(
            "client", "/chat", subprotocols=offered, expect_subprotocol="chat.v1", fix=accept_fix
        )
        run.leave("client", "client leaves; the handler ends without an error", "")
    close_fix = (
        "When chat.v1 is not offered, first `await websocket.accept()` (with no subprotocol), "
        'then `await websocket.close(4003, "chat.v1 required")`. A close before accept() '
        "refuses the handshake, and the client never sees your code or reason."
    )
    for offered in ([], ["chat.v2"]):
        run.conversation()
        run.connect("client", "/chat", subprotocols=offered, expect_subprotocol=None, fix=close_fix)
        run.expect_close(
            "client", 4003, "then closed with 4003 and a reason", close_fix, reason=ANY_TEXT
        )
        run.leave("client", "the handler ends without an error", "")
