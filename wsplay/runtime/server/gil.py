"""Sharing the GIL with the kernel: the server pauses now and then, when others want it.

Why: the playground's server runs on a thread of the kernel and shares its GIL. A cell's
execution hops between the kernel's threads (shell, main, IOPub) several times, and while
the server works flat out (a handler flooding a client) each hop waits for the GIL, up to
the switch interval, and the cell's own work gets half of it at best. A thread that merely
releases the GIL (``time.sleep(0)``) usually takes it back before a waiting one wakes up,
so the server pauses instead: ``PAUSE`` seconds after each ``SLICE`` of its own work, and
again while the others use its pauses (up to ``LONGEST`` in a row). A cell's work then runs
through, rather than in turns with the server's slices: the server gives up the time the
others really use, and little more. Its work is looked at often enough for that because
it is cut small: at each message recorded, and between the pieces of a long read
(``runtime/pacing.py``). ``benchmarks/bench_panel_flood.py``, a trivial cell's p99 during a
flood of 30 000 messages to a panel: 1.38x its idle p99, against 5.2x with one pause per
slice, no following pauses and whole reads (the playground until December 2026).

Only when someone wants it, though: the pauses are taken while the process's other threads
used more than ``DEMAND`` of the wall time since the last look (their CPU time, which they
mostly spend holding the GIL), and for ``HOLD`` seconds after. A server alone (a script, a
benchmark), or beside a notebook where nothing runs, keeps its whole core; a cell that
starts is seen within a slice and gets the pauses while it runs; a panel redrawing during a
flood gets them at each redraw. It corrects itself: ``UNUSED`` pauses in a row that the
others leave unused end the hold, and show as no demand at the next look.
``benchmarks/bench_yield.py`` measures it against pausing always and never.

The server's own helper threads, which need the GIL briefly and can wait for it, are left
out of the demand (``leave_out``). Its watchdog wakes 16 times a second and uses a few
hundred microseconds of CPU each time on a small VM: counted in, each wake set off
``HOLD`` seconds of pauses that nobody used (21 times in a 3 s echo load; now none).
"""

from __future__ import annotations

import asyncio
import threading
import time

SLICE = 0.001  # seconds of the server's work between two looks
PAUSE = 0.001  # seconds of a pause
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
# The others' share of a pause above which the server pauses again: they had work waiting.
FOLLOW = 0.3
# Seconds of pauses in a row at most: a cell that computes for a long time leaves the
# server a slice in every SLICE + LONGEST (a ninth of the time), so it keeps serving.
LONGEST = 0.008
# Pauses the others leave unused in a row that end the HOLD early: the panel's redraw during
# a flood (a millisecond's work) no longer costs the server HOLD seconds of pauses.
UNUSED = 2


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
        "_longest",
        "_pause",
        "_paused",
        "_process",
        "_slice",
        "_thread",
        "_timer",
        "_until",
        "_unused",
        "_unused_limit",
        "_wall",
        "next",
    )

    def __init__(self) -> None:
        # Read now, not when the module was loaded: a benchmark sets them before a start.
        self._slice, self._pause, self._demand, self._hold = SLICE, PAUSE, DEMAND, HOLD
        self._longest, self._unused_limit = LONGEST, UNUSED
        self._unused = 0  # pauses in a row the others left unused
        self._paused = 0.0  # seconds paused in all
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
        now, wall, mine, others = self._clocks()
        self.next = now + self._slice
        if mine >= BUSY * wall and self._timer is None:
            self._look_again()
        if others >= self._demand * wall:
            self._until, self._unused = now + self._hold, 0
        if now < self._until:
            self._give_way()

    def paused_seconds(self) -> float:
        """Seconds this thread has paused for the others so far: not its handlers' time
        (the watchdog does not count it as the loop being blocked)."""
        return self._paused

    def _give_way(self) -> None:
        """Pause, and pause again while the others use the pauses, ``LONGEST`` at most.

        Sleeping releases the GIL: the waiting threads get their turn. A cell's hops between
        the kernel's threads then each find the GIL free, rather than waiting for a forced
        switch between two of the server's slices.
        """
        paused = 0.0
        while True:
            time.sleep(self._pause)
            now, wall, _, others = self._clocks()
            paused += wall
            if others < FOLLOW * wall:
                self._unused += 1
                if self._unused >= self._unused_limit:
                    self._until = 0.0  # nobody is waiting: the hold is over
                break
            self._until, self._unused = now + self._hold, 0
            if paused >= self._longest:
                break
        self._paused += paused
        self.next = now + self._slice

    def _clocks(self) -> tuple[float, float, float, float]:
        """(now, wall seconds, the thread's CPU seconds, the others' CPU seconds) since the
        last reading, which this one becomes."""
        now = time.perf_counter()
        process, thread = time.process_time(), time.thread_time()
        wall, mine = now - self._wall, thread - self._thread
        others = (process - self._process) - mine - self._left_out_time()
        self._wall, self._process, self._thread = now, process, thread
        return now, wall, mine, others

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
