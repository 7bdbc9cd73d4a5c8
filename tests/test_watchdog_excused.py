"""The watchdog does not blame a handler for the pauses its loop takes on purpose, and
names the right fix for a flood of sends.

The playground's server pauses while a cell runs (runtime/server/gil.py), in the middle of
a handler's work when that work records messages: a flood that never really awaits then
takes longer in wall time, and the watchdog, counting that time, said the handler blocked
the loop and stopped it after 5 s (a learner running cells during a 200 000-message flood
saw it). The pauses are reported to the watchdog (``excused``), which credits them to the
loop as it credits a process that did not run at all.

No kernel: a loop thread and its watchdog, in this process.
"""

from __future__ import annotations

import time

from wsplay._loop import LoopThread
from wsplay._watchdog import LoopWatchdog, Stall, stall_sentence

THRESHOLD = 0.2  # seconds
PAUSES = 80  # of 5 ms: 0.4 s in all, twice the threshold


def stalls_of_a_pausing_handler(excused: bool) -> list[Stall]:
    """What the watchdog reports while a coroutine pauses 0.4 s in 5 ms pauses, each told
    to the watchdog as excused or not."""
    loop = LoopThread("test-excused").start()
    stalls: list[Stall] = []
    watchdog = LoopWatchdog(
        loop, threshold=THRESHOLD, interrupt_after=None, on_stall=stalls.append
    ).start()
    paused = [0.0]
    if excused:
        watchdog.excused = lambda: paused[0]

    async def pausing() -> None:
        for _ in range(PAUSES):
            time.sleep(0.005)  # noqa: ASYNC251 (on purpose: GilShare._give_way pauses so)
            paused[0] += 0.005

    try:
        loop.run(pausing(), timeout=10)
    finally:
        watchdog.stop()
        loop.stop()
    return stalls


def test_pauses_told_to_the_watchdog_are_no_stall() -> None:
    assert stalls_of_a_pausing_handler(excused=True) == []


def test_the_same_pauses_untold_are_a_stall() -> None:
    """The control: without the credit, the same coroutine is a blocked loop."""
    stalls = stalls_of_a_pausing_handler(excused=False)
    assert stalls and stalls[0].function == "pausing"


def test_a_flood_of_sends_is_told_to_wait_now_and_then() -> None:
    """A loop of sends never waits while the client's buffers have room: the fix named is
    a sleep(0) now and then, not the advice for time.sleep or CPU work."""
    stall = Stall(
        started=0.0,
        blocked_for=0.7,
        where="Cell In[1], line 8",
        code="await websocket.send_text(f'message {index}')",
        task=None,
        handler="the handler for /flood (connection #1)",
        function="flood",
        over=True,
    )
    sentence = stall_sentence(stall)
    assert sentence.startswith("a loop of sends waits for nothing")
    assert "`await asyncio.sleep(0)` every few hundred messages" in sentence
    assert "time.sleep" not in sentence
