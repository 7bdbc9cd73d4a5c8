"""What the timeline keeps of each event, in bytes: a budget per field, and the worst case.

Anything a client sends can end up on the timeline (a path, a query, the subprotocols it
offers, every header, a close reason), and so can what a handler raises. Each field is cut
to a number of characters here, the cut is shown ("… (+N characters)"), and the headers are
cut by number, by size each and by size in all. So one event never keeps more than
``MAX_EVENT_BYTES``, and a timeline of ``DEFAULT_MAX_EVENTS`` never more than
``MAX_TIMELINE_BYTES``, whatever the clients send: both are computed below, from the budgets,
for the widest characters Python stores (4 bytes each).

Messages, the hot path, are cut where they are recorded (``Timeline.message``: a preview of
``PREVIEW_CHARS``); the budgets here are applied once per handshake, close or error.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Sequence
from itertools import chain
from typing import Any

DEFAULT_MAX_EVENTS = 10_000
PREVIEW_CHARS = 80  # of a message's text (its bytes: half as many, shown in hex)

# The characters each field keeps at most (the cut's mark comes on top, CUT_MARK_CHARS).
FIELD_CHARS: dict[str, int] = {
    "path": 256,
    "query": 256,
    "preview": 600,  # subprotocols offered; an error's message; a warning's sentence
    "subprotocol": 128,  # the one the server chose
    "extensions": 200,  # as the server's response negotiated them
    "reason": 200,  # a close frame carries at most 123 bytes; a refusal says more
    "peer_reason": 200,
    "note": 400,  # wsplay's own words on what happened
    "body": 400,  # an HTTP denial's body (a refused handshake)
    "traceback": 1_200,  # its first and last lines (pg.errors keeps more)
}
CUT_MARK_CHARS = 32  # "… (+N characters)" at most
# Headers: at most this many, each name or value cut to MAX_HEADER_CHARS, and at most
# MAX_HEADERS_CHARS in all; then one pseudo-header says what was left out.
MAX_HEADERS_KEPT = 32
MAX_HEADER_CHARS = 200
MAX_HEADERS_CHARS = 1_600
_NOTE_CHARS = 100  # the pseudo-header's text
_DROPPED = "more headers not kept"  # in it, when whole headers were left out


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} characters)"


def cut_middle(text: str, limit: int) -> str:
    """``text``, or its first and last ``limit // 2`` characters (a traceback's ends say
    most: where it started, and the error)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… {len(text) - 2 * half} characters cut …\n{text[-half:]}"


def is_cut(text: str) -> bool:
    """Whether a kept field was cut by ``cut`` (a replay cannot send it back whole)."""
    _, mark, tail = text.rpartition("… (+")
    return bool(mark) and tail.endswith(" characters)") and tail[:-12].isdigit()


def cut_headers(headers: Sequence[tuple[str, str]], ignored: Container[str] = ()) -> str:
    """What ``kept_headers`` cut of ``headers`` as read back ("" if nothing): its note that
    some were not kept at all, or a header it shortened whose name is not ``ignored``."""
    for name, value in headers:
        if name == "…":
            if _DROPPED in value:
                return value
            continue
        if name.lower() in ignored:
            continue
        if any(len(text) == MAX_HEADER_CHARS and text[-1] == "…" for text in (name, value)):
            return f"the header {name[:40]!r} was cut to {MAX_HEADER_CHARS} characters"
    return ""


def text_of(value: str | bytes) -> str:
    """A header's name or value as text (a server's scope has them as bytes)."""
    return value if type(value) is str else bytes(value).decode("latin-1")


def kept_headers(headers: Sequence[tuple[Any, Any]]) -> Sequence[tuple[Any, Any]]:
    """``headers`` as the timeline keeps them: at most MAX_HEADERS_KEPT pairs, each name or
    value at most MAX_HEADER_CHARS, and MAX_HEADERS_CHARS in all.

    Pairs of str, or of bytes as a server's scope has them: those are kept as they are and
    decoded only when read (a handshake, the hot path, then costs no decoding at all).
    What was cut is said in a last pseudo-header, so a reader knows the list is not whole;
    what this returns is within the bounds, so keeping it again changes nothing.
    """
    if not headers:
        return headers
    sizes = list(map(len, chain.from_iterable(headers)))
    total = sum(sizes)
    if (
        len(headers) <= MAX_HEADERS_KEPT
        and max(sizes) <= MAX_HEADER_CHARS
        and total <= MAX_HEADERS_CHARS
    ):
        return headers
    kept: list[tuple[str, str]] = []
    room = MAX_HEADERS_CHARS - _NOTE_CHARS  # the note is within the bound too
    for name, value in headers[: MAX_HEADERS_KEPT - 1]:
        name, value = _one_header(text_of(name)), _one_header(text_of(value))
        room -= len(name) + len(value)
        if room < 0:
            break
        kept.append((name, value))
    dropped = len(headers) - len(kept)
    cut_chars = total - sum(len(name) + len(value) for name, value in kept)
    note = f"{dropped} {_DROPPED}; " if dropped else ""
    return (*kept, ("…", f"{note}{cut_chars} characters cut to bound the timeline's memory"))


def _one_header(text: str) -> str:
    return text if len(text) <= MAX_HEADER_CHARS else text[: MAX_HEADER_CHARS - 1] + "…"


def _worst_str(chars: int) -> int:
    """The most bytes a str (or bytes) of ``chars`` characters can take: 4 per character."""
    return sys.getsizeof(chr(0x10FFFF) * (chars + 1)) - 4


def worst_event_bytes(fields: Sequence[str], headers_field: str) -> int:
    """The most bytes one recorded event can keep: its flat tuple and every value in it.

    ``fields`` are the Event's; a field with a budget is counted at its budget and its
    cut's mark, the headers at their budgets, every other field (a time, an id, a code, a
    word from a fixed set such as "server" or "close") as the larger of a big int and a
    16-character str.
    """
    small = max(sys.getsizeof(2**62), sys.getsizeof(0.0), _worst_str(16))
    header_values = 2 * MAX_HEADERS_KEPT
    slots = len(fields) - 1 + header_values
    total = sys.getsizeof((None,) * slots)
    for name in fields:
        if name == headers_field:
            continue
        budget = FIELD_CHARS.get(name)
        total += small if budget is None else _worst_str(budget + CUT_MARK_CHARS)
    return total + header_values * _worst_str(0) + 4 * MAX_HEADERS_CHARS
