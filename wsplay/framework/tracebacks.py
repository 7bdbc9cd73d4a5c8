"""Tracebacks that show the learner's code, not wsplay's.

A learner who typed ``@ws("/chat/{room")`` needs their cell's line and the message; the
four frames inside ``routing.py`` between them only bury it. wsplay's learner-facing
exceptions render themselves this way for IPython (``WebSocketError._render_traceback_``),
and the playground names a handler's failing line the same way. The full traceback stays
on the exception (and in ``pg.errors``) for whoever wants it.

Imports nothing from Jupyter: IPython's own formatting is used only when IPython is
already running this code.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
from types import TracebackType
from typing import Any

WSPLAY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Code that is not the learner's: wsplay, the standard library, installed packages.
LIBRARY_DIRS = tuple(
    {
        WSPLAY_DIR,
        *(
            os.path.abspath(path) + os.sep
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (path := sysconfig.get_paths().get(key))
        ),
    }
)


def is_learners(filename: str) -> bool:
    """True for code the learner wrote: a cell, a handler body, their own files."""
    return not filename.startswith(LIBRARY_DIRS) and not filename.startswith("<frozen")


def learner_traceback(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` with only the learner's frames, in the same order (None if none is left)."""
    kept = []
    while tb is not None:
        if is_learners(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def innermost_learner_line(error: BaseException) -> tuple[str, int] | None:
    """Where the learner's code was when ``error`` was raised: (filename, line), or None."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        if is_learners(tb.tb_frame.f_code.co_filename):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_for_ipython(error: BaseException, message: str | None = None) -> list[str]:
    """The lines IPython shows for ``error``: the learner's frames, then ``message``
    (``str(error)`` by default) under the exception's name.

    Formatted by IPython itself when it is running (``Cell In[3], line 2`` and the code
    around it); else as Python prints tracebacks. What wsplay caught inside itself (a
    JSONDecodeError under "Got invalid JSON") is not shown: the exception keeps it.
    """
    tb = learner_traceback(error.__traceback__)
    shown = _stand_in(error, str(error) if message is None else message)
    formatter = getattr(_ipython_shell(), "InteractiveTB", None)
    if formatter is not None:
        try:
            return list(formatter.structured_traceback(type(shown), shown, tb))
        except Exception:  # an IPython whose formatter differs: Python's own format below
            pass
    lines = traceback.format_exception(type(shown), shown, tb, chain=False)
    return "".join(lines).rstrip("\n").split("\n")


def _stand_in(error: BaseException, message: str) -> BaseException:
    """An exception named as ``error`` that says ``message`` and has no chain: what the
    formatter is given, so ``error`` itself is never changed."""
    kind = type(error)
    shown_type = type(
        kind.__name__,
        (Exception,),
        {"__str__": lambda self: message, "__module__": kind.__module__},
    )
    shown = shown_type()
    notes = getattr(error, "__notes__", None)
    if notes:
        shown.__notes__ = list(notes)
    return shown


def _ipython_shell() -> Any:
    module = sys.modules.get("IPython")  # only if it is already there: no Jupyter import
    return module.get_ipython() if module is not None else None
