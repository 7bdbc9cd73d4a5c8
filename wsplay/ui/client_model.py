"""One panel client's connection and log, with no widget in it.

Threads: button callbacks may run on the kernel's main thread or a subshell thread, the
connection's reader runs on the playground's loop thread. So the model keeps its log under
a lock and never touches a widget; the panel's refresher reads it and draws.

    model.connect("/echo", [], [])
    model.send("hello"); model.ping(); model.repeat("tick", every=0.2, times=10)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..framework.close_codes import CloseCode, ClosedBy, describe_close_code
from ..framework.exceptions import HandshakeRejectedError
from ..runtime.clients.kernel import ClientCore
from ..runtime.clients.wire import Frame, Opcode
from ..runtime.timeline.export import close_explanation
from .frame_view import newest_control
from .handshake import Handshake, accepted, refused
from .inputs import show_bytes
from .log_line import MAX_BYTES_KEPT, MAX_LOG_LINES, MAX_TEXT_KEPT, LogLine, Mark

if TYPE_CHECKING:
    from ..runtime.playground import Playground

PING_TIMEOUT = 5.0
BACKPRESSURE = 0.05  # seconds a send may wait before the repeat calls it backpressure


@dataclass
class Repeat:
    """A payload sent every ``every`` seconds, ``times`` times, until done or stopped."""

    times: int
    every: float
    sent: int = 0
    longest_wait: float = 0.0  # the longest a single send waited (backpressure shows here)
    ended: str = ""  # why it ended ("" while it runs)
    stopping: bool = False  # Stop was pressed
    _wake: asyncio.Event | None = None  # set (on the loop) to cut a wait short
    _loop: asyncio.AbstractEventLoop | None = None

    def request_stop(self) -> None:
        """Stop at once (from any thread); a send that is waiting finishes first."""
        self.stopping = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def describe(self) -> str:
        wait = f", the longest send waited {self.longest_wait * 1_000:.1f} ms"
        if self.longest_wait >= BACKPRESSURE:
            wait += " (backpressure: the server reads slower than you send)"
        state = self.ended or "running"
        return f"repeat {state}: {self.sent} of {self.times} sent{wait}"


class ClientModel:
    """A panel client's connection and log; safe to call from any thread."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.core: ClientCore | None = None
        self.handshake: Handshake | None = None  # the newest connection's, once known
        self.repeating: Repeat | None = None
        self._log: deque[LogLine] = deque(maxlen=MAX_LOG_LINES)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.version = 0  # bumped on every change, so the view redraws only when needed
        self.received = 0  # of the current connection
        self.sent = 0
        self._ending = False  # close() or drop() was asked for: the reader need not say so
        self._leaving: str | None = None  # left while connecting: close once open, why
        self._open_failed = False  # the newest handshake failed (whoever saw it fail)

    # --- state the view reads ----------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.core is not None and self.core.is_open

    @property
    def busy(self) -> bool:
        """Connecting or connected: a second Connect would start another conversation.

        A handshake can fail before the core knows it is closed (the websockets client
        refuses a header or subprotocol before sending anything): ``_open_failed`` ends
        the "connecting" then too.
        """
        return self.core is not None and self.core.closed_by is None and not self._open_failed

    def log(self) -> list[LogLine]:
        with self._lock:
            return list(self._log)

    def last_line(self) -> LogLine | None:
        with self._lock:
            return self._log[-1] if self._log else None

    def note(
        self,
        direction: Mark,
        kind: str,
        text: str,
        size: int | None = None,
        data: str | bytes | None = None,
        cut: bool = False,
        frames: tuple[Frame, ...] = (),
    ) -> None:
        with self._lock:
            line = LogLine(
                self.version + 1, time.time(), direction, kind, size, text, data, cut, frames
            )
            self._log.append(line)
            self.version += 1
            self._changed.notify_all()

    def changed(self) -> None:
        """Something the view shows changed with no new line (a repeat's count)."""
        with self._lock:
            self.version += 1
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[list[LogLine]], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(log)`` is true for the log's lines; False on timeout.

        model.wait_until(lambda log: any(line.direction == Mark.RECEIVED for line in log))
        """
        with self._changed:
            return self._changed.wait_for(lambda: predicate(list(self._log)), timeout)

    # --- actions (from callbacks; the I/O runs on the playground's loop) ---------------
    def connect(self, path: str, headers: list[tuple[str, str]], subprotocols: list[str]) -> None:
        if self.busy:
            self.note(
                Mark.FAILURE,
                "error",
                "Already connected: close or drop this connection first.",
            )
            return
        if not self.playground.running:
            self.note(
                Mark.FAILURE,
                "error",
                "The server is stopped: press Start (or run pg.start()).",
            )
            return
        self._ending = False
        self._leaving = None
        self._open_failed = False
        self.sent = self.received = 0  # the counters are the new connection's
        self.handshake = None
        self.core = self.playground._client_core(path, headers, subprotocols)
        self.note(Mark.EVENT, "connect", f"connecting to {path} …")
        self.core.start(self._open_and_read(self.core))

    async def _open_and_read(self, core: ClientCore) -> None:
        try:
            await core.open()
        except HandshakeRejectedError as error:
            self._open_failed = True
            self.handshake = refused(core, error)
            if error.status_code:
                self.note(Mark.FAILURE, "refused", str(error))
            else:  # no HTTP answer: the server did not refuse, the handshake failed
                self.note(Mark.FAILURE, "error", f"Could not connect: {error.why}")
            return
        except Exception as error:  # anything: the view must leave "connecting"
            self._open_failed = True
            self.note(Mark.FAILURE, "error", f"Could not connect: {error}")
            return
        self.handshake = accepted(core)
        extra = f" with subprotocol {core.subprotocol!r}" if core.subprotocol else ""
        self.note(Mark.EVENT, "open", f"connected to {core.path} (#{core.id}){extra}")
        if self._leaving is not None:  # the client went away during the handshake
            await self._close_now(core, CloseCode.GOING_AWAY.value, self._leaving)
            return
        try:
            ending = await core.read_all(self._received)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.note(Mark.FAILURE, "error", f"Receiving failed: {error}")
            return
        if not self._ending:
            self._note_close(ending.code, ending.reason, ending.by)

    def _received(self, data: str | bytes) -> None:
        self.received += 1
        self._note_message(Mark.RECEIVED, data)

    def _note_message(self, direction: Mark, data: str | bytes) -> None:
        # The wire has the message's frames by now (parsed before the reader gets the
        # message; written before send returns): the n-th message of a direction is the
        # n-th the wire counted.
        frames = self._frames(direction)
        if isinstance(data, bytes):
            kept = data[:MAX_BYTES_KEPT]
            self.note(
                direction, "bytes", show_bytes(data), len(data), kept, len(kept) < len(data),
                frames,
            )  # fmt: skip
        else:
            kept = data[:MAX_TEXT_KEPT]
            preview = data if len(data) <= 200 else data[:200] + "…"
            self.note(
                direction, "text", preview, len(data.encode()), kept, len(kept) < len(data),
                frames,
            )  # fmt: skip

    def _frames(self, direction: Mark) -> tuple[Frame, ...]:
        core = self.core
        if core is None:
            return ()
        if direction == Mark.SENT:
            return core.wire.message_frames("sent", self.sent)
        return core.wire.message_frames("received", self.received)

    def _note_close(self, code: int | None, reason: str, by: str) -> None:
        why = f" {reason!r}" if reason else ""
        explained = close_explanation(code, reason)
        more = f" {explained}" if explained else ""
        said = f"closed by {by}: {code} ({describe_close_code(code)}){why}{more}"
        core = self.core
        frames = newest_control(core.wire, Opcode.CLOSE, Opcode.CLOSE) if core else ()
        self.note(Mark.EVENT, "close", said, frames=frames)

    def send(self, payload: str | bytes) -> None:
        core = self._require_connection()
        if core is not None:
            core.start(self._send(core, payload))

    async def _send(self, core: ClientCore, payload: str | bytes) -> bool:
        try:
            await core.send(payload)
        except Exception as error:
            self.note(Mark.FAILURE, "error", f"Not sent: {error}")
            return False
        self.sent += 1
        self._note_message(Mark.SENT, payload)
        return True

    def send_many(self, payloads: list[str | bytes]) -> None:
        """Send several messages, in order, as one action (saved messages' Send all)."""
        core = self._require_connection()
        if core is None:
            return

        async def send_all() -> None:
            for payload in payloads:
                if not await self._send(core, payload):
                    return

        core.start(send_all())

    def ping(self, timeout: float = PING_TIMEOUT) -> None:
        """Ping the server; the pong's round trip goes into the log."""
        core = self._require_connection()
        if core is not None:
            core.start(self._ping(core, timeout))

    async def _ping(self, core: ClientCore, timeout: float) -> None:
        self.note(Mark.SENT, "ping", "ping")
        try:
            latency = await core.ping(timeout)
        except Exception as error:
            self.note(Mark.FAILURE, "error", f"Ping failed: {error}")
            return
        frames = newest_control(core.wire, sent=Opcode.PING, received=Opcode.PONG)
        self.note(
            Mark.RECEIVED, "pong", f"pong: round trip {latency * 1_000:.1f} ms", frames=frames
        )

    def repeat(self, payload: str | bytes, every: float, times: int) -> None:
        """Send ``payload`` every ``every`` seconds, ``times`` times (stop_repeat ends it)."""
        core = self._require_connection()
        if core is None:
            return
        if self.repeating is not None and not self.repeating.ended:
            self.note(Mark.FAILURE, "error", "Already repeating: press Stop first.")
            return
        state = self.repeating = Repeat(times, every)
        core.start(self._repeat(core, payload, state))
        self.changed()

    async def _repeat(self, core: ClientCore, payload: str | bytes, state: Repeat) -> None:
        state._loop, state._wake = asyncio.get_running_loop(), asyncio.Event()
        began = time.perf_counter()
        try:
            for index in range(state.times):
                # On a fixed schedule, so a slow send shows as lateness, not as a slower beat.
                wait = began + index * state.every - time.perf_counter()
                if wait > 0 and not state.stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state._wake.wait(), wait)
                if state.stopping:
                    state.ended = "stopped"
                    return
                started = time.perf_counter()
                if not await self._send(core, payload):
                    state.ended = "stopped by an error"
                    return
                state.longest_wait = max(state.longest_wait, time.perf_counter() - started)
                state.sent += 1
                self.changed()
            state.ended = "done"
        except asyncio.CancelledError:
            state.ended = "stopped"  # the playground stopped
            raise
        finally:
            self.note(Mark.EVENT, "repeat", state.describe())

    def stop_repeat(self) -> None:
        if self.repeating is not None:
            self.repeating.request_stop()

    def close(self, code: int, reason: str) -> None:
        core = self._require_connection()
        if core is not None:
            core.start(self._close_now(core, code, reason))

    async def _close_now(self, core: ClientCore, code: int, reason: str) -> None:
        self._ending = True
        await self._end(core.close(code, reason), core)

    def drop(self) -> None:
        core = self._require_connection()
        if core is not None:
            self._ending = True
            core.start(self._end(core.drop(), core))

    async def _end(self, ending: Any, core: ClientCore) -> None:
        """Close or drop, then log it: the view redraws once the state has changed."""
        try:
            await ending
        except Exception as error:
            self.note(Mark.FAILURE, "error", f"Could not close: {error}")
            return
        if core.closed_by == ClosedBy.DROPPED:
            self.note(
                Mark.EVENT,
                "close",
                "dropped: the connection ended with no close frame (1006)",
            )
        else:
            self._note_close(core.close_code, core.close_reason, "client")

    def leave(self, reason: str = "the panel was closed") -> None:
        """The client is going away: close its connection with 1001 (Going Away), at once
        if it is open, else as soon as its handshake is done (a handler that has not
        accepted yet must not be left with a connection nobody owns)."""
        self.stop_repeat()
        core = self.core
        if core is not None and core.closed_by is None:
            core.start(self._leave(core, reason))

    async def _leave(self, core: ClientCore, reason: str) -> None:
        # On the loop, as _open_and_read is: the handshake ends either before this or after.
        if core.is_open:
            await self._close_now(core, CloseCode.GOING_AWAY.value, reason)
        else:
            self._leaving = reason

    def _require_connection(self) -> ClientCore | None:
        if not self.connected:
            why = "Still connecting: wait" if self.busy else "Not connected: press Connect first"
            self.note(Mark.FAILURE, "error", why + ".")
            return None
        return self.core
