"""How work on the server's loop thread lets the kernel's threads have the GIL in time.

The playground's server shares the kernel's GIL (``server/gil.py`` decides when it pauses).
The work is paced where it is cut into small steps: at each message the timeline records,
either side's, and between the pieces of a read (``feed_in_pieces``). A *pacer* is what
is looked at there: ``next``, the ``time.perf_counter()`` at which it wants a look, and
``look()``, which may pause the thread.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Protocol

# Bytes of one read handed on at a time. A read can bring 256 KiB (asyncio's size): two
# thousand small messages, which websockets parses in one go, tens of milliseconds with
# the GIL held and nothing recorded, so no look. Parsing in pieces costs nothing measurable
# (benchmarks/bench_yield.py; websockets' parser alone: 0.9-1.0x the time of a whole read).
PIECE_BYTES = 4096


class Pacer(Protocol):
    """What the loop thread's work looks at: ``if perf_counter() >= pacer.next: pacer.look()``."""

    next: float

    def look(self) -> None: ...


class _NoPacer:
    """The pacer of work no server paces (a timeline alone, a test): never due."""

    next = float("inf")

    def look(self) -> None:
        """Nothing to do: ``next`` is never reached."""


NO_PACER: Pacer = _NoPacer()


def feed_in_pieces(data: bytes, consume: Callable[[bytes], object], pacer: Pacer) -> None:
    """Hand ``data`` to ``consume`` a piece at a time, with a look at ``pacer`` after each.

    A protocol's ``data_received`` does this with its parser: the bytes arrive as they
    would have in smaller reads, so nothing changes but when the thread may pause.
    """
    if len(data) <= PIECE_BYTES:
        consume(data)
        return
    for start in range(0, len(data), PIECE_BYTES):
        consume(data[start : start + PIECE_BYTES])
        if perf_counter() >= pacer.next:
            pacer.look()
