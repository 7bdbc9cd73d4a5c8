"""A widget whose rows are appended in the browser, not redrawn whole: the log, the timeline.

Why: during a flood a table re-sent whole twenty times a second costs the front end (and
the kernel's IOPub) far more than the rows that are new. So Python sends only what is new,
as custom messages, at most ``max_push`` rows at a time (more arrive than anyone can read:
the rest are counted, "… 230 more"), and the page keeps the newest ``max_rows``. A view
that is shown again (a re-run cell, a reloaded page) asks for the whole backlog ("hello").

Every row has a ``seq`` that only grows, so the page can drop a stale append that crossed a
reset on the wire. One thread sends: the panel's refresher (``flush``); the page's "hello"
only raises a flag it reads.

    view.flush(new_rows, backlog)   # from the refresher: a reset if due, else the new rows
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

Row = dict[str, Any]
MAX_PUSH = 20  # rows a flush sends at most (20 a second x 20): the page is told what it missed


class StreamView(anywidget.AnyWidget):
    """Rows appended in the page; see the module's docstring."""

    max_rows = traitlets.Int(500).tag(sync=True)  # the page keeps the newest this many
    pushed = traitlets.Int(0)  # messages sent to the page (for tests and benchmarks)

    def __init__(self, max_push: int = MAX_PUSH, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_push = max_push
        self.rows: deque[Row] = deque(maxlen=self.max_rows)  # what the page holds now
        self._reset_wanted = True
        self.on_msg(self._on_page_message)

    def _on_page_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "hello":
            self.want_reset()

    def want_reset(self) -> None:
        """The next flush sends the whole backlog (a view was shown, a filter changed)."""
        self._reset_wanted = True

    def flush(self, fresh: list[Row], backlog: Callable[[], list[Row]], missed: int = 0) -> bool:
        """Send what the page lacks: the backlog if a reset is due, else the ``fresh`` rows
        (the newest ``max_push`` of them; the page is told how many it missed: those cut
        here and the ``missed`` ones the caller did not even build).

        Called by one thread only (the refresher). True if anything was sent.
        """
        if self._reset_wanted:
            self._reset_wanted = False
            rows = backlog()[-self.max_rows :]
            self.rows.clear()
            self.rows.extend(rows)
            self._push({"kind": "reset", "rows": rows})
            return True
        if not fresh:
            return False
        cut = max(0, len(fresh) - self.max_push)
        rows = fresh[cut:]
        missed += cut
        self.rows.extend(rows)
        self._push({"kind": "append", "rows": rows, "missed": missed})
        return True

    def _push(self, content: dict[str, Any]) -> None:
        self.send(content)
        self.pushed += 1
