"""One client in the panel: its model (connection, log) and its view (the widgets).

Threads: button callbacks may run on the kernel's main thread or a subshell thread, the
connection's reader runs on the playground's loop thread. So the model keeps its log under
a lock and never touches a widget, and the view's log is written by one thread only: the
panel's refresher, which redraws at most ~20 times a second.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..framework.close_codes import describe_close_code
from ..framework.exceptions import HandshakeRejectedError, WebSocketClosedError
from ..runtime.client import ClientCore
from .inputs import (
    BYTES_FORMATS,
    PAYLOAD_MODES,
    InputError,
    parse_close_code,
    parse_close_reason,
    parse_headers,
    parse_path,
    parse_payload,
    parse_subprotocols,
    show_bytes,
)

if TYPE_CHECKING:
    from ..runtime.playground import Playground

MAX_LOG_LINES = 500
LABEL = {"description_width": "90px"}


@dataclass(frozen=True, slots=True)
class LogLine:
    time: float
    direction: str  # "→" sent, "←" received, "•" a connection event, "✗" a failure
    kind: str  # text, bytes, open, close, error ...
    size: int | None
    text: str


class ClientModel:
    """A panel client's connection and log; safe to call from any thread."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.core: ClientCore | None = None
        self._log: deque[LogLine] = deque(maxlen=MAX_LOG_LINES)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.version = 0  # bumped on every change, so the view redraws only when needed
        self.received = 0
        self.sent = 0
        self._ending = False  # close() or drop() was asked for: the reader need not say so

    # --- state the view reads ----------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.core is not None and self.core.is_open

    @property
    def busy(self) -> bool:
        """Connecting or connected: a second Connect would start another conversation."""
        return self.core is not None and self.core.closed_by is None

    def log(self) -> list[LogLine]:
        with self._lock:
            return list(self._log)

    def note(self, direction: str, kind: str, text: str, size: int | None = None) -> None:
        with self._lock:
            self._log.append(LogLine(time.time(), direction, kind, size, text))
            self.version += 1
            self._changed.notify_all()

    def wait_until(self, predicate, timeout: float = 5.0) -> bool:
        """Wait until ``predicate(log)`` is true for the log's lines; False on timeout.

        model.wait_until(lambda log: any(line.direction == "←" for line in log))
        """
        with self._changed:
            return self._changed.wait_for(lambda: predicate(list(self._log)), timeout)

    # --- actions (from callbacks; the I/O runs on the playground's loop) ---------------
    def connect(self, path: str, headers: list[tuple[str, str]], subprotocols: list[str]) -> None:
        if self.busy:
            self.note("✗", "error", "Already connected: close or drop this connection first.")
            return
        if not self.playground.running:
            self.note("✗", "error", "The server is stopped: press Start (or run pg.start()).")
            return
        self._ending = False
        self.core = self.playground._client_core(path, headers, subprotocols)
        self.note("•", "connect", f"connecting to {path} …")
        self.core.loop.submit(self._open_and_read(self.core))

    async def _open_and_read(self, core: ClientCore) -> None:
        try:
            await core.open()
        except HandshakeRejectedError as error:
            self.note("✗", "refused", str(error))
            return
        except Exception as error:
            self.note("✗", "error", f"Could not connect: {error}")
            return
        extra = f" with subprotocol {core.subprotocol!r}" if core.subprotocol else ""
        self.note("•", "open", f"connected to {core.path} (#{core.id}){extra}")
        while True:
            try:
                data = await core.receive(None)
            except WebSocketClosedError as closed:
                if not self._ending:
                    self._note_close(closed.code, closed.reason, core.closed_by or "server")
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.note("✗", "error", f"Receiving failed: {error}")
                return
            self.received += 1
            self._note_message("←", data)

    def _note_message(self, direction: str, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.note(direction, "bytes", show_bytes(data), len(data))
        else:
            self.note(
                direction,
                "text",
                data if len(data) <= 200 else data[:200] + "…",
                len(data.encode()),
            )

    def _note_close(self, code: int | None, reason: str, by: str) -> None:
        why = f" {reason!r}" if reason else ""
        self.note("•", "close", f"closed by {by}: {code} ({describe_close_code(code)}){why}")

    def send(self, payload: str | bytes) -> None:
        core = self._require_connection()
        if core is None:
            return
        core.loop.submit(self._send(core, payload))

    async def _send(self, core: ClientCore, payload: str | bytes) -> None:
        try:
            await core.send(payload)
        except Exception as error:
            self.note("✗", "error", f"Not sent: {error}")
            return
        self.sent += 1
        self._note_message("→", payload)

    def close(self, code: int, reason: str) -> None:
        core = self._require_connection()
        if core is not None:
            self._ending = True
            core.loop.submit(self._end(core.close(code, reason), core))

    def drop(self) -> None:
        core = self._require_connection()
        if core is not None:
            self._ending = True
            core.loop.submit(self._end(core.drop(), core))

    async def _end(self, ending: Any, core: ClientCore) -> None:
        """Close or drop, then log it: the view redraws once the state has changed."""
        try:
            await ending
        except Exception as error:
            self.note("✗", "error", f"Could not close: {error}")
            return
        if core.closed_by == "dropped":
            self.note("•", "close", "dropped: the connection ended with no close frame (1006)")
        else:
            self._note_close(core.close_code, core.close_reason, "client")

    def leave(self) -> None:
        """The panel is going away: close an open connection with 1001 (Going Away)."""
        if self.connected:
            self.close(1001, "the panel was closed")

    def _require_connection(self) -> ClientCore | None:
        if not self.connected:
            why = "Still connecting: wait" if self.busy else "Not connected: press Connect first"
            self.note("✗", "error", why + ".")
            return None
        return self.core


def _row(*children: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(list(children), layout=widgets.Layout(align_items="center"))


class ClientView(widgets.VBox):
    """The widgets of one client: connect, send, close, drop, and its log."""

    def __init__(self, model: ClientModel, title: str = "Client") -> None:
        self.model = model
        small = widgets.Layout(width="auto")
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>")
        self.path = widgets.Combobox(
            value="/echo" if "/echo" in model.playground.routes else "",
            placeholder="/path",
            options=tuple(model.playground.routes),
            description="Path",
            style=LABEL,
            ensure_option=False,
        )
        self.headers = widgets.Text(
            placeholder="x-token: abc; x-user: ann", description="Headers", style=LABEL
        )
        self.subprotocols = widgets.Text(
            placeholder="chat.v2, chat.v1", description="Subprotocols", style=LABEL
        )
        self.connect_button = widgets.Button(
            description="Connect", button_style="primary", layout=small
        )
        self.connect_error = widgets.HTML()
        self.mode = widgets.ToggleButtons(
            options=PAYLOAD_MODES, value="text", style={"button_width": "56px"}
        )
        self.bytes_format = widgets.Dropdown(
            options=BYTES_FORMATS, value="hex", layout=widgets.Layout(width="90px")
        )
        self.payload = widgets.Textarea(
            placeholder="hello", layout=widgets.Layout(width="98%", height="56px")
        )
        self.send_button = widgets.Button(description="Send", layout=small)
        self.send_error = widgets.HTML()
        self.code = widgets.Text(
            value="1000", description="Code", layout=widgets.Layout(width="140px")
        )
        self.reason = widgets.Text(placeholder="reason", layout=widgets.Layout(width="160px"))
        self.close_button = widgets.Button(description="Close", layout=small)
        self.drop_button = widgets.Button(
            description="Drop",
            button_style="warning",
            layout=small,
            tooltip="End with no close frame (1006)",
        )
        self.close_error = widgets.HTML()
        self.status = widgets.HTML()
        self.log_view = widgets.HTML(layout=widgets.Layout(max_height="220px", overflow="auto"))
        self.bytes_format.layout.display = "none"
        self.mode.observe(self._mode_changed, names="value")
        self.connect_button.on_click(lambda _: self.on_connect())
        self.send_button.on_click(lambda _: self.on_send())
        self.close_button.on_click(lambda _: self.on_close())
        self.drop_button.on_click(lambda _: self.model.drop())
        self._drawn = -1
        super().__init__(
            [
                self.title,
                self.path,
                self.headers,
                self.subprotocols,
                _row(self.connect_button, self.status),
                self.connect_error,
                _row(self.mode, self.bytes_format),
                self.payload,
                _row(self.send_button, self.send_error),
                _row(self.code, self.reason, self.close_button, self.drop_button),
                self.close_error,
                self.log_view,
            ],
            layout=widgets.Layout(
                border="1px solid #ccc",
                padding="6px",
                margin="2px",
                min_width="360px",
                flex="1 1 0",
            ),
        )
        self.refresh()

    def _mode_changed(self, change: dict[str, Any]) -> None:
        self.bytes_format.layout.display = "" if change["new"] == "bytes" else "none"

    # --- callbacks: check the boxes, show what is wrong next to them, or act -----------
    def on_connect(self) -> None:
        try:
            path = parse_path(self.path.value)
            headers = parse_headers(self.headers.value)
            subprotocols = parse_subprotocols(self.subprotocols.value)
        except InputError as error:
            self.connect_error.value = _error_html(error)
            return
        self._clear_input_errors()
        self.model.connect(path, headers, subprotocols)

    def on_send(self) -> None:
        try:
            payload = parse_payload(self.mode.value, self.payload.value, self.bytes_format.value)
        except InputError as error:
            self.send_error.value = _error_html(error)
            return
        self._clear_input_errors()
        self.model.send(payload)

    def on_close(self) -> None:
        try:
            code = parse_close_code(self.code.value)
            reason = parse_close_reason(self.reason.value)
        except InputError as error:
            self.close_error.value = _error_html(error)
            return
        self._clear_input_errors()
        self.model.close(code, reason)

    # --- drawing: called by the panel's refresher thread only --------------------------
    def refresh(self) -> None:
        version = self.model.version
        if version == self._drawn:
            return
        self._drawn = version
        connected = self.model.connected
        core = self.model.core
        with self.hold_sync():
            self.status.value = self._status_html(connected, core)
            self.connect_button.disabled = self.model.busy
            for button in (self.send_button, self.close_button, self.drop_button):
                button.disabled = not connected
            self.log_view.value = render_log(self.model.log())

    def _status_html(self, connected: bool, core: ClientCore | None) -> str:
        if connected and core:
            return (
                f"<span style='color:green'>● open #{core.id}</span> "
                f"<small>sent {self.model.sent}, received {self.model.received}</small>"
            )
        if self.model.busy:
            return "<span style='color:gray'>… connecting</span>"
        log = self.model.log()
        if log and log[-1].direction == "✗":  # why the last attempt failed, where one looks
            return f"<span style='color:#b00'>✗ {html.escape(log[-1].text)}</span>"
        return "<span style='color:gray'>○ not connected</span>"

    def _clear_input_errors(self) -> None:
        for label in (self.connect_error, self.send_error, self.close_error):
            label.value = ""

    def set_routes(self, routes: list[str]) -> None:
        if tuple(routes) != self.path.options:
            self.path.options = tuple(routes)


def _error_html(error: Exception) -> str:
    return f"<span style='color:#b00'>⚠ {html.escape(str(error))}</span>"


def render_log(lines: list[LogLine], limit: int = 200) -> str:
    """The newest ``limit`` log lines, newest first, as an HTML table (time, direction, type,
    size, data): the latest line is always in view."""
    rows = []
    for line in reversed(lines[-limit:]):
        stamp = time.strftime("%H:%M:%S", time.localtime(line.time))
        stamp += f".{int(line.time * 1000) % 1000:03d}"
        size = "" if line.size is None else f"{line.size} B"
        color = {"→": "#1565c0", "←": "#2e7d32", "✗": "#b00"}.get(line.direction, "#555")
        rows.append(
            f"<tr style='color:{color}'><td>{stamp}</td><td>{line.direction}</td>"
            f"<td>{line.kind}</td><td style='white-space:nowrap'>{size}</td>"
            f"<td class='wsplay-log-text'>{html.escape(line.text)}</td></tr>"
        )
    return (
        "<table class='wsplay-log' style='font-family:monospace;font-size:12px'>"
        + "".join(rows)
        + "</table>"
    )
