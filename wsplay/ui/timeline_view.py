"""The timeline drawn as a sequence diagram: the server on the left, a lane per connection.

An anywidget whose picture (``wsplay/runtime/timeline.js`` and ``.css``, no CDN, so it
works offline and on Binder) is shared with ``pg.timeline.to_html``. Rows are appended in
the page (see StreamView). The page's filters (connection, direction, kind, text) come
back as the ``filters`` trait: the kernel then sends the newest matches of the whole
timeline, not only of what the page holds.

    view = TimelineView(); view.refresh(pg.timeline, paths)   # from the panel's refresher
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import traitlets

from ..runtime.timeline.export import KINDS, PICTURE_CSS, PICTURE_JS, RowFilter, event_row
from ..runtime.timeline.kinds import HANDSHAKE, SERVER
from ..runtime.timeline.store import Event, Timeline
from .stream_view import StreamView

SHOWN_ROWS = 200  # rows the page keeps
_MARGIN = 256  # events read beyond the new ones: the server may record while we read
FLOOD = 200  # new events since the last refresh beyond which only the newest are read
_KNOWN_PATHS = 1_000


class TimelineView(StreamView):
    """A sequence diagram of the newest server-side events, filterable."""

    _esm = PICTURE_JS
    _css = PICTURE_CSS
    page_url = traitlets.Unicode("").tag(sync=True)  # where the front end shows this widget
    filters = traitlets.Dict({}).tag(sync=True)  # set by the page: connection, direction ...
    kinds = traitlets.List(KINDS).tag(sync=True)  # what the page's kind filter offers

    def __init__(self) -> None:
        super().__init__(max_rows=SHOWN_ROWS)
        self._seen = 0  # timeline.recorded when last read
        self._last: Event | None = None  # the newest event already sent
        self._seq = 0
        self._paths: OrderedDict[int, str] = OrderedDict()
        self.observe(lambda _: self.want_reset(), names="filters")

    @property
    def row_filter(self) -> RowFilter:
        return RowFilter.from_dict(self.filters)

    def _rows(
        self, events: list[Event], row_filter: RowFilter, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The newest ``limit`` matching rows of ``events``, and how many more matched.

        Rows are built newest first and only as many as are sent: in a flood most events
        are only counted. (With a filter each is built, to be tested.)
        """
        for event in events:
            if event.kind == HANDSHAKE and event.path and event.side == SERVER:
                self._paths[event.connection] = event.path
                if len(self._paths) > _KNOWN_PATHS:
                    self._paths.popitem(last=False)
        rows: list[dict[str, Any]] = []
        more = 0
        for event in reversed(events):
            if event.side != SERVER:
                continue
            if len(rows) == limit and not row_filter.active:
                more += 1
                continue
            row = event_row(event)
            if not row_filter.matches(row):
                continue
            if len(rows) == limit:
                more += 1
                continue
            path = self._paths.get(event.connection)
            if path:
                row["path"] = path
            rows.append(row)
        rows.reverse()
        for row in rows:
            self._seq += 1
            row["seq"] = self._seq
        return rows, more

    def refresh(self, timeline: Timeline, paths: dict[int, str] | None = None) -> bool:
        """Send the page what is new (or everything, when due); True if anything was sent.

        ``paths``: the open connections' paths, for lanes whose handshake was not seen.
        Called by the panel's refresher thread only.
        """
        recorded = timeline.recorded
        if recorded == self._seen and not self._reset_wanted:
            return False
        for connection, path in (paths or {}).items():
            self._paths.setdefault(connection, path)
        row_filter = self.row_filter
        new = recorded - self._seen
        self._seen = recorded
        fresh: list[Event] = []
        skipped = 0
        if new and not self._reset_wanted:
            # In a flood only the newest rows are read at all (the rest are only counted):
            # reading every event to draw twenty would cost the kernel more than the flood.
            flood = new > FLOOD
            window = timeline.tail(self.max_push, SERVER) if flood else timeline.tail(new + _MARGIN)
            start = 0
            if self._last is not None:
                for index in range(len(window) - 1, -1, -1):
                    if window[index] == self._last:
                        start = index + 1
                        break
            fresh = window[start:]
            if flood:
                skipped = max(0, new - len(fresh))
        if fresh:
            self._last = fresh[-1]

        def backlog() -> list[dict[str, Any]]:
            # With a filter, search everything kept; without, the newest rows are enough.
            events = timeline.tail(len(timeline) if row_filter.active else SHOWN_ROWS, "server")
            if events:
                self._last = events[-1]
            return self._rows(events, row_filter, SHOWN_ROWS)[0]

        rows, missed = self._rows(fresh, row_filter, self.max_push)
        return self.flush(rows, backlog, missed + skipped)
