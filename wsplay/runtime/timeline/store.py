"""The timeline: both sides of every conversation, as events, bounded in memory.

The server side is recorded at the ASGI level (so it works for any ASGI app), the kernel
client records its own side; both use the connection's id, so one conversation reads as
one story: handshake, messages both ways, close (who, code, meaning, reason), errors.

    pg.timeline.events(connection=3)      # one conversation
    pg.timeline.counts(3)                 # {"server": {"in": 2, "out": 2}, ...}
"""

from __future__ import annotations

import itertools
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from time import perf_counter as _clock
from time import time as _now
from typing import Any, NamedTuple

from ...framework.close_codes import describe_close_code
from ..pacing import NO_PACER, Pacer
from .budget import (
    DEFAULT_MAX_EVENTS,
    FIELD_CHARS,
    PREVIEW_CHARS,
    cut,
    cut_middle,
    kept_headers,
    text_of,
    worst_event_bytes,
)
from .kinds import ASKED_BY_WORDS, CLOSE, MESSAGE
from .words import what_happened

MAX_TRACKED_CONNECTIONS = 1_000
PREVIEW_BYTES = PREVIEW_CHARS // 2  # of a binary message, kept (shown in hex: PREVIEW_CHARS)


class Event(NamedTuple):
    """One thing that happened on one connection, seen from one side.

    A NamedTuple: the server records two per echoed message, so building one must be cheap.
    """

    time: float
    connection: int
    side: str  # a Side's value
    kind: str  # a Kind's value
    direction: str | None = None  # a Direction's value, for frames
    type: str | None = None  # "text" or "bytes"
    size: int = 0
    preview: str = ""
    path: str | None = None
    subprotocol: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # as read; recorded as bytes, see kept_headers
    code: int | None = None
    reason: str = ""
    by: str | None = None  # for CLOSE: "client", "server" or "dropped"
    traceback: str = ""
    # For a server's CLOSE the handler did not make: "kernel" (a cell or the panel asked
    # for it) or "stop" (the playground stopping). Empty: the handler's own.
    asked_by: str = ""
    # Added after the others, so that an Event built by position (see _message_event)
    # reads as before.
    query: str = ""  # for HANDSHAKE: the query string, as sent (without wsplay's own id)
    extensions: str = ""  # for ACCEPT: the extensions the server's response negotiated
    # For CLOSE: the close frame the other side had sent (not ``by``), when the closer
    # answered it with another code: a client's 999, which the server answered with 1002.
    peer_code: int | None = None
    peer_reason: str = ""
    note: str = ""  # wsplay's words on what happened (why the server closed, say)
    # For REJECT (``code`` is the HTTP status the client got): the close the app sent
    # before accepting (uvicorn answers it with 403; ``reason`` is the close's reason), or
    # the body of the HTTP response the app denied the handshake with.
    close_code: int | None = None
    body: str = ""
    # For MESSAGE: the message's start as the timeline keeps it (str, or bytes: no hex to
    # parse back), whole when ``size`` is within PREVIEW_CHARS (PREVIEW_BYTES for bytes).
    # Never kept by record(): messages come through message().
    data: str | bytes | None = None

    @property
    def asked_by_words(self) -> str:
        """Who asked for a server's close its handler did not make, in words ("" if it did)."""
        return ASKED_BY_WORDS.get(self.asked_by, "")

    @property
    def meaning(self) -> str:
        """What a CLOSE event's code means (RFC 6455 and the 4000-4999 range)."""
        return describe_close_code(self.code) if self.kind == CLOSE else ""

    def describe(self) -> str:
        """One line for logs and plain-text views: ``[server] #3 closed by client: ...``."""
        return f"[{self.side}] #{self.connection} {what_happened(self)}"


# Where each (side, direction) is counted in a connection's row of message counts. All rows
# are in one array of integers (an object with two lists per connection, kept for the last
# thousand, were three more objects per connection for every garbage collection to walk).
_SLOTS = {"server": {"in": 0, "out": 1}, "client": {"in": 2, "out": 3}}
_ROW = 4
_ZEROS = array("q", bytes(8 * _ROW))


def _empty_table() -> array[int]:
    return array("q", bytes(8 * _ROW * MAX_TRACKED_CONNECTIONS))


class Timeline:
    """A bounded record of events; the newest ``max_events`` are kept, totals are exact.

    Written only from the playground's loop thread (the recorder and the kernel client both
    run there), so it needs no lock: readers copy the deque, which CPython does atomically.
    Every event is kept as one flat tuple of plain values and becomes an Event when read:
    a message (the hot path) as six values, the rest as the Event's fields with the headers
    spread at the end. The garbage collector stops tracking such a tuple the first time it
    looks at it, where it tracks a NamedTuple (a subclass) for ever, and a tuple of tuples
    until it happens to look at the inner ones first: ten thousand tracked events in the
    window made every older-generation collection longer, which cost the server more per
    handshake than all the recording itself (benchmarks/bench_playground.py, handshakes).
    """

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._events: deque[tuple] = deque(maxlen=max_events)
        # Totals per connection, for the newest MAX_TRACKED_CONNECTIONS (see _SLOTS): the
        # offset of each connection's row in one table.
        self._rows: OrderedDict[int, int] = OrderedDict()
        self._table = _empty_table()
        self._ids = itertools.count(1)
        self.recorded = 0  # events ever recorded, including those dropped from the window
        self.enabled = True
        # Paces the loop thread, looked at on every message (see message()): the
        # playground's server sets its GIL sharing here (gil.GilShare: ``next`` and ``look``).
        self.pacer: Pacer = NO_PACER

    @property
    def max_events(self) -> int:
        return self._events.maxlen or 0

    def new_connection_id(self) -> int:
        return next(self._ids)

    def _new_row(self, connection: int) -> int:
        """A row of zeros for ``connection``: the next free one, or the oldest one's."""
        if len(self._rows) < MAX_TRACKED_CONNECTIONS:
            row = len(self._rows) * _ROW
        else:
            row = self._rows.popitem(last=False)[1]
            self._table[row : row + _ROW] = _ZEROS
        self._rows[connection] = row
        return row

    def record(self, event: Event) -> None:
        """Record a handshake, accept, reject, close or error (messages: see ``message``)."""
        fields = {
            name: value
            for name, value, default in zip(
                _FIELD_NAMES, event[4:_DATA], _FIELD_DEFAULTS, strict=True
            )
            if value != default and name != "headers"
        }
        self.add(event.time, event.connection, event.side, event.kind, fields, event.headers)

    def add(
        self,
        moment: float,
        connection: int,
        side: str,
        kind: str,
        fields: dict[str, Any],
        headers: Sequence[tuple[Any, Any]] = (),
    ) -> None:
        """``record`` without building an Event first: the Event's other ``fields`` by
        name, and the ``headers`` (pairs of str, or of bytes as a server's scope has them).

        What the server records three times a handshake: each field cut to its budget
        (budget.py) as it goes into the flat tuple the window keeps.
        """
        if not self.enabled:
            return
        values = [moment, connection, side, kind, *_FLAT_DEFAULTS]
        for name, value in fields.items():
            try:
                place, limit, plain = _FIELDS[name]
            except KeyError:
                raise TypeError(f"An Event has no field {name!r} to record.") from None
            if plain is not None and type(value) is not plain and isinstance(value, plain):
                value = plain(value)  # an enum member: its value (see the class docstring)
            elif limit and value and len(value) > limit:
                value = (cut_middle if name == "traceback" else cut)(value, limit)
            values[place] = value
        if headers:
            values += chain.from_iterable(kept_headers(headers))
        self._events.append(tuple(values))
        self.recorded += 1

    def message(
        self, connection: int, side: str, direction: str, data: str | bytes, size: int | None = None
    ) -> None:
        """Record one data frame: a check, a tuple, an append and a count.

        ``size``: the whole message's, when ``data`` is only its start (a browser page
        reports no more of a long message than the preview needs).

        The hot path: the server records two per echo, and each operation here costs the
        server about 1% of a small echo, so there are few. First the pacer's check: both
        sides' work per message on the loop thread passes here (the server's and the kernel
        client's, which can read thousands of messages in one go), recording on or off; what
        to do about it is the pacer's business, not the timeline's.
        """
        if _clock() >= self.pacer.next:
            self.pacer.look()
        if not self.enabled:
            return
        if size is None:
            size = len(data)
        if type(data) is str:
            shown: str | bytes = data if size <= PREVIEW_CHARS else data[:PREVIEW_CHARS]
        else:
            shown = data if size <= PREVIEW_BYTES else data[:PREVIEW_BYTES]  # hex when read
        self._events.append((_now(), connection, side, direction, size, shown))
        self.recorded += 1
        row = self._rows.get(connection)
        if row is None:
            row = self._new_row(connection)
        self._table[row + _SLOTS[side][direction]] += 1

    def events(self, connection: int | None = None, kind: str | None = None) -> list[Event]:
        """The events kept, oldest first; of one connection, or of one kind, if asked."""
        found = []
        for item in list(self._events):
            event = _as_event(item)
            if (connection is None or event.connection == connection) and (
                kind is None or event.kind == kind
            ):
                found.append(event)
        return found

    def tail(self, count: int, side: str | None = None) -> list[Event]:
        """The newest ``count`` events (of one side, if asked), oldest first.

        For live views that redraw often: it reads only what it returns.
        """
        found: list[Event] = []
        for item in reversed(list(self._events)):
            if side is None or item[2] == side:  # the side is third in both layouts
                found.append(_as_event(item))
                if len(found) == count:
                    break
        found.reverse()
        return found

    def counts(self, connection: int) -> dict[str, dict[str, int]]:
        """Messages per side and direction for one connection, exact even past the window."""
        row = self._rows.get(connection)
        result: dict[str, dict[str, int]] = {}
        for side, slots in _SLOTS.items():
            for direction, slot in slots.items():
                if row is not None and self._table[row + slot]:
                    result.setdefault(side, {})[direction] = self._table[row + slot]
        return result

    # --- out of the notebook (export.py and replay.py, next to this file) ---
    def to_json(self, path: str | Path) -> Path:
        """Write every kept event, both sides, as JSON: ``pg.timeline.to_json("t.json")``."""
        from .export import to_json

        return to_json(self, path)

    def to_html(self, path: str | Path, title: str = "A WebSocket conversation") -> Path:
        """Write a standalone page with the picture (lanes, arrows, filters) to share."""
        from .export import to_html

        return to_html(self, path, title)

    def to_test(self, path: str | Path, app: Any = None, **options: Any) -> Any:
        """Write a pytest file that replays the recorded conversations with
        ``wsplay.testing`` and asserts the server's replies (see timeline_replay)."""
        from .replay import write_test

        return write_test(self, path, app, **options)

    def clear(self) -> None:
        self._events.clear()
        self._rows.clear()
        self._table = _empty_table()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __repr__(self) -> str:
        return f"<Timeline: {len(self)} events kept of {self.recorded} recorded>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))
        for event in self.events()[-20:]:
            printer.break_()
            printer.text("  " + event.describe())


_MESSAGE_FIELDS = 6  # (time, connection, side, direction, size, data): see message()
_HEADERS = Event._fields.index("headers")  # where record() takes the headers out
_DATA = Event._fields.index("data")  # the last field: record() keeps none (see message())
_PLAIN_FIELDS = _DATA - 1  # the fields record() keeps, then the headers spread after them


# What add() keeps, by name: the fields after (time, connection, side, kind), headers and
# data left out, in the flat tuple's order, with their defaults and budgets.
_FIELD_NAMES = Event._fields[4:_DATA]
_FIELD_DEFAULTS = [Event._field_defaults[name] for name in _FIELD_NAMES]
_FLAT_DEFAULTS = [
    default
    for name, default in zip(_FIELD_NAMES, _FIELD_DEFAULTS, strict=True)
    if name != "headers"
]
# The fields a caller may pass an enum member for (a ClosedBy; a CloseCode, or websockets'
# own codes), kept as the plain str or int it stands for: a tuple holding a member would
# stay tracked by the garbage collector (see Timeline).
_PLAIN = {"by": str, "code": int, "peer_code": int, "close_code": int}
# name -> (its place in the flat tuple, its budget in characters or 0 for none, its plain type)
_FIELDS = {
    name: (4 + place, FIELD_CHARS.get(name, 0), _PLAIN.get(name))
    for place, name in enumerate(n for n in _FIELD_NAMES if n != "headers")
}
# The most bytes one event keeps (its flat tuple and every value in it), and the window:
# a bound whatever clients send (budget.py), tested in tests/test_timeline_budget.py.
MAX_EVENT_BYTES = worst_event_bytes(Event._fields[:_DATA], "headers")
MAX_TIMELINE_BYTES = DEFAULT_MAX_EVENTS * (MAX_EVENT_BYTES + 8)  # + the deque's pointer


def _as_event(item: tuple) -> Event:
    if len(item) == _MESSAGE_FIELDS:
        return _message_event(item)
    flat = [text_of(value) for value in item[_PLAIN_FIELDS:]]
    headers = tuple(zip(flat[::2], flat[1::2], strict=True))
    return Event(*item[:_HEADERS], headers, *item[_HEADERS:_PLAIN_FIELDS])


def _message_event(item: tuple) -> Event:
    moment, connection, side, direction, size, kept = item
    if type(kept) is str:
        text = kept + "…" if size > PREVIEW_CHARS else kept
        return Event(moment, connection, side, MESSAGE, direction, "text", size, text, data=kept)
    text = kept.hex(" ") + (" …" if size > len(kept) else "")
    return Event(moment, connection, side, MESSAGE, direction, "bytes", size, text, data=kept)
