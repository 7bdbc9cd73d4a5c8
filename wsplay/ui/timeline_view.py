"""The timeline drawn as a sequence diagram: client on the left, server on the right.

An anywidget: its JavaScript is inline (no CDN), so it works offline and on Binder. Python
replaces the ``events`` list as a whole (never appends in place), so the browser always
sees a consistent picture.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from ..runtime.timeline import Event

_ESM = r"""
function arrow(row, ev) {
  const lane = document.createElement("div");
  lane.className = "wsp-lane";
  const label = document.createElement("div");
  label.className = "wsp-label";
  label.textContent = ev.label;
  const line = document.createElement("div");
  line.className = "wsp-line " + ev.arrow;
  lane.appendChild(label);
  lane.appendChild(line);
  row.appendChild(lane);
}

function render({ model, el }) {
  el.classList.add("wsplay-timeline");
  // The Jupyter page's own address: the playground lets pages of this origin connect.
  if (model.get("page_url") !== window.location.href) {
    model.set("page_url", window.location.href);
    model.save_changes();
  }
  const draw = () => {
    const events = model.get("events");
    el.innerHTML = "";
    const head = document.createElement("div");
    head.className = "wsp-row wsp-head";
    head.innerHTML = "<div>time</div><div>#</div><div class='wsp-ends'>" +
      "<span>client</span><span>server</span></div>";
    el.appendChild(head);
    if (events.length === 0) {
      const empty = document.createElement("div");
      empty.className = "wsp-empty";
      empty.textContent = "No conversation yet: connect a client.";
      el.appendChild(empty);
    }
    for (const ev of events) {
      const row = document.createElement("div");
      row.className = "wsp-row wsp-" + ev.kind;
      row.title = ev.title;
      const time = document.createElement("div");
      time.className = "wsp-time";
      time.textContent = ev.time;
      const conn = document.createElement("div");
      conn.className = "wsp-conn";
      conn.textContent = "#" + ev.connection;
      row.appendChild(time);
      row.appendChild(conn);
      arrow(row, ev);
      el.appendChild(row);
    }
    el.scrollTop = el.scrollHeight;
  };
  model.on("change:events", draw);
  draw();
}
export default { render };
"""

_CSS = """
.wsplay-timeline { font: 12px monospace; max-height: 320px; overflow: auto;
  border: 1px solid #ccc; padding: 4px; background: #fff; color: #222; }
.wsplay-timeline .wsp-row { display: grid; grid-template-columns: 90px 36px minmax(0, 1fr);
  align-items: center; min-height: 26px; }
.wsplay-timeline .wsp-head { font-weight: bold; border-bottom: 1px solid #ddd; }
.wsplay-timeline .wsp-ends { display: flex; justify-content: space-between; }
.wsplay-timeline .wsp-lane { position: relative; min-width: 0; border-left: 3px solid #999;
  border-right: 3px solid #999; padding: 0 8px; }
.wsplay-timeline .wsp-label { text-align: center; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.wsplay-timeline .wsp-line { height: 0; border-top: 2px solid currentColor; position: relative; }
.wsplay-timeline .wsp-line.right::after { content: "▶"; position: absolute; right: -6px;
  top: -9px; }
.wsplay-timeline .wsp-line.left::before { content: "◀"; position: absolute; left: -6px;
  top: -9px; }
.wsplay-timeline .wsp-line.none { border-top: 2px dotted currentColor; }
.wsplay-timeline .wsp-message .wsp-line.right { color: #1565c0; }
.wsplay-timeline .wsp-message .wsp-line.left { color: #2e7d32; }
.wsplay-timeline .wsp-close, .wsplay-timeline .wsp-reject { color: #8e24aa; }
.wsplay-timeline .wsp-error { color: #b00; font-weight: bold; }
.wsplay-timeline .wsp-warning { color: #8a5300; font-style: italic; }
.wsplay-timeline .wsp-empty { color: #888; padding: 8px; }
"""


def event_to_row(event: Event) -> dict[str, Any]:
    """What the diagram needs of one server-side event: an arrow and a label."""
    direction = "none"
    if event.kind == "message":
        direction = "right" if event.direction == "in" else "left"
        label = f"{event.type} {event.preview!s} ({event.size} B)"
    elif event.kind == "handshake":
        direction = "right"
        offered = f" (offers {event.preview})" if event.preview else ""
        label = f"GET {event.path} Upgrade: websocket{offered}"
    elif event.kind == "accept":
        direction = "left"
        proto = f", subprotocol {event.subprotocol}" if event.subprotocol else ""
        label = f"101 Switching Protocols{proto}"
    elif event.kind == "reject":
        direction = "left"
        label = "403 Forbidden: handshake refused"
    elif event.kind == "close":
        direction = {"client": "right", "server": "left"}.get(event.by or "", "none")
        reason = f" {event.reason!r}" if event.reason else ""
        label = f"close {event.code} {event.meaning.split(':')[0]}{reason} (by {event.by})"
    elif event.kind == "warning":
        label = "⚠ " + event.preview.split(". Meanwhile")[0]
    else:
        label = f"⚠ {event.preview}"
    stamp = f"{_clock(event.time)}"
    return {
        "time": stamp,
        "connection": event.connection,
        "kind": event.kind,
        "arrow": direction,
        "label": label,
        "title": event.describe(),
    }


def _clock(moment: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment * 1000) % 1000:03d}"


class TimelineView(anywidget.AnyWidget):
    """A sequence diagram of the newest events (server side, all connections)."""

    _esm = _ESM
    _css = _CSS
    events = traitlets.List([]).tag(sync=True)
    page_url = traitlets.Unicode("").tag(sync=True)  # where the front end shows this widget

    def show(self, events: list[Event]) -> None:
        self.events = [event_to_row(event) for event in events]
