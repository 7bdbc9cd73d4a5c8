"""The exceptions a WebSocket handler meets, named and worded as in BlackSheep.

Each one names what happened and, where wsplay can tell, what to do about it: its ``fix``,
in the learner's words, which the notebook and the panel say first. ``str()`` keeps
BlackSheep's wording where a client can see it (a close reason is ``str(exc)``).

In IPython they show the learner's frames only (``_render_traceback_``): a route typo
shows the cell's line and the message, not the frames inside wsplay that found it.
"""

from __future__ import annotations

from enum import Enum

from .close_codes import Close, CloseCode, ClosedBy, describe_close_code
from .tracebacks import render_for_ipython


class WebSocketState(Enum):
    """Where one side of the connection is: before the handshake, open, or gone."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocketError(Exception):
    """Base class of every WebSocket error wsplay raises.

    ``fix``: what to do, one sentence in the learner's words ("" when wsplay cannot tell).
    """

    fix: str = ""

    def __init__(self, *args: object, fix: str = "") -> None:
        super().__init__(*args)
        self.fix = fix

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.fix}" if self.fix else text

    def said_fix_first(self) -> str:
        """``str()`` with the fix first (where ``str()`` keeps BlackSheep's order)."""
        text = str(self)
        if not self.fix or text.startswith(self.fix):
            return text
        return f"{self.fix} {text.replace(self.fix, '').strip()}"

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the learner's frames and the message, fix first; none of
        wsplay's frames."""
        return render_for_ipython(self, self.said_fix_first())


class InvalidWebSocketStateError(WebSocketError):
    """An operation was tried in a state that does not allow it (e.g. send before accept).

    ``str()`` starts with BlackSheep's exact sentence, then the ``fix``; the notebook and
    the panel say the fix first.
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
        self.hint = self.fix = hint

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

    def __init__(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"The client closed the connection. WebSocket close code: {self.code}."


class InvalidMessageError(WebSocketError, ValueError):
    """A message could not be read as asked: wrong frame type, invalid JSON or UTF-8.

    It is a ValueError too, so code that catches ``json.JSONDecodeError`` or
    ``UnicodeDecodeError`` (both ValueErrors) keeps working. ``str()`` is what happened,
    then the ``fix`` (a close reason shows what happened first).
    """


class WebSocketClosedError(WebSocketError):
    """The server ended the connection: raised on the *client* side of a conversation."""

    def __init__(self, code: int | None, reason: str = "", by: str = ClosedBy.SERVER) -> None:
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

    What the app answered, when the side that raises it can tell: ``code`` and ``reason``
    of the close it sent before accepting (the client only gets HTTP 403: the playground
    saw the close), or ``status`` and ``body`` of the HTTP response it denied the
    handshake with. ``why`` says why in words when known (the playground saw the handler
    fail, or no route match); otherwise the usual causes are listed. ``fix``, when known,
    leads: what to change comes before what the client saw.
    """

    def __init__(
        self,
        status_code: int,
        why: str | None = None,
        fix: str = "",
        *,
        code: int | None = None,
        reason: str = "",
        body: str = "",
    ) -> None:
        super().__init__(status_code, why)
        self.status_code = self.status = status_code
        self.why = why
        self.fix = fix
        self.code = code
        self.reason = reason
        self.body = body

    def answered(self) -> str:
        """What the app answered, in words ("" if nothing more than the status is known)."""
        if self.code is not None:
            meaning = describe_close_code(self.code).split(":")[0]
            said = f": {self.reason!r}" if self.reason else ""
            return (
                f"the app closed the connection before accepting it, with {self.code} "
                f"({meaning}){said}"
            )
        if self.body:
            return f"the app answered {_shown(self.body)!r}"
        return ""

    def __str__(self) -> str:
        why = (
            self.why
            or self.answered()
            or {
                403: "the handler closed or failed before calling `await websocket.accept()`, "
                "or no route matches the path",
                404: "no route matches the path",
                500: "the application ended without accepting or closing the connection",
            }.get(self.status_code, "the application refused the connection")
        )
        if self.fix:
            return (
                f"{self.fix} The handshake was refused: the client got HTTP "
                f"{self.status_code} ({why})."
            )
        return (
            f"{self._generic_fix()} The server refused the WebSocket handshake with HTTP "
            f"{self.status_code}: {why}."
        )

    def _generic_fix(self) -> str:
        """What to do when nothing more precise is known, from what the app answered."""
        if self.code is not None or self.body:
            return "Connect as the app expects, or change the check in it that refused you."
        if self.status_code in (403, 404):
            return (
                "Connect to a path one of the routes matches, and call `await "
                "websocket.accept()` first in its handler."
            )
        return "Check the server's log or pg.errors for why."


def _shown(text: str, limit: int = 300) -> str:
    """A body as a sentence may quote it: its start, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


class InvalidRouteError(WebSocketError, ValueError):
    """A route pattern or handler that cannot be served, with what to write instead."""


class InvalidPathError(WebSocketError, ValueError):
    """A client was asked to connect to something that is not a path: a route pattern
    (``/chat/{user}``), or text without the leading ``/``. Raised before any network I/O."""


class BindingError(WebSocketError, ValueError):
    """A route or query value could not be given to the handler (missing, or not convertible).

    It happens before ``accept()``, so the client's handshake is refused (HTTP 403).
    """
