"""How an event reads in one sentence (``Event.describe``), and why a handshake was refused.

The notebook's notices, the plain-text views and the HTML picture say events in these
words, so they are written once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...framework.close_codes import ClosedBy, describe_close_code, is_sendable_close_code
from .kinds import ACCEPT, CLOSE, HANDSHAKE, MESSAGE, PING, PONG, REJECT, WARNING

if TYPE_CHECKING:
    from .store import Event


def what_happened(event: Event) -> str:
    """What ``event`` says after its connection's number: ``closed by client: 1000 ...``."""
    return _WHAT.get(event.kind, _error)(event)


def _suffix(template: str, value: Any) -> str:
    """``template`` filled with ``value``, or nothing when there is no value."""
    return template.format(value) if value else ""


def _arrow(event: Event) -> str:
    return {"in": "client → server", "out": "server → client"}.get(event.direction or "", "")


def _closed(event: Event) -> str:
    who = "dropped (no close frame)" if event.by == ClosedBy.DROPPED else f"closed by {event.by}"
    asked = _suffix(" ({})", event.asked_by_words)
    said = f"{who}{asked}: {event.code} ({event.meaning}){_suffix(' {!r}', event.reason)}"
    return f"{_answered(event)}{said}{_suffix(' — {}', event.note)}"


def _answered(event: Event) -> str:
    """``client sent 999 (not allowed) 'bye' → `` when the closer answered another frame."""
    if event.peer_code is None and not event.peer_reason:
        return ""
    peer = ClosedBy.CLIENT if event.by == ClosedBy.SERVER else ClosedBy.SERVER
    code = event.peer_code
    allowed = " (not allowed)" if code is not None and not is_sendable_close_code(code) else ""
    sent = "a close frame" if code is None else f"{code}{allowed}"
    return f"{peer} sent {sent}{_suffix(' {!r}', event.peer_reason)} → "


def refused_because(event: Event) -> str:
    """Why a REJECT, as the server answered: ``: closed before accepting, with 1008 ...``
    (a close before the accept), ``: 'Unauthorized'`` (a denial's body), or nothing."""
    asked = _suffix(", {}", event.asked_by_words)
    if event.close_code is not None:
        meaning = describe_close_code(event.close_code).split(":")[0]
        return (
            f"{asked}: closed before accepting, with {event.close_code} ({meaning})"
            f"{_suffix(' {!r}', event.reason)}"
        )
    return f"{asked}{_suffix(': {}', event.reason)}{_suffix(': {!r}', event.body)}"


def _error(event: Event) -> str:
    return f"error: {event.preview}"


def _control_frame(event: Event) -> str:
    return f"{_arrow(event)} {event.kind}{_suffix(' ({})', event.preview)}"


# What each kind of event says after its connection's number (Event.describe).
_WHAT: dict[str, Callable[[Event], str]] = {
    MESSAGE: lambda e: f"{_arrow(e)} {e.type} ({e.size} B): {e.preview}",
    HANDSHAKE: lambda e: (
        f"handshake {e.path}{_suffix('?{}', e.query)}"
        f"{_suffix(', offering subprotocols {}', e.preview)}"
    ),
    ACCEPT: lambda e: (
        f"accepted{_suffix(' with subprotocol {!r}', e.subprotocol)}"
        f"{_suffix(', extensions {}', e.extensions)}"
    ),
    REJECT: lambda e: f"handshake refused (HTTP {e.code or 403}){refused_because(e)}",
    CLOSE: _closed,
    WARNING: lambda e: f"warning: {e.preview}",
    PING: _control_frame,
    PONG: _control_frame,
}
