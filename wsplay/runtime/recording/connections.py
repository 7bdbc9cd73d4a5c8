"""A connection as the server sees it: its id, its state, and how it ended.

``ServerConnection`` is what a cell finds in ``pg.connections``; the recorder's
conversation (recorder.py) keeps it up to date. The id is shared with the kernel's own
client and the panel's, so both sides of one connection are one lane on the timeline.

Ids are the kernel's, never the wire's: the kernel reserves an id for a client it is about
to open and gives that client a one-time ticket (``Tickets``), an unguessable token the
client presents (the kernel client in a header, a page's client in the query, since browsers
cannot set headers on a WebSocket). The server honours a ticket once, for the id it was
issued for; any other value, or none, gets a fresh id. The ticket is taken out of the scope
either way, so the app never sees it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ...framework.close_codes import (
    Close,
    CloseCode,
    ClosedBy,
    Ending,
    check_close_code,
    check_close_reason,
)
from ..timeline.kinds import KERNEL, STOPPING

if TYPE_CHECKING:
    from .conversation import Conversation

_name = itemgetter(0)  # of a header pair
CONNECTION_HEADER = b"x-wsplay-connection"  # the kernel client's ticket
CONNECTION_QUERY = b"wsplay-connection"  # a page's client's ticket
# Tickets issued and not presented yet (a page that never connected): the oldest are
# forgotten past this many, so a widget clicked all day holds no more memory.
MAX_PENDING_TICKETS = 1_000


class ConnectionClosedOnServer(OSError):
    """The connection is already over, so nothing can be sent on it."""

    def __init__(self, connection: int, how: str) -> None:
        super().__init__(f"Connection #{connection} has already ended ({how}).")


class ServerConnection(Ending):
    """The server's end of one open connection, as a cell sees it in ``pg.connections``.

    ``close()`` is a plain call (no ``await``) that ends the conversation from the server's
    side, whatever the handler is doing.
    """

    def __init__(self, id: int, scope: dict[str, Any], conversation: Conversation, loop: Any):
        self.id = id
        self.path: str = scope.get("path", "")
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.started = time.time()
        self.accepted = False
        # How the connection ended, once it has: the one record, set only by ended().
        self.ending: Close | None = None
        self._conversation = conversation
        self._loop = loop

    def close(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        """Close this connection from the server's side with ``code`` and ``reason``."""
        conversation = self._conversation
        if conversation is None:  # over, and let go of (see Conversation.let_go)
            raise ConnectionClosedOnServer(self.id, self.ended_how())
        timeout = conversation.recorder.call_timeout
        self._loop.run(self.close_async(code, reason), timeout, f"Closing #{self.id}")

    async def close_async(
        self,
        code: int = CloseCode.NORMAL_CLOSURE.value,
        reason: str = "",
        *,
        asked_by: str = KERNEL,
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

    def let_go(self) -> None:
        """The conversation is over: hold it no longer (a cell may keep this object)."""
        self._conversation = None

    def ended(self, by: ClosedBy, code: int | None, reason: str) -> None:
        self.ending = Close(code, reason, by)

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


class Tickets:
    """One-time tokens for the ids the kernel reserved; see the module's docstring.

    Issued on the kernel's thread, redeemed on the server's: one lock around both.
    """

    def __init__(self, max_pending: int = MAX_PENDING_TICKETS) -> None:
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()

    def issue(self, connection: int) -> str:
        """A fresh token that stands for ``connection`` once."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[token] = connection
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
        return token

    def redeem(self, token: bytes) -> int | None:
        """The id ``token`` was issued for, the first time it is presented; else None."""
        with self._lock:
            return self._pending.pop(token.decode("latin-1"), None)

    def claim(self, scope: dict[str, Any]) -> tuple[int | None, bool, dict[str, Any]]:
        """(the id a presented ticket stands for, or None; whether the kernel client presented
        it; the scope without any ticket, header or query parameter, valid or not)."""
        headers = scope.get("headers", ())
        query = scope.get("query_string", b"")
        in_header = CONNECTION_HEADER in map(_name, headers)  # in C: this runs per handshake
        if not in_header and CONNECTION_QUERY not in query:
            return None, False, scope  # the common case, for any client but wsplay's own
        presented = [(value, True) for name, value in headers if name == CONNECTION_HEADER]
        kept_pairs = []
        for pair in query.split(b"&") if query else ():
            name, _, value = pair.partition(b"=")
            if name == CONNECTION_QUERY:
                presented.append((value, False))
            else:
                kept_pairs.append(pair)
        found, kernel = None, False
        for token, from_header in presented:  # each one is spent, honoured or not
            connection = self.redeem(token)
            if found is None and connection is not None:
                found, kernel = connection, from_header
        kept = {
            **scope,
            "headers": [(name, value) for name, value in headers if name != CONNECTION_HEADER],
            "query_string": b"&".join(kept_pairs),
        }
        return found, kernel, kept
