"""Sharing the GIL with the kernel: the server pauses now and then, when others want it.

Why: the playground's server runs on a thread of the kernel and shares its GIL. A cell's
execution hops between the kernel's threads (shell, main, IOPub) several times, and while
the server works flat out (a handler flooding a client) each hop waits for the GIL, up to
the switch interval, and the cell's own work gets half of it at best. A thread that merely
releases the GIL (``time.sleep(0)``) usually takes it back before a waiting one wakes up,
so the server pauses instead: ``PAUSE`` seconds after each ``SLICE`` of its own work.

Only when someone wants it, though: the pause is taken when the process's other threads
used more than ``DEMAND`` of the wall time since the last look (their CPU time, which they
mostly spend holding the GIL). A server alone, or beside a notebook at rest, keeps its
whole core; a cell that starts running is seen within a slice and gets the pauses while it
runs. It corrects itself: a pause the others leave unused shows as no demand at the next
look, and the pauses stop. ``benchmarks/bench_yield.py`` measures it against pausing always
and never.
"""

from __future__ import annotations

import time

SLICE = 0.002  # seconds of the server's work between two looks
PAUSE = 0.0005  # seconds of a pause
# The others' share of the wall time since the last look above which the server pauses:
# 0 pauses after every slice (as the playground did before), infinity never.
DEMAND = 0.05


class GilShare:
    """The server thread's pauses; ``tick()`` on every message, on that thread only.

    The recorder ticks as each message goes in or out, where the server's work is, for any
    app: a clock read and a comparison, until a slice is over (the clocks it reads then are
    the calling thread's and the process's CPU time).
    """

    __slots__ = ("_demand", "_pause", "_process", "_slice", "_thread", "_wall", "next")

    def __init__(self, slice_: float = SLICE, pause: float = PAUSE, demand: float = DEMAND):
        self._slice, self._pause, self._demand = slice_, pause, demand
        self.next = 0.0  # time.perf_counter() at which the running slice is over
        self._wall = self._process = self._thread = 0.0  # the clocks at the last look

    def tick(self) -> None:
        """For callers that do not inline ``if perf_counter() >= share.next: share.look()``."""
        if time.perf_counter() >= self.next:
            self.look()

    def look(self) -> None:
        """A slice is over: pause if the other threads used the CPU meanwhile."""
        now = time.perf_counter()
        process, thread = time.process_time(), time.thread_time()
        wall = now - self._wall
        others = (process - self._process) - (thread - self._thread)
        self._wall, self._process, self._thread = now, process, thread
        self.next = now + self._slice
        if others >= self._demand * wall:
            # Releases the GIL: the waiting threads get their turn. The next look counts
            # the pause in, so what the others did with it decides the next pause.
            time.sleep(self._pause)
            self.next = time.perf_counter() + self._slice
