"""Why the kernel's client was refused, or got no answer, from what the server side saw.

The client only sees an HTTP status, or silence; the playground saw the gate's refusal, the
handler's failure, the close before accept, or a handler that never accepted. These turn
that into the sentence ``HandshakeRejectedError`` and ``TimeoutError`` carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ...framework import Router
from ..recording.connections import ServerConnection
from ..reports import HandlerError, LoopBlocked, refused_unexplained
from ..server.origins import Refusal
from ..timeline.kinds import GATE, REJECT, SERVER
from ..timeline.store import Timeline


def why_refused(
    connection: int,
    path: str,
    timeline: Timeline,
    errors: Iterable[HandlerError],
    router: Router | None,
    routes: list[str],
) -> tuple[str, str | None]:
    """The fix ("" if none is known) and why in words (None if the server cannot tell).

    ``router``: the served app's, when it is wsplay's (it can tell a path no route matches);
    ``routes``: the patterns the app serves."""
    for event in timeline.events(connection=connection, kind=REJECT):
        refusal = Refusal.recorded(event.headers) if event.asked_by == GATE else None
        if refusal is not None:
            return "", refusal.explain().rstrip(".")
        if event.side == SERVER and event.asked_by_words:
            return "", f"it was closed {event.asked_by_words} before its handler accepted it"
    for error in reversed(list(errors)):
        if error.connection == connection:
            return error.refusal()
    if not isinstance(router, Router):
        return "", None
    bare = urlsplit(path).path
    return refused_unexplained(bare, routes, matched=router.match(bare) is not None)


def why_unanswered(
    connection: int,
    path: str,
    warnings: Iterable[LoopBlocked],
    connections: Iterable[ServerConnection],
) -> str:
    """Why a handshake got no answer in time, in words."""
    for warning in reversed(list(warnings)):
        if warning.connection is not None and not warning.over:
            return warning.sentence
    for open_connection in connections:
        if open_connection.id == connection and not open_connection.accepted:
            return (
                f"call `await websocket.accept()` first in the handler for {path}, before "
                "it receives or sends anything: it has not called "
                "`await websocket.accept()` yet"
            )
    return "the server did not answer the handshake"
