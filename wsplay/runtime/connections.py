"""A connection as the server sees it: its id, its state, and how it ended.

``ServerConnection`` is what a cell finds in ``pg.connections``; the recorder's
conversation (recorder.py) keeps it up to date. The id is shared with the kernel's own
client and the panel's, so both sides of one connection are one lane on the timeline:
the kernel client sends it in a header, a page's client in the query.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from ..framework.close_codes import ClosedBy, check_close_code, check_close_reason
from .timeline import KERNEL, STOPPING

if TYPE_CHECKING:
    from .recorder import _Conversation

CONNECTION_HEADER = b"x-wsplay-connection"  # the kernel client's id, shared by both sides
# The same for a page's client: browsers cannot set headers on a WebSocket, so the id comes
# as a query parameter, taken out before the app sees the query.
CONNECTION_QUERY = b"wsplay-connection"


class ConnectionClosedOnServer(OSError):
    """The connection is already over, so nothing can be sent on it."""

    def __init__(self, connection: int, how: str) -> None:
        super().__init__(f"Connection #{connection} has already ended ({how}).")


class ServerConnection:
    """The server's end of one open connection, as a cell sees it in ``pg.connections``.

    ``close()`` is a plain call (no ``await``) that ends the conversation from the server's
    side, whatever the handler is doing.
    """

    def __init__(self, id: int, scope: dict[str, Any], conversation: _Conversation, loop: Any):
        self.id = id
        self.path: str = scope.get("path", "")
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.started = time.time()
        self.accepted = False
        self.closed_by: ClosedBy | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._conversation = conversation
        self._loop = loop

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close this connection from the server's side with ``code`` and ``reason``."""
        conversation = self._conversation
        if conversation is None:  # over, and let go of (see _Conversation.let_go)
            raise ConnectionClosedOnServer(self.id, self.ended_how())
        timeout = conversation.recorder.call_timeout
        self._loop.run(self.close_async(code, reason), timeout, f"Closing #{self.id}")

    async def close_async(
        self, code: int = 1000, reason: str = "", *, asked_by: str = KERNEL
    ) -> None:
        """Close, or raise ConnectionClosedOnServer saying how it had already ended.

        The timeline records who asked (``asked_by``: the kernel, or the playground
        stopping), not the handler: a replay (``to_test``) must not expect the handler to
        close there.
        """
        check_close_code(code)
        check_close_reason(reason)
        conversation = self._conversation
        if self.closed_by is None and conversation is not None:
            conversation.notice_ending()
        if self.closed_by is not None or conversation is None:
            raise ConnectionClosedOnServer(self.id, self.ended_how())
        close = {"type": "websocket.close", "code": code, "reason": reason}
        await conversation.close(close, asked_by)

    async def end_async(self, code: int, reason: str) -> None:
        """Close if still open; an ending that came first is fine (the playground stopping)."""
        with contextlib.suppress(ConnectionClosedOnServer):
            await self.close_async(code, reason, asked_by=STOPPING)

    def ended(self, by: ClosedBy, code: int | None, reason: str) -> None:
        self.closed_by, self.close_code, self.close_reason = by, code, reason

    def ended_how(self) -> str:
        if self.closed_by == ClosedBy.DROPPED:
            return "the client vanished without a close frame, 1006"
        code = f" with {self.close_code}" if self.close_code is not None else ""
        why = f" ({self.close_reason})" if self.close_reason else ""
        return f"closed by {self.closed_by}{code}{why}"

    @property
    def state(self) -> str:
        if self.closed_by:
            return f"closed by {self.closed_by}"
        return "open" if self.accepted else "connecting"

    def __repr__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"<ServerConnection #{self.id} {self.path}{query} {self.state}>"


def transport_ending(protocol: Any) -> tuple[ClosedBy, int, str] | None:
    """How uvicorn's protocol object says the connection ended: (by, code, reason), or None.

    Read duck-typed from uvicorn's WebSocket protocols (``send`` is a bound method of the
    protocol); an app served some other way is simply not swept.
    """
    transport = getattr(protocol, "transport", None)
    closing = transport is not None and transport.is_closing()
    if not closing and not getattr(protocol, "disconnected", False):
        return None
    connection = getattr(protocol, "conn", None)
    received = getattr(connection, "close_rcvd", None)
    if received is not None and hasattr(received, "code"):
        return ClosedBy.CLIENT, received.code, received.reason
    sent = getattr(connection, "close_sent", None)
    if sent is not None and hasattr(sent, "code"):
        return ClosedBy.SERVER, sent.code, sent.reason
    return ClosedBy.DROPPED, 1006, ""


def kernel_client_id(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == CONNECTION_HEADER and value.isdigit():
            return int(value)
    return None


def page_client_id(scope: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """A browser client's id from ``?wsplay-connection=N``, and the scope without it."""
    query = scope.get("query_string", b"")
    if CONNECTION_QUERY not in query:
        return None, scope
    found, kept = None, []
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == CONNECTION_QUERY and value.isdigit():
            found = int(value)
        else:
            kept.append(pair)
    if found is None:
        return None, scope
    return found, {**scope, "query_string": b"&".join(kept)}
