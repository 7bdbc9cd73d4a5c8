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
# the GIL held and nothing recorded, so no look.
PIECE_BYTES = 4096
# Seconds per byte above which a read was dense (many small messages: websockets parses
# each in Python, ~2 us, so 4 KiB of them take ~0.5 ms), and the connection's next read is
# cut into pieces too. A big message's bytes are copied, unmasked and decoded in C, a few
# hundred times faster: such reads go whole (cut into pieces, a 64 KiB message cost the
# server 10% more: each piece is a parser's turn; benchmarks/bench_playground.py).
DENSE = 1 / 50e6  # 50 bytes a microsecond


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


def feed_in_pieces(
    data: bytes, consume: Callable[[bytes | memoryview], object], pacer: Pacer, dense: bool
) -> bool:
    """Hand ``data`` to ``consume`` (a protocol's parser) a piece at a time while it is
    dense, with a look at ``pacer`` after each piece; whether the last piece was dense.

    ``dense``: what the previous call said, for the same connection (start with True).
    The bytes arrive as they would have in smaller reads, so nothing changes but when the
    thread may pause.
    """
    size = len(data)
    if size <= PIECE_BYTES:
        consume(data)
        return dense
    view = memoryview(data)  # pieces without copies: the parser copies what it keeps
    start = 0
    while start < size:  # a dense read in pieces; after a quick piece, the rest at once
        end = min(start + PIECE_BYTES, size) if dense else size
        began = perf_counter()
        consume(data if end - start == size else view[start:end])
        now = perf_counter()
        dense = now - began > (end - start) * DENSE
        start = end
        if now >= pacer.next:
            pacer.look()
    return dense
