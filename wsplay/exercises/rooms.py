"""Notebook 05's exercise: chat rooms."""

from __future__ import annotations

from .conversation import Run
from .registry import exercise


@exercise(
    "rooms",
    "05",
    "a chat with rooms",
    "/room/{room}/{user}",
    """
Serve /room/{room}/{user}: a chat where each room is separate. When a user connects, everyone
in their room (them included) gets "<user> joined". A text from a user goes to everyone in
their room (them included) as "<user>: <text>". When a user leaves, or vanishes, the others
in the room get "<user> left", once. A member who vanishes in the middle of a broadcast must
not break the conversation for the others.
""",
)
def _rooms(run: Run) -> None:
    join_fix = (
        "After accept(), add the websocket to `rooms[room]` and send "
        'f"{user} joined" to every member of that room, the newcomer included.'
    )
    relay_fix = 'Send f"{user}: {text}" to every member of the sender\'s room, sender included.'
    rooms_fix = (
        "Keep one dict of members per room (`rooms.setdefault(room, {})`) and broadcast "
        "to that room only."
    )
    left_fix = (
        "When a member's handler ends (WebSocketDisconnectError, in a `finally:`), remove them "
        'from the room and send f"{user} left" to the others, once.'
    )
    vanish_fix = (
        "Sending to a member who vanished raises WebSocketDisconnectError in the *sender's* "
        "handler: wrap each member's send_text in try/except, drop that member and carry on; "
        'then send f"{user} left" once, whichever notices first: the failed send or the '
        "member's own handler."
    )
    leak = {"alice": rooms_fix, "bob": rooms_fix, "carol": rooms_fix}
    from_b = {"dave": rooms_fix}
    accept_fix = "Call `await websocket.accept()` first."
    relayed = "{name}: {text}"  # how a room passes a member's text on
    run.conversation()
    run.joins("dave", "b", ["dave"], join_fix, connect_fix=accept_fix)
    run.joins("alice", "a", ["alice"], join_fix)
    alone = " (nothing from room a)"
    run.says("dave", "hello b", ["dave"], relay_fix, relayed=relayed, note=alone, hints=leak)
    run.joins("bob", "a", ["bob", "alice"], join_fix, note=" (nothing from room b)", hints=from_b)
    run.says("alice", "hi", ["alice", "bob"], relay_fix, relayed=relayed)
    run.joins("carol", "a", ["carol", "alice", "bob"], join_fix)
    run.vanish("carol")
    if run.send("alice", "anyone?"):
        run.lost("carol")
        run.expect_texts(
            ["alice", "bob"],
            ["alice: anyone?", "carol left"],
            "carol vanishes as alice says 'anyone?': alice and bob receive 'alice: anyone?' "
            "and 'carol left'",
            vanish_fix,
        )
    run.leave("carol", "carol's handler ends quietly", left_fix)
    run.leave("alice", "alice leaves; her handler ends quietly", left_fix)
    run.expect_text(
        "bob",
        "alice left",
        "bob receives 'alice left'",
        left_fix,
        hints={
            "carol left": "'carol left' came twice: announce a departure only where the "
            "member is removed from the room, and only if they were still in it."
        },
    )
    run.leave("bob", "bob leaves; the handler ends quietly", left_fix)
    run.leave("dave", "dave leaves; the handler ends quietly", left_fix)
