"""The exceptions a WebSocket handler meets, named and worded as in BlackSheep.

Each one names what happened and, where wsplay can tell, what to do about it.
"""

from __future__ import annotations

from enum import Enum

from .close_codes import Close


class WebSocketState(Enum):
    """Where one side of the connection is: before the handshake, open, or gone."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocketError(Exception):
    """Base class of every WebSocket error wsplay raises."""


class InvalidWebSocketStateError(WebSocketError):
    """An operation was tried in a state that does not allow it (e.g. send before accept).

    ``str()`` starts with BlackSheep's exact sentence; wsplay adds a hint that says what to do.
    """

    def __init__(
        self,
        *,
        party: str = "client",
        current_state: WebSocketState,
        expected_state: WebSocketState,
        hint: str = "",
    ) -> None:
        super().__init__(party, current_state, expected_state)
        self.party = party
        self.current_state = current_state
        self.expected_state = expected_state
        self.hint = hint

    def __str__(self) -> str:
        text = (
            f"Invalid {self.party} state of the WebSocket connection. "
            f"Expected state: {self.expected_state}. Current state: {self.current_state}."
        )
        return f"{text} {self.hint}" if self.hint else text


class WebSocketDisconnectError(WebSocketError):
    """The client has gone away; ``code`` and ``reason`` are what its close frame said.

    >>> str(WebSocketDisconnectError(1001))
    'The client closed the connection. WebSocket close code: 1001.'
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"The client closed the connection. WebSocket close code: {self.code}."


class InvalidMessageError(WebSocketError, ValueError):
    """A message could not be read as asked: wrong frame type, invalid JSON or UTF-8.

    It is a ValueError too, so code that catches ``json.JSONDecodeError`` or
    ``UnicodeDecodeError`` (both ValueErrors) keeps working.
    """


class WebSocketClosedError(WebSocketError):
    """The server ended the connection: raised on the *client* side of a conversation."""

    def __init__(self, code: int | None, reason: str = "", by: str = "server") -> None:
        super().__init__(code, reason)
        self.close = Close(code, reason, by)

    code = property(lambda self: self.close.code)
    reason = property(lambda self: self.close.reason)
    meaning = property(lambda self: self.close.meaning)

    def __str__(self) -> str:
        reason = f" Reason: {self.reason!r}." if self.reason else ""
        return f"The server closed the connection with code {self.code} ({self.meaning}).{reason}"


class HandshakeRejectedError(WebSocketError):
    """The server refused the opening handshake with an HTTP status instead of accepting.

    ``reason`` says why when the side that raises it can tell (the playground can: it saw
    the handler fail, or no route match); otherwise the usual causes are listed.
    """

    def __init__(self, status_code: int, reason: str | None = None) -> None:
        super().__init__(status_code, reason)
        self.status_code = status_code
        self.reason = reason

    def __str__(self) -> str:
        why = self.reason or {
            403: "the handler closed or failed before calling `await websocket.accept()`, "
            "or no route matches the path",
            404: "no route matches the path",
            500: "the application ended without accepting or closing the connection",
        }.get(self.status_code, "the application refused the connection")
        return f"The server refused the WebSocket handshake with HTTP {self.status_code}: {why}."


class InvalidRouteError(WebSocketError, ValueError):
    """A route pattern or handler that cannot be served, with what to write instead."""


class BindingError(WebSocketError, ValueError):
    """A route or query value could not be given to the handler (missing, or not convertible).

    It happens before ``accept()``, so the client's handshake is refused (HTTP 403).
    """
