"""Text from the wire as wsplay's own sentences may quote it: escaped and bounded.

Why: a path, a header or an exception's message is chosen by whoever connects. Said raw in
the notebook or in a server's log, a CR/LF starts a line that looks like wsplay's (or
uvicorn's) own, and a terminal escape repaints the screen. So every piece of it goes through
``shown_text`` first: control characters (CR, LF, ESC, U+2028, a lone surrogate...) shown as
their Python escapes, and the whole cut to a bound, the cut said.
"""

from __future__ import annotations

SHOWN_CHARS = 200  # a header or a path can be kilobytes


def shown_text(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` with each character ``str.isprintable`` refuses shown as its escape
    (``\\r``, ``\\x1b``, ``\\u2028``), cut to its first ``limit`` characters."""
    head = text[:limit]
    if not head.isprintable():
        head = "".join(char if char.isprintable() else _escaped(char) for char in head)
    if len(text) <= limit:
        return head
    return f"{head}… (+{len(text) - limit} characters)"


def _escaped(char: str) -> str:
    if char == "\\":
        return char
    return repr(char)[1:-1] if char not in "'\"" else char
