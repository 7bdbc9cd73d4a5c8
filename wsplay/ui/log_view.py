"""A panel client's log in the page: lines appended, views and filters in the browser.

The view switches (UTF-8, hex, base64, pretty JSON) and the filters (direction, kind,
text) run in the page, on the lines it holds (all the model keeps, 500): no round trip to
the kernel for a click. Its stylesheet also styles the client around it (client.css).

    view = LogView(); view.refresh(model)   # from the panel's refresher
"""

from __future__ import annotations

import base64
from pathlib import Path

from .client_model import ClientModel
from .log_line import MAX_LOG_LINES
from .stream_view import StreamView

HERE = Path(__file__).parent


class LogView(StreamView):
    """The log of one ClientModel, newest last."""

    _esm = HERE / "client_log.js"
    _css = HERE / "client.css"

    def __init__(self) -> None:
        super().__init__(max_rows=MAX_LOG_LINES)
        self._sent = 0  # the newest line's seq the page has
        self._version = -1  # the model's version when last looked at

    def refresh(self, model: ClientModel) -> bool:
        """Send the page the lines it lacks; True if anything was sent (refresher only)."""
        if model.version == self._version and not self._reset_wanted:
            return False  # the cheap test first: the refresher asks twenty times a second
        self._version = model.version
        lines = model.log()
        newest = lines[-1].seq if lines else 0
        if newest == self._sent and not self._reset_wanted:
            return False
        new = [line for line in lines[-self.max_push :] if line.seq > self._sent]
        missed = sum(1 for line in lines[: -self.max_push] if line.seq > self._sent)
        self._sent = newest
        rows = [line.row() for line in new]  # only what is sent is drawn: floods are cheap
        return self.flush(rows, lambda: [line.row() for line in lines], missed)

    def text(self) -> str:
        """What the page holds, one line per row, bytes in hex (for tests and plain text)."""
        lines = []
        for row in self.rows:
            size = "" if row.get("size") is None else f"{row['size']} B "
            data = row["text"] if "text" in row else base64.b64decode(row["b64"]).hex(" ")
            lines.append(f"{row['t']} {row['dir']} {row['kind']} {size}{data}")
        return "\n".join(lines)
