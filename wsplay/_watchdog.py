"""A watchdog for an event loop that learners' handlers may block.

Why: a handler that calls ``time.sleep`` or spins without ``await`` freezes every other
connection on its loop, and nothing on that loop can say so. A second thread can: the loop
beats every few milliseconds, the watchdog notices when the beat stops, reads the loop
thread's current frame to find the learner's line, and, when asked (or after a while),
raises ``HandlerInterrupted`` inside that thread, which the handler sees as an exception at
the line it is stuck on. Time the loop's thread did not run through nobody's fault is
credited to it: the process as a whole not running, and pauses the thread takes on purpose
for other threads (``excused``: the playground's GIL sharing reports them).

    watchdog = LoopWatchdog(loop_thread, threshold=0.25, interrupt_after=5, on_stall=print)
    watchdog.start()
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import linecache
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import TYPE_CHECKING, Any

from .framework.tracebacks import is_learners

if TYPE_CHECKING:
    from ._loop import LoopThread

BEAT_INTERVAL = 0.02  # how often the loop says it is alive
REINTERRUPT_AFTER = 1.0  # a handler that swallowed the interruption gets another one
PROBE_WAIT = 0.2  # how long unblock() lets the loop take to answer before it interrupts
ONE_CALL_AFTER = 0.8  # interrupted, not answering, not moving this long: inside one C call
# The loop is waiting for I/O, not blocked, when its thread is inside one of these.
_IDLE_FUNCTIONS = {"select", "poll", "epoll", "_run_once"}


class HandlerInterrupted(Exception):
    """wsplay stopped a handler that kept its event loop busy without ever awaiting.

    Raised inside the handler, at the line it was stuck on, so its ``finally`` blocks run and
    the framework closes the connection with 1011 and this text as the reason.
    """

    def __init__(self, message: str | None = None) -> None:
        # PyThreadState_SetAsyncExc instantiates the class with no arguments.
        super().__init__(message or _pending_reason.get(threading.get_ident(), _DEFAULT_REASON))


_DEFAULT_REASON = "wsplay stopped this handler: it kept the server busy without an await"
_pending_reason: dict[int, str] = {}


@dataclass(frozen=True)
class Stall:
    """One episode of a blocked loop: where it was stuck, for how long, and what it did."""

    started: float  # time.time() when the loop stopped beating
    blocked_for: float  # seconds, as last seen (the episode may still be going on)
    where: str  # "Cell In[4], line 6" or "handlers.py, line 12"
    code: str  # that line's source, stripped
    task: asyncio.Task[Any] | None  # the task that was running, if one was
    handler: str = ""  # "the handler for /spin (connection #3)", when the owner knows
    function: str = ""  # the learner's function the loop is stuck in ("spin")
    interrupted: bool = False
    over: bool = False

    @property
    def in_handler(self) -> bool:
        """The loop is stuck in learner code (not in a library)."""
        return bool(self.where)


class LoopWatchdog:
    """Watches one LoopThread from a thread of its own; see the module's docstring.

    ``on_stall`` is called (from the watchdog's thread) once when an episode begins, and once
    when it ends, with ``over=True`` and the final duration.
    """

    interruption: type[Exception] = HandlerInterrupted  # what the loop thread survives

    def __init__(
        self,
        loop_thread: LoopThread,
        *,
        threshold: float = 0.25,
        interrupt_after: float | None = 5.0,
        on_stall: Callable[[Stall], None] = lambda stall: None,
        describe_task: Callable[[asyncio.Task[Any]], str] = lambda task: "",
    ) -> None:
        if threshold <= 0:
            raise ValueError(f"The blocking threshold is a number of seconds > 0; got {threshold}.")
        self.loop_thread = loop_thread
        self.threshold = threshold
        self.interrupt_after = interrupt_after
        self.on_stall = on_stall
        self.describe_task = describe_task
        # Seconds the loop's thread has paused on purpose so far, to let other threads run
        # (the playground's GIL sharing sets it): that time is nobody's handler's either.
        self.excused: Callable[[], float] = lambda: 0.0
        self._excused_seen = 0.0
        self.stall: Stall | None = None  # the episode going on now, if any
        self._beat = time.monotonic()
        self._beat_handle: asyncio.TimerHandle | None = None
        self._stopped = threading.Event()
        self._interrupted_at: float | None = None
        self._given_up_on: float | None = None  # the episode unblock() found stuck in a call
        self._thread = threading.Thread(
            target=self._watch, name=f"{loop_thread.name}-watchdog", daemon=True
        )

    @property
    def thread(self) -> threading.Thread:
        """The thread that watches (the playground's GIL sharing leaves it out)."""
        return self._thread

    def why_late(self) -> str | None:
        """The stall going on now in words (the loop thread's time-out messages end with
        it); None if the loop is not blocked."""
        stall = self.stall
        return None if stall is None else stall_sentence(stall, self.interrupt_after)

    # --- the loop's side: a beat every BEAT_INTERVAL ------------------------------------
    def _on_beat(self) -> None:
        self._beat = time.monotonic()
        self._beat_handle = self.loop_thread.loop.call_later(BEAT_INTERVAL, self._on_beat)

    def start(self) -> LoopWatchdog:
        self._beat = time.monotonic()
        self.loop_thread.loop.call_soon_threadsafe(self._on_beat)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(1.0)

    # --- the watchdog's side -----------------------------------------------------------
    @property
    def blocked_for(self) -> float:
        """Seconds since the loop last beat (0 when it is keeping up)."""
        lag = time.monotonic() - self._beat
        return lag if lag > self.threshold else 0.0

    def _watch(self) -> None:
        interval = self.threshold / 4
        last = time.monotonic()
        while not self._stopped.wait(interval):
            now = time.monotonic()
            overslept, last = now - last - interval, now
            if overslept > self.threshold / 2:
                # This thread ran late too: the whole process was not running (a loaded
                # machine, or another thread holding the GIL in C code). Nobody's handler is
                # to blame for that time, so the loop is credited with it.
                self._beat += overslept
            excused = self.excused()
            if excused > self._excused_seen:  # the loop paused for others meanwhile
                self._beat += excused - self._excused_seen
                self._excused_seen = excused
            lag = now - self._beat
            if lag <= self.threshold:
                self._end_episode()
                continue
            if self.stall is None:
                self._begin_episode(lag)
            elif self.stall.in_handler:
                self.stall = replace(self.stall, blocked_for=lag)
                if self.interrupt_after is not None and lag >= self.interrupt_after:
                    self.interrupt(
                        f"wsplay stopped this handler: it ran {lag:.1f} s without an await "
                        "(the server was blocked)"
                    )

    def _begin_episode(self, lag: float) -> None:
        found = self._stuck_at()
        if found is None:
            return  # the loop is idle, the GIL was busy elsewhere: nobody to blame here
        where, code, function = found
        task = _current_task(self.loop_thread.loop)
        handler = ""
        if task is not None:
            try:
                handler = self.describe_task(task)
            except Exception:
                handler = ""
        self.stall = Stall(time.time() - lag, lag, where, code, task, handler, function)
        self._report(self.stall)

    def _end_episode(self) -> None:
        if self.stall is None:
            return
        stall = replace(self.stall, over=True, interrupted=self._interrupted_at is not None)
        self.stall = None
        self._interrupted_at = None
        self._report(stall)

    def _report(self, stall: Stall) -> None:
        with contextlib.suppress(Exception):  # a broken listener must not kill the watchdog
            self.on_stall(stall)

    def _stuck_at(self) -> tuple[str, str, str] | None:
        """Where the loop's thread is, in learner code: (where, code, function); None when
        idle."""
        frame = self._innermost_frame()
        if frame is None or frame.f_code.co_name in _IDLE_FUNCTIONS:
            return None
        user = _innermost_user_frame(frame)
        if user is None:
            return "", "", ""  # blocked in a library (e.g. a callback): still worth saying
        line = linecache.getline(user.f_code.co_filename, user.f_lineno).strip()
        where = describe_location(user.f_code.co_filename, user.f_lineno)
        return where, line, user.f_code.co_name

    def _innermost_frame(self) -> FrameType | None:
        ident = self.loop_thread.ident
        return sys._current_frames().get(ident) if ident is not None else None

    def interrupt(self, reason: str, *, now: bool = False) -> bool:
        """Raise HandlerInterrupted in the loop's thread if it is stuck in learner code.

        Returns whether it did. Unless ``now``, only a loop blocked past the threshold is
        interrupted. Checked just before raising, so a loop that has moved on is left alone.
        """
        moment = time.monotonic()
        if self._interrupted_at is not None and moment - self._interrupted_at < REINTERRUPT_AFTER:
            return True  # one is on its way
        if not now and moment - self._beat <= self.threshold:
            return False
        found = self._stuck_at()
        ident = self.loop_thread.ident
        if not found or not found[0] or ident is None:
            return False
        _pending_reason[ident] = reason
        done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(HandlerInterrupted)
        )
        if done != 1:
            return False
        self._interrupted_at = moment
        if self.stall is not None:
            self.stall = replace(self.stall, interrupted=True)
        return True

    def unblock(self, reason: str, timeout: float = 3.0) -> bool:
        """Make sure the loop answers: interrupt a handler that holds it; False if it won't.

        The loop is asked directly (a no-op task), so a handler that began to spin an
        instant ago, before the threshold, is caught too. A handler stuck inside one long C
        call (``time.sleep(60)``) only sees the interruption when that call returns: once
        the loop has been interrupted and its thread has stood still on one instruction for
        ``ONE_CALL_AFTER`` s, this gives up early (False), and at once for the rest of that
        episode.
        """
        deadline = time.monotonic() + timeout
        still: tuple[FrameType | None, int, float] | None = None  # (frame, instruction, since)
        while self.loop_thread.alive:
            if self.stall is not None and self.stall.started == self._given_up_on:
                return False  # this episode was found stuck in one call already
            probe = self.loop_thread.submit(asyncio.sleep(0))
            try:
                probe.result(min(PROBE_WAIT, max(0.01, deadline - time.monotonic())))
                return True
            except TimeoutError:
                probe.cancel()
            now = time.monotonic()
            frame = self._innermost_frame()
            here = (frame, frame.f_lasti if frame is not None else -1)
            if still is None or still[:2] != here:
                still = (*here, now)
            elif self._interrupted_at is not None and now - still[2] >= ONE_CALL_AFTER:
                return self._give_up()
            if now > deadline:
                return self._give_up()
            self.interrupt(reason, now=True)
        return True

    def _give_up(self) -> bool:
        if self.stall is not None:
            self._given_up_on = self.stall.started
        return False


def stall_sentence(stall: Stall, interrupt_after: float | None = None) -> str:
    """What happened, where, and the fix, in words a learner can act on."""
    who = stall.handler or "a handler"
    if not stall.in_handler:
        return (
            f"the server's event loop was blocked for {stall.blocked_for:.2f} s inside a "
            "library call, not in your code. If a handler calls a slow function, run it with "
            "`await asyncio.to_thread(function, ...)`."
        )
    code = f": `{stall.code}`" if stall.code else ""
    if stall.over:
        what = f"{who} blocked the server's event loop for {stall.blocked_for:.2f} s"
        if stall.interrupted:
            what += " and wsplay stopped it"
    else:
        what = f"{who} is blocking the server's event loop (for {stall.blocked_for:.2f} s so far)"
    meanwhile = "was" if stall.over else "is"
    sentence = (  # the fix first, then what happened
        f"{_fix_for(stall.code).removesuffix('.')}: {what}, at {stall.where}{code}. "
        f"Meanwhile no other connection {meanwhile} served."
    )
    if not stall.over and interrupt_after is not None:
        sentence += (
            f" wsplay stops a handler stuck for {interrupt_after:g} s (its client gets 1011); "
            "pg.restart() stops it now."
        )
    return sentence


def stuck_in_one_call_sentence(stall: Stall | None) -> str:
    """What ``stop()`` says when a handler is stuck inside one call it cannot interrupt."""
    if stall is not None and stall.in_handler:
        function = f", {stall.function}()," if stall.function else ""
        who = f"{stall.handler or 'a handler'}{function}"
        what = f"{who[0].upper()}{who[1:]} is stuck inside one long call at {stall.where}"
        what, fix = f"{what}: `{stall.code}`", _fix_for(stall.code)
    else:
        what, fix = "The server's thread is stuck inside one long call", _fix_for("")
    return (
        f"{what}. Python cannot stop such a call from outside until it returns, so the "
        "playground stopped without waiting: the port is free and wsplay.start() starts a "
        "new server at once. Until the call returns, the old server's thread waits in the "
        "background and that handler's connections get no answer; then they are closed and "
        f"the thread ends by itself. Fix: {fix}"
    )


def _fix_for(code: str) -> str:
    if "time.sleep" in code or code.startswith("sleep("):
        return "use `await asyncio.sleep(...)` instead of `time.sleep(...)`."
    if code.startswith("await ") and ".send" in code:
        # A send returns at once while the client's buffers have room (megabytes on
        # loopback): a loop of them is a loop without a wait, until they are full.
        return (
            "a loop of sends waits for nothing while the client's buffers have room: add "
            "`await asyncio.sleep(0)` every few hundred messages, so other connections are "
            "served meanwhile."
        )
    if code.startswith(("while", "for")) or "+=" in code or code in ("pass", "continue"):
        return (
            "a loop in a handler must await something on each turn (a receive, a send, or "
            "`await asyncio.sleep(0)`); for CPU work use `await asyncio.to_thread(...)`."
        )
    return (
        "never call blocking code in an `async def` handler: use `await asyncio.sleep(...)` "
        "instead of `time.sleep(...)`, and `await asyncio.to_thread(function, ...)` for CPU "
        "work or blocking I/O."
    )


def _current_task(loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task(loop)  # a dict look-up: safe from another thread
    except RuntimeError:
        return None


def _innermost_user_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None:
        filename = frame.f_code.co_filename
        if is_learners(filename):
            return frame
        frame = frame.f_back
    return None


def describe_location(filename: str, lineno: int) -> str:
    """``Cell In[4], line 6`` for a notebook cell (as IPython says it), else ``file, line N``."""
    cell = _cell_number(filename)
    if cell is not None:
        return f"Cell In[{cell}], line {lineno}"
    if filename.startswith("<handler "):  # a body deployed by %%wsplay or the editor
        return f"the {filename[1:-1]}, line {lineno - 1}"
    return f"{os.path.basename(filename)}, line {lineno}"


def _cell_number(filename: str) -> int | None:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    names = getattr(getattr(shell, "compile", None), "_filename_map", None)
    return names.get(filename) if isinstance(names, dict) else None
