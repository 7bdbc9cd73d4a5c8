"""One client in the panel: the widgets around a ClientModel (client_model.py).

Compact on purpose (about 300 px before its log, three side by side at 900 px): the
headers and subprotocols, and the repeat, fold away; every problem is said on its own line
under the controls it is about, so it never squeezes a button. The widgets are written by
the panel's refresher thread only (``refresh``), the callbacks only check the boxes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import ipywidgets as widgets

from ..framework.close_codes import CloseCode
from ..framework.exceptions import InvalidPathError
from ..framework.routing import example_path
from ..runtime.clients.kernel import refuse_route_pattern
from .client_model import ClientModel
from .handshake import handshake_html
from .inputs import (
    BYTES_FORMATS,
    PAYLOAD_MODES,
    InputError,
    check_handshake,
    error_html,
    parse_close_code,
    parse_close_reason,
    parse_headers,
    parse_path,
    parse_payload,
    parse_repeat,
    parse_subprotocols,
)
from .log_line import Mark
from .log_view import LogView
from .saved import SavedMessage, SavedMessages

NARROW = {"description_width": "initial"}
# The payload box's hint, per message type: words no learner would type as a message.
PLACEHOLDERS = {
    "text": "type a message…",
    "json": 'type JSON… e.g. {"type": "join"}',
    "bytes": "type bytes… (hex: 68 69)",
}
EMPTY_PAYLOAD = (
    "The payload box is empty, so nothing was sent (the grey italic text is only a hint). Type a "
    "message; to send an empty one on purpose, use await conn.send_text('') in a cell."
)


def _row(*children: widgets.Widget) -> widgets.HBox:
    row = widgets.HBox(list(children))
    row.add_class("wsplay-row")
    return row


def _button(description: str, tooltip: str = "", style: str = "") -> widgets.Button:
    return widgets.Button(
        description=description,
        tooltip=tooltip or description,
        button_style=style,
        layout=widgets.Layout(width="auto"),
    )


def _message() -> widgets.HTML:
    """A line for what went wrong, under the controls it is about (hidden while empty)."""
    label = widgets.HTML()
    label.add_class("wsplay-message")
    return label


_Callback = TypeVar("_Callback", bound=Callable[..., None])


def _inputs_checked(box: str) -> Callable[[_Callback], _Callback]:
    """A button's callback that reads the boxes: what is wrong in them (an InputError) is
    shown in the ``box`` next to them instead of acting."""

    def decorate(callback: _Callback) -> _Callback:
        @wraps(callback)
        def checked(self: Any, *args: Any) -> None:
            try:
                callback(self, *args)
            except InputError as error:
                getattr(self, box).value = error_html(error)

        return checked  # type: ignore[return-value]

    return decorate


class ClientView(widgets.VBox):
    """The widgets of one client: connect, send, ping, repeat, saved, close, drop, log."""

    def __init__(self, model: ClientModel, title: str = "Client") -> None:
        self.model = model
        self.title_text = title
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>")
        # Wired by the panel, which holds the clients (an open connection closes with 1001).
        self.remove_button = _button("✕", "Remove this client (an open connection closes)")
        self.remove_button.add_class("wsp-remove-client")
        self.status = widgets.HTML()
        self.path = widgets.Combobox(
            value="/echo" if "/echo" in model.playground.routes else "",
            placeholder="/path",
            options=_example_paths(model.playground.routes),
            ensure_option=False,
            layout=widgets.Layout(
                flex="1 1 90px", width="auto", min_width="90px", max_width="420px"
            ),
        )
        self.path.add_class("wsplay-path")  # the route list puts a path in it (route_list.js)
        self.connect_button = _button("Connect", style="primary")
        self.options_button = widgets.ToggleButton(
            description="Headers…",
            tooltip="Headers and subprotocols of the handshake",
            layout=widgets.Layout(width="auto"),
        )
        self.headers = widgets.Text(
            placeholder="x-token: abc; x-user: ann",
            description="Headers",
            style=NARROW,
            layout={"width": "98%"},
        )
        self.subprotocols = widgets.Text(
            placeholder="chat.v2, chat.v1",
            description="Subprotocols",
            style=NARROW,
            layout={"width": "98%"},
        )
        self.options = widgets.VBox([self.headers, self.subprotocols])
        self.connect_error = _message()
        self.mode = widgets.ToggleButtons(
            options=PAYLOAD_MODES, value="text", style={"button_width": "auto"}
        )
        self.bytes_format = widgets.Dropdown(
            options=BYTES_FORMATS, value="hex", layout=widgets.Layout(width="80px")
        )
        self.payload = widgets.Textarea(
            placeholder=PLACEHOLDERS["text"], layout=widgets.Layout(width="98%", height="40px")
        )
        self.payload.add_class("wsplay-payload")
        self.send_button = _button("Send", "Send the payload box")
        self.ping_button = _button("Ping", "Send a ping; the pong's round trip goes in the log")
        self.repeat_button = widgets.ToggleButton(
            description="Repeat…",
            tooltip="Send the payload every N ms, K times",
            layout=widgets.Layout(width="auto"),
        )
        self.send_error = _message()
        self.repeat_every = widgets.Text(
            value="500", description="every (ms)", style=NARROW, layout={"width": "130px"}
        )
        self.repeat_times = widgets.Text(
            value="10", description="times", style=NARROW, layout={"width": "100px"}
        )
        self.repeat_start = _button("Start repeating")
        self.repeat_stop = _button("Stop", "Stop repeating")
        self.repeat_status = widgets.HTML()
        self.repeat = widgets.VBox(
            [
                _row(self.repeat_every, self.repeat_times, self.repeat_start, self.repeat_stop),
                self.repeat_status,
            ]
        )
        self.saved = SavedMessages(title, self._saved_current, self.send_saved)
        self.code = widgets.Text(
            value=str(CloseCode.NORMAL_CLOSURE.value),
            description="Code",
            style=NARROW,
            layout={"width": "100px"},
        )
        self.reason = widgets.Text(placeholder="reason", layout={"width": "110px"})
        self.close_button = _button("Close", "Close with this code and reason")
        self.drop_button = _button("Drop", "End with no close frame (the server sees 1006)")
        self.close_error = _message()
        self.handshake = widgets.HTML()
        self.log_view = LogView()
        for folded in (self.options, self.repeat):
            folded.layout.display = "none"
        self.bytes_format.layout.display = "none"
        self.mode.observe(self._mode_changed, names="value")
        self.options_button.observe(lambda c: self._fold(self.options, c["new"]), names="value")
        self.repeat_button.observe(lambda c: self._fold(self.repeat, c["new"]), names="value")
        self.connect_button.on_click(lambda _: self.on_connect())
        self.send_button.on_click(lambda _: self.on_send())
        self.ping_button.on_click(lambda _: self.on_ping())
        self.repeat_start.on_click(lambda _: self.on_repeat())
        self.repeat_stop.on_click(lambda _: self.model.stop_repeat())
        self.close_button.on_click(lambda _: self.on_close())
        self.drop_button.on_click(lambda _: self.on_drop())
        self._drawn = -1
        self._drawn_handshake: Any = None
        super().__init__(
            [
                _row(self.title, self.status, self.remove_button),
                _row(self.path, self.connect_button, self.options_button),
                self.options,
                self.connect_error,
                _row(self.mode, self.bytes_format),
                self.payload,
                _row(self.send_button, self.ping_button, self.repeat_button),
                self.send_error,
                self.repeat,
                self.saved,
                _row(self.code, self.reason, self.close_button, self.drop_button),
                self.close_error,
                self.handshake,
                self.log_view,
            ],
            layout=widgets.Layout(
                border="1px solid #ccc",
                padding="4px",
                min_width="0",
            ),
        )
        self.add_class("wsplay-client")
        self.refresh()

    def _mode_changed(self, change: dict[str, Any]) -> None:
        self.bytes_format.layout.display = "" if change["new"] == "bytes" else "none"
        self.payload.placeholder = PLACEHOLDERS[change["new"]]

    @staticmethod
    def _fold(part: widgets.Widget, shown: bool) -> None:
        part.layout.display = "" if shown else "none"

    # --- callbacks: check the boxes, show what is wrong next to them, or act -----------
    @_inputs_checked("connect_error")
    def on_connect(self) -> None:
        path = parse_path(self.path.value)
        try:
            refuse_route_pattern(path)
        except InvalidPathError as error:
            raise InputError(str(error)) from None
        headers = parse_headers(self.headers.value)
        subprotocols = parse_subprotocols(self.subprotocols.value)
        check_handshake(headers, subprotocols)
        self._clear_messages()
        self.model.connect(path, headers, subprotocols)

    def _payload(self) -> str | bytes:
        if self.payload.value == "":
            raise InputError(EMPTY_PAYLOAD)
        return parse_payload(self.mode.value, self.payload.value, self.bytes_format.value)

    @_inputs_checked("send_error")
    def on_send(self) -> None:
        payload = self._payload()
        self._clear_messages()
        self.model.send(payload)

    def on_ping(self) -> None:
        self._clear_messages()
        self.model.ping()

    @_inputs_checked("send_error")
    def on_repeat(self) -> None:
        payload = self._payload()
        every, times = parse_repeat(self.repeat_every.value, self.repeat_times.value)
        self._clear_messages()
        self.model.repeat(payload, every, times)

    def _saved_current(self, name: str) -> SavedMessage:
        """The payload box as a message to save (checked now, so it can always be sent)."""
        if not name:
            raise InputError("Type a name for the message first, e.g. greeting.")
        self._payload()
        return SavedMessage(name, self.mode.value, self.payload.value, self.bytes_format.value)

    @_inputs_checked("send_error")
    def send_saved(self, messages: list[SavedMessage]) -> None:
        payloads = [message.payload() for message in messages]
        self._clear_messages()
        self.model.send_many(payloads)

    @_inputs_checked("close_error")
    def on_close(self) -> None:
        code = parse_close_code(self.code.value)
        reason = parse_close_reason(self.reason.value)
        self._clear_messages()
        self.model.close(code, reason)

    def on_drop(self) -> None:
        self._clear_messages()
        self.model.drop()

    # --- drawing: called by the panel's refresher thread only --------------------------
    def refresh(self) -> None:
        self.log_view.refresh(self.model)
        self.saved.redraw()
        version = self.model.version
        if version == self._drawn:
            return
        self._drawn = version
        connected = self.model.connected
        with self.hold_sync():
            self.status.value = self._status_html(connected)
            busy = self.model.busy
            self.connect_button.disabled = busy
            self.connect_button.button_style = "" if busy else "primary"
            for button in (self.send_button, self.ping_button, self.close_button):
                button.disabled = not connected
            self.drop_button.disabled = not connected
            self.drop_button.button_style = "warning" if connected else ""
            self.saved.send_all_button.disabled = not connected
            repeating = self.model.repeating
            running = repeating is not None and not repeating.ended
            self.repeat_start.disabled = running or not connected
            self.repeat_stop.disabled = not running
            self.repeat_status.value = (
                f"<small>{html.escape(repeating.describe())}</small>" if repeating else ""
            )
            if self.model.handshake is not self._drawn_handshake:
                self._drawn_handshake = self.model.handshake
                self.handshake.value = handshake_html(self.model.handshake)

    def _status_html(self, connected: bool) -> str:
        core = self.model.core
        if connected and core:
            return (
                f"<span style='color:green'>● open #{core.id}</span> "
                f"<small>{html.escape(core.path)} · sent {self.model.sent} · "
                f"received {self.model.received}</small>"
            )
        if self.model.busy:
            return "<span style='color:gray'>… connecting</span>"
        last = self.model.last_line()
        if last is not None and last.kind == "refused" and core and core.refusal:
            # The log says why, fix first: said once in the client, not twice.
            return f"<span style='color:#b00'>✗ refused (HTTP {core.refusal.status})</span>"
        if last is not None and last.direction == Mark.FAILURE:  # why the last attempt failed
            return f"<span style='color:#b00'>✗ {html.escape(last.text)}</span>"
        return "<span style='color:gray'>○ not connected</span>"

    def _clear_messages(self) -> None:
        for label in (self.connect_error, self.send_error, self.close_error, self.saved.message):
            label.value = ""

    def set_routes(self, routes: list[str]) -> None:
        """Offer a path each route matches (``/chat/alice``), never the pattern itself."""
        paths = _example_paths(routes)
        if paths != self.path.options:
            self.path.options = paths


def _example_paths(patterns: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(example_path(pattern)[0] for pattern in patterns))
