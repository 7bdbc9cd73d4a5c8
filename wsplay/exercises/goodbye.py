"""Notebook 04's exercise: every kind of goodbye."""

from __future__ import annotations

from ..framework import CloseCode
from .conversation import Run
from .registry import exercise


@exercise(
    "goodbye",
    "04",
    "ending conversations well",
    "/talk",
    """
Serve /talk: echo every text message. On the text "bye", close with code 4000 and the reason
"goodbye". On a binary frame, close with 1003 (Unsupported Data) instead of crashing. When
the client leaves (any close code, or a dropped connection), end quietly: no exception.
""",
)
def _goodbye(run: Run) -> None:
    quiet = (
        "Wrap the loop in `try: ... except WebSocketDisconnectError: return`, and do not "
        "send or receive after the client has gone."
    )
    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    for text in ("hello", "still here"):
        run.send("client", text)
        run.expect_text(
            "client",
            text,
            f"'{text}' comes back",
            "Echo with `await websocket.send_text(await websocket.receive_text())` in a loop.",
        )
    run.send("client", "bye")
    run.expect_close(
        "client",
        4000,
        "'bye' → a close 4000 with reason 'goodbye'",
        'On "bye", `await websocket.close(4000, "goodbye")` (and then return).',
        reason="goodbye",
    )
    run.leave("client", "the handler ends without an error", quiet)

    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    run.send("client", b"\x00\x01", "bytes")
    run.expect_close(
        "client",
        CloseCode.UNSUPPORTED_DATA,
        "a binary frame → a close 1003 (Unsupported Data)",
        "Read with `message = await websocket.receive()`; if message.get('text') is None it "
        "was binary: `await websocket.close(1003, ...)`.",
    )
    run.leave("client", "the handler ends without an error", quiet)

    for code, reason in (
        (CloseCode.NORMAL_CLOSURE.value, ""),
        (CloseCode.GOING_AWAY.value, "tab closed"),
        (4321, "custom"),
    ):
        run.conversation()
        run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
        run.send("client", "hi")
        run.expect_text("client", "hi", "'hi' comes back", "Echo every text message.")
        step = f"client closes with {code}" + (f" ({reason!r})" if reason else "")
        run.leave("client", f"{step}; the handler ends quietly", quiet, code, reason)

    run.conversation()
    run.connect("client", "/talk", fix="Call `await websocket.accept()` first.")
    run.lost("client")
    run.leave("client", "client's connection drops (1006); the handler ends quietly", quiet)
