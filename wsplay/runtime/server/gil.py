"""Sharing the GIL with the kernel: the server pauses now and then, when others want it.

Why: the playground's server runs on a thread of the kernel and shares its GIL. A cell's
execution hops between the kernel's threads (shell, main, IOPub) several times, and while
the server works flat out (a handler flooding a client) each hop waits for the GIL, up to
the switch interval, and the cell's own work gets half of it at best. A thread that merely
releases the GIL (``time.sleep(0)``) usually takes it back before a waiting one wakes up,
so the server pauses instead: ``PAUSE`` seconds after each ``SLICE`` of its own work.

Only when someone wants it, though: the pauses are taken while the process's other
threads used more than ``DEMAND`` of the wall time since the last look (their CPU time,
which they mostly spend holding the GIL), and for ``HOLD`` seconds after. A server alone (a
script, a benchmark), or beside a notebook where nothing runs, keeps its whole core; a cell
that starts is seen within a slice and gets the pauses while it runs; a panel redrawing
during a flood gets them at each redraw. It corrects itself: a pause the others leave
unused shows as no demand at the next look. ``benchmarks/bench_yield.py`` measures it
against pausing always and never.

The server's own helper threads, which need the GIL briefly and can wait for it, are left
out of the demand (``leave_out``). Its watchdog wakes 16 times a second and uses a few
hundred microseconds of CPU each time on a small VM: counted in, each wake set off
``HOLD`` seconds of pauses that nobody used (21 times in a 3 s echo load; now none).
"""

from __future__ import annotations

import asyncio
import threading
import time

SLICE = 0.002  # seconds of the server's work between two looks
PAUSE = 0.0005  # seconds of a pause
# The others' share of the wall time since the last look above which the server pauses:
# 0 pauses after every slice (as the playground did before), infinity never.
DEMAND = 0.05
# Seconds the pauses go on after the others last wanted the GIL: a cell's hops come a few
# milliseconds apart, and a slice without demand in between must not leave the next hop
# to wait for a forced switch.
HOLD = 0.03
# The thread's own share of the wall time since the last look above which it counts as
# busy, and a timer looks again (below it, its loop was mostly waiting: no timer).
BUSY = 0.5


class GilShare:
    """The server thread's pauses, looked at on every message, on that thread only.

    The timeline checks ``if perf_counter() >= share.next: share.look()`` for each message
    it records, the server's and the kernel client's (both on the server's loop thread, for
    any app): a clock read and a comparison until a slice is over (``look`` then reads the
    calling thread's and the process's CPU time). While the thread stays busy, a timer on
    its loop looks again a slice later, in case no message is recorded meanwhile.
    """

    __slots__ = (
        "_demand",
        "_hold",
        "_left_out",
        "_pause",
        "_process",
        "_slice",
        "_thread",
        "_timer",
        "_until",
        "_wall",
        "next",
    )

    def __init__(self) -> None:
        # Read now, not when the module was loaded: a benchmark sets them before a start.
        self._slice, self._pause, self._demand, self._hold = SLICE, PAUSE, DEMAND, HOLD
        self._until = 0.0  # perf_counter() until which the pauses go on
        self.next = 0.0  # time.perf_counter() at which the running slice is over
        self._wall = self._process = self._thread = 0.0  # the clocks at the last look
        self._timer: asyncio.TimerHandle | None = None
        self._left_out: list[tuple[int, float]] = []  # (CPU clock id, its time at the last look)

    def leave_out(self, thread: threading.Thread) -> None:
        """Do not count ``thread``'s CPU time as demand (a running thread of the server's).

        Where threads have no CPU clock of their own to read (macOS, Windows), it is
        counted in, as before: a few more pauses, nothing wrong.
        """
        clock_of = getattr(time, "pthread_getcpuclockid", None)
        # Only a live thread's id may be passed: an ended one's is undefined behaviour.
        if clock_of is not None and thread.ident is not None and thread.is_alive():
            clock = clock_of(thread.ident)
            self._left_out.append((clock, time.clock_gettime(clock)))

    def look(self) -> None:
        """A slice is over: pause if the other threads used the CPU meanwhile."""
        now = time.perf_counter()
        process, thread = time.process_time(), time.thread_time()
        wall = now - self._wall
        mine = thread - self._thread
        others = (process - self._process) - mine - self._left_out_time()
        self._wall, self._process, self._thread = now, process, thread
        self.next = now + self._slice
        if mine >= BUSY * wall and self._timer is None:
            self._look_again()
        if others >= self._demand * wall:
            self._until = now + self._hold
        if now < self._until:
            # Releases the GIL: the waiting threads get their turn. The next look counts
            # the pause in, so what the others did with it decides the next pause.
            time.sleep(self._pause)
            self.next = time.perf_counter() + self._slice

    def _left_out_time(self) -> float:
        """CPU seconds the left-out threads used since the last look (the ended ones: 0)."""
        if not self._left_out:
            return 0.0
        used, still = 0.0, []
        for clock, before in self._left_out:
            try:
                now = time.clock_gettime(clock)
            except OSError:  # the thread has ended
                continue
            used += now - before
            still.append((clock, now))
        self._left_out = still
        return used

    def _look_again(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # looked at from no loop (a test): nothing to arm
            return
        self._timer = loop.call_later(self._slice, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if time.perf_counter() >= self.next:
            self.look()
