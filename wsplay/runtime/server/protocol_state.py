"""What the server's protocol says about one connection, and what it tells the recorder.

Two directions, each through one typed door:

- The playground's protocol (protocols.py) *tells* the recorder what the app never sees (a
  ping, a pong) and hands it each message before the app reads it: it calls a
  ``ConnectionObserver``, which the recorder registers with ``ProtocolView.observe``.
- The recorder *asks* the protocol what only it knows (who closed, what a refused close frame
  said, which extensions were negotiated) through ``ProtocolView``, which reads uvicorn's
  protocol object duck-typed.

Nothing here imports uvicorn, and any other server's protocol is simply left alone (every
answer is "unknown"), so the recorder works for any server and ``import wsplay`` works with
any uvicorn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ...framework.close_codes import CloseCode, ClosedBy
from ..pacing import Pacer


class ConnectionObserver(Protocol):
    """What one connection's recorder is told by the protocol that carries it."""

    # Looked at between the pieces of a long read (pacing.py), as at each message recorded.
    pacer: Pacer

    def control(self, kind: str, direction: str) -> None:
        """A control frame the protocol handled: ``("ping", "in")``, ``("pong", "out")``."""

    def seen(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message on its way to the app, returned as the app is to read it."""

    def notice_ending(self) -> None:
        """The protocol ended the connection itself (it answered a protocol error): record
        it now. Messages read before the error may still wait for the app, and its sends
        must meanwhile be told the connection is over (uvicorn raises a RuntimeError)."""


@dataclass(frozen=True)
class ProtocolFailure:
    """A protocol error the server answered with its own close (a client's 999: 1002).

    ``note``: why, in the learner's words; ``peer_code`` and ``peer_reason``: the close frame
    the client had sent, as sent (None and "" when it sent none, or sent something else).
    """

    note: str
    peer_code: int | None = None
    peer_reason: str = ""

    def fields(self) -> dict[str, Any]:
        """As the fields of the CLOSE event that records it."""
        return asdict(self)


class ProtocolView:
    """One connection's protocol object, as the recorder may read it.

    ``send`` is the server's send callable; for uvicorn a bound method of its protocol.
    """

    def __init__(self, send: Any) -> None:
        self._protocol = getattr(send, "__self__", None)

    def observe(self, observer: ConnectionObserver | None) -> bool:
        """Have the protocol report to ``observer`` (None: stop); whether it can.

        Looked up, not ``isinstance(..., Observable)``: a runtime protocol check costs tens
        of microseconds, on every handshake.
        """
        observe = getattr(self._protocol, "observe", None)
        if observe is None:
            return False
        observe(observer)
        return True

    def let_go(self) -> None:
        """Stop observing, and hold the protocol no longer (it is big: see Conversation)."""
        self.observe(None)
        self._protocol = None

    def ending(self) -> tuple[ClosedBy, int, str] | None:
        """How the transport says the connection ended, (by, code, reason), or None while it
        is open (or the server is not uvicorn)."""
        protocol = self._protocol
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
        return ClosedBy.DROPPED, CloseCode.ABNORMAL_CLOSURE.value, ""

    def failure(self) -> ProtocolFailure | None:
        """The protocol error the playground's protocol answered, if any (protocols.py)."""
        failure = getattr(self._protocol, "failure", None)
        return failure if isinstance(failure, ProtocolFailure) else None

    def negotiated(self) -> tuple[str, str | None] | None:
        """(extensions, subprotocol) in the server's 101 response, or None if unknown.

        uvicorn keeps the response it writes (``response``, websockets' ``Response``, made
        when the request came): its ``Sec-WebSocket-Extensions`` is what was negotiated
        (``permessage-deflate; ...``), not what the client offered. The subprotocol is there
        once the app's accept is written (or if the app set the header itself).
        """
        headers = getattr(getattr(self._protocol, "response", None), "headers", None)
        if headers is None or not hasattr(headers, "get_all"):
            return None
        extensions = ", ".join(headers.get_all("Sec-WebSocket-Extensions"))
        return extensions, headers.get("Sec-WebSocket-Protocol")

    def complete_denial(self) -> None:
        """A denial response was sent whole: mark the handshake complete on uvicorn's
        protocol, which forgets that a denial ends the handshake and then logs "ASGI callable
        returned without completing handshake" for a correct app."""
        if getattr(self._protocol, "handshake_complete", True) is False:
            self._protocol.handshake_complete = True
