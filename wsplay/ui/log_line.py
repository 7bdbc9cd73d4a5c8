"""One line of a panel client's log: what the page draws, and the limits of what it keeps.

A line is frozen once written (the page keeps what it already has by ``seq``); a message's
data is kept cut to the limits below, enough for its text, hex, base64 and JSON views.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..runtime.clients.wire import Frame
from .frame_view import frame_row

MAX_LOG_LINES = 500
MAX_TEXT_KEPT = 2000  # characters of a text message the log keeps, for its views
MAX_BYTES_KEPT = 1024  # bytes of a binary message the log keeps


class Mark(StrEnum):
    """What a log line is, as the page shows it at the line's start (and filters on)."""

    SENT = "→"
    RECEIVED = "←"
    EVENT = "•"  # the connection's own: connecting, open, close, repeat
    FAILURE = "✗"


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int  # grows by one per line: the page drops what it already has
    time: float
    direction: Mark
    kind: str  # text, bytes, ping, pong, open, close, refused, error ...
    size: int | None
    text: str  # the line as words (a message's preview, hex for bytes)
    data: str | bytes | None = None  # a message itself (cut), for the hex/base64/JSON views
    cut: bool = False  # data holds only the start of the message
    frames: tuple[Frame, ...] = ()  # a message's frames on the wire, as the client saw them

    def row(self) -> dict[str, Any]:
        """What the page needs to draw the line (JSON)."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        row: dict[str, Any] = {
            "seq": self.seq,
            "t": f"{stamp}.{int(self.time * 1_000) % 1_000:03d}",
            "dir": self.direction.value,
            "kind": self.kind,
            "size": self.size,
        }
        if isinstance(self.data, bytes):
            row["b64"] = base64.b64encode(self.data).decode()
        else:
            row["text"] = self.data if isinstance(self.data, str) else self.text
        if self.cut:
            row["cut"] = True
        if self.frames:
            row["frames"] = [frame_row(frame) for frame in self.frames]
        return row
