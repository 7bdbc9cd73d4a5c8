"""What ``pg.export(..., framework="blacksheep")`` changes so the file runs on BlackSheep.

wsplay's WebSocket is BlackSheep's, plus a few attributes BlackSheep does not have
(docs/compatibility.md lists them). A handler that reads one would fail on BlackSheep
with an ``AttributeError``, so the export rewrites each use into what BlackSheep offers,
found with ``ast`` (never by searching the text), and refuses a use it cannot rewrite,
naming the line and what to write instead. A route pattern BlackSheep's router cannot
compile is refused too, so the file that is written always loads.
"""

from __future__ import annotations


def pattern_refusal(pattern: str) -> str:
    """Why BlackSheep's router cannot serve ``pattern`` ("" if it can, or if BlackSheep
    is not installed here to ask)."""
    try:
        from blacksheep.server.routing import Route
    except ImportError:
        return ""
    try:
        Route(pattern, _no_handler)
    except Exception as error:  # BlackSheep compiles a pattern as a regular expression
        return (
            f"BlackSheep cannot serve the pattern {pattern!r} ({type(error).__name__}: "
            f"{error}); export it with framework='wsplay', or change the pattern"
        )
    return ""


async def _no_handler(websocket: object) -> None:
    """Stands in for a handler while BlackSheep compiles a pattern."""
