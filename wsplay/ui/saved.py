"""Saved messages: a payload kept under a name, re-sent with one click.

Each client keeps its own, in a store of this module (so they outlive the panel: re-running
``wsplay.panel()``, or a new panel after a restart of the playground, finds them again).
Messages passed in with ``wsplay.panel(messages={...})`` are offered in every client.

    wsplay.panel(messages={"hi": "hello", "join": {"type": "join"}, "ping": b"\\x01"})
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from .inputs import InputError, error_html, parse_payload

MAX_SAVED = 50  # per client: a row of buttons, not a database


@dataclass(frozen=True)
class SavedMessage:
    """A payload as typed: its mode (text, bytes, json), its text, and how bytes are written."""

    name: str
    mode: str
    text: str
    bytes_format: str = "hex"

    def payload(self) -> str | bytes:
        return parse_payload(self.mode, self.text, self.bytes_format)

    def describe(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:60] + "…"
        extra = f" ({self.bytes_format})" if self.mode == "bytes" else ""
        return f"{self.mode}{extra}: {shown}"


def saved_message(name: object, value: Any) -> SavedMessage:
    """``value`` from ``panel(messages=...)`` as a SavedMessage: str is text, bytes are
    bytes, anything JSON can write (dict, list, number, bool, None) is JSON."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"A saved message needs a name (a non-empty str), not {name!r}.")
    if isinstance(value, SavedMessage):
        return value
    if isinstance(value, str):
        return SavedMessage(name, "text", value)
    if isinstance(value, bytes | bytearray):
        return SavedMessage(name, "bytes", bytes(value).hex(" "), "hex")
    try:
        text = json.dumps(value, ensure_ascii=False)
    except TypeError:
        raise TypeError(
            f"Saved message {name!r}: {type(value).__name__} is not text, bytes or JSON. "
            "Pass a str, bytes, or a dict/list/number of JSON values."
        ) from None
    return SavedMessage(name, "json", text)


_own: dict[str, dict[str, SavedMessage]] = {}  # client title -> name -> message
_offered: dict[str, SavedMessage] = {}  # from panel(messages=...), in every client
_changes = [0]  # bumped on every change of the store: a redraw with nothing new is free


def offer(messages: dict[str, Any]) -> None:
    """Offer ``messages`` (name -> value) in every client of every panel."""
    checked = {name: saved_message(name, value) for name, value in messages.items()}
    _offered.update(checked)
    _changes[0] += 1


def _button(description: str, tooltip: str) -> widgets.Button:
    return widgets.Button(
        description=description, tooltip=tooltip, layout=widgets.Layout(width="auto")
    )


class SavedMessages(widgets.VBox):
    """A client's saved messages: name box, Save, Send all, and one button per message."""

    def __init__(
        self,
        owner: str,
        current: Callable[[str], SavedMessage],
        send: Callable[[list[SavedMessage]], None],
    ) -> None:
        self.owner = owner
        self._make_message = current
        self._send_messages = send
        self.name = widgets.Text(placeholder="name", layout=widgets.Layout(width="90px"))
        self.save_button = _button("Save", "Save the payload box under this name")
        self.send_all_button = _button("Send all", "Send every saved message, in order")
        self.message = widgets.HTML()
        self.message.add_class("wsplay-message")
        self.chips: tuple[widgets.HBox, ...] = ()
        self.save_button.on_click(lambda _: self.on_save())
        self.send_all_button.on_click(lambda _: self.on_send(list(self.messages().values())))
        # One wrapping row: the chips follow the boxes while there is room.
        self.row = widgets.HBox([self.name, self.save_button, self.send_all_button])
        self.row.add_class("wsplay-row")
        self._drawn: tuple[SavedMessage, ...] | None = None
        self._drawing = threading.Lock()  # the refresher and a click may both redraw
        self._seen_changes = -1
        super().__init__([self.row, self.message])
        self.add_class("wsplay-saved")
        self.redraw()

    def messages(self) -> dict[str, SavedMessage]:
        """Offered ones first, then this client's own (which win on a shared name)."""
        return {**_offered, **_own.get(self.owner, {})}

    def on_save(self) -> None:
        try:
            message = self._make_message(self.name.value.strip())
        except InputError as error:
            self.message.value = error_html(error)
            return
        own = _own.setdefault(self.owner, {})
        if message.name not in own and len(own) >= MAX_SAVED:
            self.message.value = error_html(f"{MAX_SAVED} are saved already: remove one (✕).")
            return
        own[message.name] = message
        _changes[0] += 1
        self.message.value = ""
        self.name.value = ""
        self.redraw()

    def on_send(self, messages: list[SavedMessage]) -> None:
        if not messages:
            self.message.value = error_html("Nothing saved yet: type a name and press Save.")
            return
        self.message.value = ""
        self._send_messages(messages)

    def remove(self, name: str) -> None:
        _own.get(self.owner, {}).pop(name, None)
        _offered.pop(name, None)
        _changes[0] += 1
        self.redraw()

    def redraw(self) -> None:
        with self._drawing:
            self._redraw()

    def _redraw(self) -> None:
        if self._seen_changes == _changes[0]:
            return
        self._seen_changes = _changes[0]
        drawn = tuple(self.messages().values())
        if drawn == self._drawn:
            return
        self._drawn = drawn
        chips = []
        for message in drawn:
            send = _button(f"▶ {message.name}", message.describe())
            send.on_click(lambda _, chosen=message: self.on_send([chosen]))
            remove = _button("✕", f"Forget {message.name!r}")
            remove.on_click(lambda _, name=message.name: self.remove(name))
            chip = widgets.HBox([send, remove])
            chip.add_class("wsplay-chip")
            chips.append(chip)
        old, self.chips = self.chips, tuple(chips)
        self.row.children = [self.name, self.save_button, self.send_all_button, *chips]
        for chip in old:  # their comms would outlive them
            for button in chip.children:
                button.close()
            chip.close()
