"""What uvicorn's WebSocket protocol object says about one connection, read duck-typed.

The recorder holds the protocol (``send`` is one of its bound methods) and reads it here:
these functions import nothing from uvicorn, and leave another server's protocol alone,
so the recorder works for any server and ``import wsplay`` works with any uvicorn.
"""

from __future__ import annotations

from typing import Any


def complete_denial(protocol: Any) -> None:
    """A denial response was sent whole: mark the handshake complete on uvicorn's protocol.

    uvicorn forgets that a denial response ends the handshake, and then logs "ASGI callable
    returned without completing handshake" for a correct app.
    """
    if getattr(protocol, "handshake_complete", True) is False:
        protocol.handshake_complete = True


def negotiated(protocol: Any) -> tuple[str, str | None] | None:
    """(extensions, subprotocol) in the server's 101 response, or None if unknown.

    uvicorn keeps the response it writes (``response``, websockets' ``Response``, made when
    the request came): its ``Sec-WebSocket-Extensions`` is what was negotiated
    (``permessage-deflate; ...``), not what the client offered. The subprotocol is there
    once the app's accept is written (or if the app set the header itself).
    """
    headers = getattr(getattr(protocol, "response", None), "headers", None)
    if headers is None or not hasattr(headers, "get_all"):
        return None
    extensions = ", ".join(headers.get_all("Sec-WebSocket-Extensions"))
    return extensions, headers.get("Sec-WebSocket-Protocol")


def failure_of(protocol: Any) -> dict[str, Any]:
    """What the playground's protocol kept of a protocol error it answered (protocols.py):
    wsplay's words (``note``) and the close frame the client sent (``peer_code``,
    ``peer_reason``), as Event fields; {} when there was none."""
    return getattr(protocol, "wsplay_failure", None) or {}
