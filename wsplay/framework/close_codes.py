"""What each WebSocket close code means, and which ones a server may send.

RFC 6455 §7.4 defines the codes; IANA's registry adds 1012-1014. Codes 3000-3999 are
registered by libraries and frameworks, 4000-4999 are free for applications.

    >>> describe_close_code(1011)
    'Internal Error: the server hit an unexpected condition'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class CloseCode(IntEnum):
    """The close codes with a name (RFC 6455 §7.4.1 and IANA's registry): ``CloseCode(1011)``.

    An IntEnum, so ``CloseCode.GOING_AWAY == 1001``; wsplay takes plain ints everywhere. Its
    own source names every code it means with one (tests/test_close_code_names.py checks),
    and hands out plain ints: ``CloseCode.GOING_AWAY.value`` where a code is kept or sent
    (an ASGI message, the timeline, an exception, generated code), the member where it is
    only compared.
    """

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RECEIVED = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


class ClosedBy(StrEnum):
    """Who ended a connection. Strings, so the timeline's events and JSON read plainly."""

    CLIENT = "client"
    SERVER = "server"
    DROPPED = "dropped"  # nobody: the connection was lost without a close frame


@dataclass(frozen=True)
class Close:
    """How a connection ended: the code, the reason, and who ended it (``"client"``,
    ``"server"``, or ``"dropped"``: nobody, the connection was lost without a close frame)."""

    code: int | None
    reason: str = ""
    by: ClosedBy = ClosedBy.SERVER

    def __post_init__(self) -> None:
        # One check for every way a close is built: "server" from a page's report becomes
        # ClosedBy.SERVER, and a value that names nobody is refused here, not compared later.
        if type(self.by) is not ClosedBy:  # the server's own are members already
            object.__setattr__(self, "by", ClosedBy(self.by))

    @property
    def meaning(self) -> str:
        return describe_close_code(self.code)


class Ending:
    """How a connection ended, read from its one ``Close`` record (``ending``, None while
    it is open): the client's core and the server's connection each keep one, and nothing
    else, so what they say cannot disagree with itself."""

    ending: Close | None = None

    @property
    def closed_by(self) -> ClosedBy | None:
        return self.ending.by if self.ending is not None else None

    @property
    def close_code(self) -> int | None:
        return self.ending.code if self.ending is not None else None

    @property
    def close_reason(self) -> str:
        return self.ending.reason if self.ending is not None else ""

    @property
    def closed(self) -> bool:
        return self.ending is not None


CLOSE_CODE_MEANINGS: dict[int, str] = {
    1000: "Normal Closure: the conversation is over",
    1001: "Going Away: the server is shutting down or the page is leaving",
    1002: "Protocol Error: a frame broke the WebSocket protocol",
    1003: "Unsupported Data: a frame of a type the endpoint cannot accept",
    1004: "Reserved: no meaning defined",
    1005: "No Status Received: the close frame carried no code",
    1006: "Abnormal Closure: the connection dropped without a close frame",
    1007: "Invalid Payload Data: a message's data did not match its type (e.g. bad UTF-8)",
    1008: "Policy Violation: a message broke the endpoint's policy",
    1009: "Message Too Big: a message was too large to process",
    1010: "Mandatory Extension: the client needed an extension the server did not offer",
    1011: "Internal Error: the server hit an unexpected condition",
    1012: "Service Restart: the server is restarting",
    1013: "Try Again Later: the server is overloaded",
    1014: "Bad Gateway: a gateway got an invalid response",
    1015: "TLS Handshake: the TLS handshake failed",
}

# Codes that describe a situation and must never be put in a close frame (RFC 6455 §7.4.1).
_NEVER_SENT = {1004, 1005, 1006, 1015}


def describe_close_code(code: int | None) -> str:
    """Say in words what a close code means, for logs, timelines and error messages."""
    if code is None:
        return "no close code"
    if code in CLOSE_CODE_MEANINGS:
        return CLOSE_CODE_MEANINGS[code]
    if 3000 <= code <= 3999:
        return "Registered: a code registered by a library or framework"
    if 4000 <= code <= 4999:
        return "Application: a code your application chose (4000-4999)"
    return "Invalid: RFC 6455 does not allow this code"


def is_sendable_close_code(code: object) -> bool:
    """True if an endpoint may put ``code`` in a close frame."""
    if not isinstance(code, int) or isinstance(code, bool):
        return False
    if code in _NEVER_SENT:
        return False
    return 1000 <= code <= 1014 or 3000 <= code <= 4999


def check_close_code(code: object) -> int:
    """Return ``code`` if it may be sent, else raise a ValueError that says what to pick.

    >>> check_close_code(4000)
    4000
    """
    if is_sendable_close_code(code):
        return code  # type: ignore[return-value]
    if code == 1004:
        why = "1004 is reserved by RFC 6455 and has no meaning yet"
    elif isinstance(code, int) and code in _NEVER_SENT:
        why = f"{code} ({describe_close_code(code)}) only describes what a peer saw, "
        why += "and RFC 6455 forbids sending it in a close frame"
    elif isinstance(code, int) and not isinstance(code, bool):
        why = f"{code} is not one RFC 6455 lets you send (1000-1003, 1007-1014, 3000-4999)"
    else:
        why = f"a close code must be an int, not {type(code).__name__}"
    raise ValueError(
        f"Invalid close code: {why}. Use 1000 for a normal close, 1008 for a policy "
        "violation, 1011 for a server error, or 4000-4999 for your own application's codes."
    )


MAX_REASON_SIZE = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455 §5.5)


def check_close_reason(reason: str | None) -> str | None:
    """Return ``reason`` if it fits in a close frame, else raise a ValueError that says so."""
    if reason is not None and len(reason.encode()) > MAX_REASON_SIZE:
        shown = reason if len(reason) <= 40 else reason[:40] + "…"
        raise ValueError(
            f"A close reason may hold at most {MAX_REASON_SIZE} bytes of UTF-8; this one has "
            f"{len(reason.encode())}: {shown!r}. Shorten it."
        )
    return reason
