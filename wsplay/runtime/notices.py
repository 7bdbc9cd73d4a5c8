"""What the playground says in the notebook on its own, bounded in rate and in memory.

Why: what it says is driven by the wire. A page that tries 2 000 origins, or a flood of
slow clients, must not print 2 000 paragraphs into the notebook (megabytes of output the
browser then has to draw), and remembering what was said must not grow without end. So,
per kind of notice:

- at most ``burst`` notices (one, unless asked) in a window of ``every`` seconds; the rest
  are counted, and the count is said once when the window ends (``… and 1 997 more
  refused origins since 10:01:02; see pg.timeline``), or when the playground stops;
- a notice with a ``key`` (a refused origin) is said once per key, and the keys remembered
  are the newest ``remembered`` ones (hashes, not the values: a header can be kilobytes).

The timeline keeps every event; this is only what interrupts the learner.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .reports import HandlerError
from .server.origins import Refusal

NOTICE_EVERY = 30.0  # seconds: the window of each kind's rate
REMEMBERED_KEYS = 256  # keys (refused origins...) remembered as said, per kind
REFUSALS_SAID = 3  # refused origins (or hosts) said per window, before the rest are counted
ERRORS_SAID = 3  # handler errors of one kind (type and line) said per window, and app notices


@dataclass
class _Kind:
    """One kind's window and memory."""

    counted: str  # what its suppressed notices are called in the count
    burst: int  # notices said per window before the rest are only counted
    window_start: float | None = None  # None: no window open
    said_in_window: int = 0
    suppressed: int = 0
    suppressed_since: float = 0.0  # wall clock, for the sentence
    summary_due: bool = False
    keys: OrderedDict[int, None] = field(default_factory=OrderedDict)


class Notices:
    """Says notices through ``say``; see the module's docstring. Thread-safe."""

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        every: float = NOTICE_EVERY,
        remembered: int = REMEMBERED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._say = say
        self.every = every
        self.remembered = remembered
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()

    def say(
        self, kind: str, text: str, *, key: str | None = None, counted: str = "", burst: int = 1
    ) -> None:
        """Say ``text`` unless ``key`` was said already or ``kind``'s rate is used up.

        ``counted``: what the suppressed ones are called in the count ("refused origins");
        ``burst``: how many of ``kind`` are said per window (the first call's count holds).
        """
        now = self._clock()
        with self._lock:
            state = self._kinds.setdefault(kind, _Kind(counted or "notices like it", burst))
            if key is not None and not self._remember(state, key):
                return  # said (or counted) already: a page retrying is not news
            owed = ""
            if state.window_start is None or now - state.window_start >= self.every:
                owed = self._summary(state)
                state.window_start, state.said_in_window = now, 0
            spoken, due = "", False
            if state.said_in_window < state.burst:
                state.said_in_window += 1
                spoken = text
            else:
                if state.suppressed == 0:
                    state.suppressed_since = time.time()
                state.suppressed += 1
                due, state.summary_due = not state.summary_due, True
            window_end = state.window_start + self.every
        for text_now in (owed, spoken):
            if text_now:
                self._say(text_now)
        if due:
            self._later(kind, window_end - now)

    def refused(self, refusal: Refusal, request: str) -> None:
        """A refused origin or host: said once per value, a few a window; a page retrying
        in a loop, or trying thousands of names, must not flood the notebook."""
        header = refusal.header
        self.say(
            f"refused {header}",
            refusal.explain(request),
            key=refusal.value,
            counted=f"refused {header.lower()}s",
            burst=REFUSALS_SAID,
        )

    def error(self, record: HandlerError) -> None:
        """A handler error, fix first: the first few of each kind (its type and the
        learner's line that raised it) said whole, the rest counted; a client opening
        hundreds of connections to a raising handler is one paragraph, and a count."""
        name = type(record.exception).__name__
        like = f"raised at {record.where}" if record.where else "like it"
        self.say(
            f"error {name} {record.where} {record.code}",
            record.notice(),
            counted=f"{name} errors {like}",
            burst=ERRORS_SAID,
        )

    def app_notice(self, text: str) -> None:
        """What an app warned about (no route matched, a handshake it refused...): a few
        a window, the rest counted; each is driven by a client."""
        self.say("app notice", text, counted="notices like it from the app", burst=ERRORS_SAID)

    def flush(self) -> None:
        """Say every count still owed (the playground is stopping)."""
        with self._lock:
            owed = [self._summary(state) for state in self._kinds.values()]
        for text in owed:
            if text:
                self._say(text)

    def _remember(self, state: _Kind, key: str) -> bool:
        """Whether ``key`` is new to ``state`` (then remembered, the oldest forgotten)."""
        digest = hash(key)
        if digest in state.keys:
            state.keys.move_to_end(digest)
            return False
        state.keys[digest] = None
        while len(state.keys) > self.remembered:
            state.keys.popitem(last=False)
        return True

    @staticmethod
    def _summary(state: _Kind) -> str:
        """The count ``state`` owes, now reset; "" if none. Called with the lock held."""
        if state.suppressed == 0:
            return ""
        count = f"{state.suppressed:,}".replace(",", " ")
        since = time.strftime("%H:%M:%S", time.localtime(state.suppressed_since))
        state.suppressed, state.summary_due = 0, False
        return f"… and {count} more {state.counted} since {since}; see pg.timeline."

    def _later(self, kind: str, delay: float) -> None:
        """Say ``kind``'s count when its window ends, on the loop that called (the server's);
        without one, it is said with the next notice of the kind, or by ``flush``."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(max(delay, 0.0), self._window_over, kind)

    def _window_over(self, kind: str) -> None:
        with self._lock:
            text = self._summary(self._kinds[kind])
        if text:
            self._say(text)
