"""The timeline: both sides of every conversation, as events, bounded in memory.

The server side is recorded at the ASGI level (so it works for any ASGI app), the kernel
client records its own side; both use the connection's id, so one conversation reads as
one story: handshake, messages both ways, close (who, code, meaning, reason), errors.

    pg.timeline.events(connection=3)      # one conversation
    pg.timeline.counts(3)                 # {"server": {"in": 2, "out": 2}, ...}
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..framework.close_codes import describe_close_code

DEFAULT_MAX_EVENTS = 10_000
# The server shares the kernel's GIL. A cell's execution hops between the kernel's threads
# (shell, main, IOPub) several times, and each hop waits for the GIL; while the server
# thread works flat out (a handler flooding a client), those waits add up to hundreds of
# milliseconds. So after this much work the server thread lets the others run once.
GIL_SLICE = 0.002
MAX_TRACKED_CONNECTIONS = 1_000
PREVIEW_CHARS = 80

# Event kinds
HANDSHAKE = "handshake"  # the client asked to connect (path, headers, subprotocols)
ACCEPT = "accept"  # the server accepted (subprotocol, headers)
REJECT = "reject"  # the server refused the handshake (HTTP 403)
MESSAGE = "message"  # a data frame; direction "in" (to the server) or "out" (to the client)
CLOSE = "close"  # the connection ended; by "client", "server" or nobody ("dropped")
ERROR = "error"  # a handler raised; traceback attached


class Event(NamedTuple):
    """One thing that happened on one connection, seen from one side.

    A NamedTuple: the server records two per echoed message, so building one must be cheap.
    """

    time: float
    connection: int
    side: str  # "server" (recorded at the ASGI app) or "client" (the kernel client)
    kind: str
    direction: str | None = None  # "in": client -> server; "out": server -> client
    type: str | None = None  # "text" or "bytes"
    size: int = 0
    preview: str = ""
    path: str | None = None
    subprotocol: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    code: int | None = None
    reason: str = ""
    by: str | None = None  # for CLOSE: "client", "server" or "dropped"
    traceback: str = ""

    @property
    def meaning(self) -> str:
        """What a CLOSE event's code means (RFC 6455 and the 4000-4999 range)."""
        return describe_close_code(self.code) if self.kind in (CLOSE, REJECT) else ""

    def describe(self) -> str:
        """One line for logs and plain-text views: ``[server] #3 closed by client: ...``."""
        return f"[{self.side}] {self._what()}"

    def _what(self) -> str:
        arrow = {"in": "client → server", "out": "server → client"}.get(self.direction or "", "")
        if self.kind == MESSAGE:
            return f"#{self.connection} {arrow} {self.type} ({self.size} B): {self.preview}"
        if self.kind == HANDSHAKE:
            offered = f", offering subprotocols {self.preview}" if self.preview else ""
            return f"#{self.connection} handshake {self.path}{offered}"
        if self.kind == ACCEPT:
            proto = f" with subprotocol {self.subprotocol!r}" if self.subprotocol else ""
            return f"#{self.connection} accepted{proto}"
        if self.kind == REJECT:
            return f"#{self.connection} handshake refused (HTTP 403)"
        if self.kind == CLOSE:
            reason = f" {self.reason!r}" if self.reason else ""
            who = "dropped (no close frame)" if self.by == "dropped" else f"closed by {self.by}"
            return f"#{self.connection} {who}: {self.code} ({self.meaning}){reason}"
        return f"#{self.connection} error: {self.preview}"

    def headers_dict(self) -> dict[str, str]:
        return dict(self.headers)


def preview_of(data: str | bytes) -> str:
    """A short, printable view of a payload: text as is, bytes as hex."""
    if isinstance(data, str):
        return data if len(data) <= PREVIEW_CHARS else data[:PREVIEW_CHARS] + "…"
    shown = data[: PREVIEW_CHARS // 2].hex(" ")
    return shown + (" …" if len(data) > PREVIEW_CHARS // 2 else "")


# Where each (side, direction) is counted in ConnectionStats.counts and .bytes.
_SLOTS = {("server", "in"): 0, ("server", "out"): 1, ("client", "in"): 2, ("client", "out"): 3}


class ConnectionStats:
    """Totals for one connection that outlive the events the timeline lets go of."""

    __slots__ = ("bytes", "counts", "path")

    def __init__(self) -> None:
        self.path = ""
        self.counts = [0, 0, 0, 0]  # messages, by _SLOTS
        self.bytes = [0, 0, 0, 0]


class Timeline:
    """A bounded record of events; the newest ``max_events`` are kept, totals are exact.

    Appending is cheap (the server's hot path): a deque append and a counter increment.
    """

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=max_events)
        self._stats: OrderedDict[int, ConnectionStats] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.recorded = 0  # events ever recorded, including those dropped from the window
        self.enabled = True
        self._last_yield = time.perf_counter()

    @property
    def max_events(self) -> int:
        return self._events.maxlen or 0

    def new_connection_id(self) -> int:
        return next(self._ids)

    def record(self, event: Event) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._events.append(event)
            self.recorded += 1
            stats = self._stats.get(event.connection)
            if stats is None:
                stats = self._stats[event.connection] = ConnectionStats()
                if len(self._stats) > MAX_TRACKED_CONNECTIONS:
                    self._stats.popitem(last=False)
            if event.kind == MESSAGE:
                slot = _SLOTS[event.side, event.direction]
                stats.counts[slot] += 1
                stats.bytes[slot] += event.size
            elif event.path:
                stats.path = event.path

    def message(self, connection: int, side: str, direction: str, data: str | bytes) -> None:
        """Record one data frame (the hot path: one check, one tuple, one append)."""
        now = time.perf_counter()
        if now - self._last_yield > GIL_SLICE:
            time.sleep(0)  # releases the GIL: the kernel's threads get their turn
            self._last_yield = time.perf_counter()
        if not self.enabled:
            return
        if type(data) is str:
            kind = "text"
            shown = data if len(data) <= PREVIEW_CHARS else data[:PREVIEW_CHARS] + "…"
        else:
            kind = "bytes"
            shown = preview_of(data)
        self.record(
            Event(time.time(), connection, side, MESSAGE, direction, kind, len(data), shown)
        )

    def events(self, connection: int | None = None, kind: str | None = None) -> list[Event]:
        with self._lock:
            return [
                event
                for event in self._events
                if (connection is None or event.connection == connection)
                and (kind is None or event.kind == kind)
            ]

    def counts(self, connection: int) -> dict[str, dict[str, int]]:
        """Messages per side and direction for one connection, exact even past the window."""
        with self._lock:
            stats = self._stats.get(connection, ConnectionStats())
            result: dict[str, dict[str, int]] = {}
            for (side, direction), slot in _SLOTS.items():
                if stats.counts[slot]:
                    result.setdefault(side, {})[direction] = stats.counts[slot]
            return result

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._stats.clear()

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
