"""The server thread's pauses for the kernel (wsplay/runtime/gil.py), on a clock of our own.

The policy is decided from three clocks (wall, the process's CPU, the thread's CPU); a fake
``time`` module drives them, so each case is exact and takes no time.
"""

from __future__ import annotations

import time

import pytest

from wsplay.runtime.server import gil


class FakeClocks:
    """Wall and CPU clocks that move only when told; ``sleep`` moves the wall clock."""

    def __init__(self) -> None:
        self.wall = self.process = self.thread = 100.0
        self.pauses: list[float] = []
        self.threads: dict[int, float] = {}  # CPU clock id -> that thread's CPU time
        self.ended: set[int] = set()
        self.used_pauses = 0.0  # the share of each pause the other threads use

    def work(self, seconds: float, others: float = 0.0, by: int | None = None) -> None:
        """The server thread works ``seconds``; the other threads use ``others`` of CPU
        (all of it the thread whose clock is ``by``, if given)."""
        self.wall += seconds
        self.thread += seconds
        self.process += seconds + others
        if by is not None:
            self.threads[by] += others

    def pthread_getcpuclockid(self, ident: int) -> int:
        self.threads.setdefault(ident, 0.0)
        return ident

    def clock_gettime(self, clock: int) -> float:
        if clock in self.ended:
            raise OSError(22, "Invalid argument")
        return self.threads[clock]

    def perf_counter(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.process

    def thread_time(self) -> float:
        return self.thread

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.wall += seconds
        self.process += self.used_pauses * seconds


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> FakeClocks:
    fake = FakeClocks()
    monkeypatch.setattr(gil, "time", fake)
    return fake


def serve(
    share: gil.GilShare, clocks: FakeClocks, slices: int, others: float = 0.0, by: int | None = None
) -> None:
    """``slices`` slices of work, each message checked as the recorder does."""
    for _ in range(slices):
        clocks.work(gil.SLICE, others * gil.SLICE, by)
        if clocks.perf_counter() >= share.next:
            share.look()


def test_a_server_alone_never_pauses(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=500)
    assert clocks.pauses == []


def test_the_server_pauses_while_other_threads_use_the_cpu(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=10)
    serve(share, clocks, slices=100, others=0.3)  # a cell runs
    assert len(clocks.pauses) >= 95
    assert set(clocks.pauses) == {gil.PAUSE}


def test_the_pauses_go_on_for_the_hold_time_then_stop(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=5, others=0.5)
    before = len(clocks.pauses)
    serve(share, clocks, slices=200)  # the cell is over: nobody else wants the GIL
    held = len(clocks.pauses) - before
    per_slice = gil.SLICE + gil.PAUSE
    assert 0 < held <= gil.HOLD / per_slice + 1
    later = len(clocks.pauses)
    serve(share, clocks, slices=100)
    assert len(clocks.pauses) == later


def test_pauses_go_on_while_the_others_use_them_up_to_the_longest(clocks: FakeClocks) -> None:
    """A cell's work runs through, rather than in turns with the server's slices."""
    share = gil.GilShare()
    serve(share, clocks, slices=1)  # the first look reads the clocks
    clocks.used_pauses = 0.9
    serve(share, clocks, slices=1, others=0.5)  # a cell starts, and keeps the CPU busy
    assert len(clocks.pauses) == round(gil.LONGEST / gil.PAUSE)
    clocks.pauses.clear()
    clocks.used_pauses = gil.FOLLOW / 2  # it waits on I/O: pauses it barely uses
    serve(share, clocks, slices=1)
    assert clocks.pauses == [gil.PAUSE]


def test_the_pauses_are_counted_for_the_watchdog(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=1)
    clocks.used_pauses = 0.9
    serve(share, clocks, slices=3, others=0.5)
    assert clocks.pauses
    assert share.paused_seconds() == pytest.approx(sum(clocks.pauses))


def test_unused_pauses_end_the_hold_early(clocks: FakeClocks) -> None:
    """A panel's redraw (a short burst, then nothing) costs the server a few pauses, not
    HOLD seconds of them."""
    share = gil.GilShare()
    serve(share, clocks, slices=1)  # the first look reads the clocks
    serve(share, clocks, slices=1, others=0.5)  # the burst; its pause goes unused
    serve(share, clocks, slices=200)
    assert len(clocks.pauses) == gil.UNUSED
    assert gil.UNUSED * (gil.SLICE + gil.PAUSE) < gil.HOLD  # else the test shows nothing


def test_a_used_pause_starts_the_count_of_unused_ones_again(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=1)  # the first look reads the clocks
    serve(share, clocks, slices=1, others=0.5)  # 1 unused pause
    clocks.used_pauses = 0.9
    serve(share, clocks, slices=1)  # pauses used: the hold goes on, the count is 0 again
    clocks.used_pauses = 0.0
    before = len(clocks.pauses)
    serve(share, clocks, slices=200)
    assert len(clocks.pauses) - before == gil.UNUSED


def test_a_little_background_work_is_no_demand(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    serve(share, clocks, slices=300, others=gil.DEMAND / 4)  # e.g. a watchdog's beats
    assert clocks.pauses == []


@pytest.mark.parametrize(("demand", "expected"), [(0.0, "every slice"), (float("inf"), "never")])
def test_the_demand_threshold_also_expresses_always_and_never(
    clocks: FakeClocks, monkeypatch: pytest.MonkeyPatch, demand: float, expected: str
) -> None:
    monkeypatch.setattr(gil, "DEMAND", demand)
    share = gil.GilShare()  # reads the module's settings when made
    serve(share, clocks, slices=100, others=0.5)
    if expected == "never":
        assert clocks.pauses == []
    else:
        assert len(clocks.pauses) >= 99


class _Started:
    """What leave_out reads of a thread."""

    def __init__(self, ident: int) -> None:
        self.ident = ident

    def is_alive(self) -> bool:
        return True


def test_a_thread_left_out_is_no_demand_however_busy(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    share.leave_out(_Started(7))  # type: ignore[arg-type]
    serve(share, clocks, slices=200, others=0.5, by=7)  # the watchdog, say
    assert clocks.pauses == []
    serve(share, clocks, slices=20, others=0.5)  # a cell: still seen
    assert len(clocks.pauses) >= 19


def test_a_left_out_thread_that_ended_is_forgotten(clocks: FakeClocks) -> None:
    share = gil.GilShare()
    share.leave_out(_Started(7))  # type: ignore[arg-type]
    serve(share, clocks, slices=5, others=0.5, by=7)
    clocks.ended.add(7)
    serve(share, clocks, slices=20, others=0.5)  # its clock is gone: the rest still counts
    assert len(clocks.pauses) >= 19
    assert share._left_out == []


@pytest.mark.skipif(
    not hasattr(time, "pthread_getcpuclockid"),
    reason="threads have no CPU clock of their own here (macOS, Windows): nothing is left out",
)
def test_the_playground_leaves_its_watchdog_out() -> None:
    """The real wiring (white-box: what is left out is not visible otherwise)."""
    from wsplay import Playground, Router

    playground = Playground(Router()).start()
    unwatched = Playground(Router(), block_threshold=None).start()
    try:
        running = playground._running
        assert running is not None and running.server.watchdog is not None
        watchdog = time.pthread_getcpuclockid(running.server.watchdog.thread.ident)
        assert [clock for clock, _ in running.recorder.gil._left_out] == [watchdog]
        # and the watchdog does not count the pauses as the loop being blocked
        assert running.server.watchdog.excused == running.recorder.gil.paused_seconds
        assert unwatched._running is not None
        assert unwatched._running.recorder.gil._left_out == []
    finally:
        playground.stop()
        unwatched.stop()
