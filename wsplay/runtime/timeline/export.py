"""The timeline as a picture's rows, and out of the notebook: JSON, a standalone HTML page.

The rows are what the picture (``timeline.js``, drawn by the panel's widget and by the
HTML page alike) needs of each server-side event: its connection's lane, an arrow's
direction and a label. The picture is one file for both, so a page a teacher shares shows
what the class saw, lanes, fan-outs and filters included.

    pg.timeline.to_json("chat.json")
    pg.timeline.to_html("chat.html")      # open it in any browser, no server needed
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...framework.close_codes import CloseCode, ClosedBy
from .kinds import ACCEPT, CLOSE, HANDSHAKE, MESSAGE, PING, PONG, REJECT, SERVER, WARNING, Kind
from .store import Event
from .words import refused_because

if TYPE_CHECKING:
    from .store import Timeline

HERE = Path(__file__).parent
PICTURE_JS = HERE / "timeline.js"
PICTURE_CSS = HERE / "timeline.css"
KINDS = [kind.value for kind in Kind]  # the picture's filter offers these, in this order


def close_explanation(code: int | None, reason: str) -> str:
    """A sentence for closes a learner cannot read from the code alone, else ""."""
    if code == CloseCode.INTERNAL_ERROR and reason == "keepalive ping timeout":
        return (
            "The server pinged and no pong came back within ping_timeout: the client is "
            "gone or stuck (wsplay.start(ping_interval=..., ping_timeout=...) sets both)."
        )
    if code == CloseCode.ABNORMAL_CLOSURE:
        return "No close frame: the TCP connection just ended (a crash, a network cut, a drop)."
    if code == CloseCode.NO_STATUS_RECEIVED:
        return "A close frame with no code in it."
    return ""


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment * 1_000) % 1_000:03d}"


def _label(event: Event) -> tuple[str, str]:
    """(direction, label): "in" toward the server, "out" toward the client, "" neither."""
    kind = event.kind
    if kind == MESSAGE:
        return event.direction or "", f"{event.type} {event.preview!s} ({event.size} B)"
    if kind == HANDSHAKE:
        offered = f" (offers {event.preview})" if event.preview else ""
        query = f"?{event.query}" if event.query else ""
        return "in", f"GET {event.path}{query} Upgrade: websocket{offered}"
    if kind == ACCEPT:
        proto = f", subprotocol {event.subprotocol}" if event.subprotocol else ""
        return "out", f"101 Switching Protocols{proto}"
    if kind == REJECT:
        return "out", f"{event.code or 403} handshake refused{refused_because(event)}"
    if kind == CLOSE:
        direction = {"client": "in", "server": "out"}.get(event.by or "", "")
        reason = f" {event.reason!r}" if event.reason else ""
        who = "dropped, no close frame" if event.by == ClosedBy.DROPPED else f"by {event.by}"
        if event.asked_by_words:
            who += f", {event.asked_by_words}"
        # A close frame the server refused stays next to the answer: "999 → close 1002 ...".
        refused = f"{event.peer_code} → " if event.peer_code is not None else ""
        meaning = event.meaning.split(":")[0]
        return direction, f"{refused}close {event.code} {meaning}{reason} ({who})"
    if kind in (PING, PONG):
        extra = f" ({event.preview})" if event.preview else ""
        return event.direction or "", f"{kind}{extra}"
    if kind == WARNING:
        return "", "⚠ " + event.preview.split(". Meanwhile")[0]
    return "", f"⚠ {event.preview}"


def event_row(event: Event) -> dict[str, Any]:
    """What the picture needs of one event (JSON)."""
    direction, label = _label(event)
    title = event.describe()
    if event.kind == CLOSE:
        explained = close_explanation(event.code, event.reason)
        if explained:
            title += f". {explained}"
    row = {
        "time": event.time,
        "t": _clock(event.time),
        "conn": event.connection,
        "kind": event.kind,
        "dir": direction,
        "label": label,
        "title": title,
    }
    if event.kind == CLOSE and event.by == ClosedBy.DROPPED:
        row["dropped"] = True
    return row


@dataclass(frozen=True)
class RowFilter:
    """Which rows to show: by connection, direction, kind and text (empty: any)."""

    connection: int | None = None
    direction: str = ""  # "in" (to the server) or "out" (to the client)
    kind: str = ""
    text: str = ""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RowFilter:
        connection = values.get("connection")
        try:
            connection = int(connection) if connection not in (None, "") else None
        except (TypeError, ValueError):
            connection = None
        return cls(
            connection,
            str(values.get("direction") or ""),
            str(values.get("kind") or ""),
            str(values.get("text") or ""),
        )

    @property
    def active(self) -> bool:
        return self != RowFilter()

    def matches(self, row: dict[str, Any]) -> bool:
        """The same test as the picture's own (timeline.js, ``matches``)."""
        if self.connection is not None and row["conn"] != self.connection:
            return False
        if self.direction and row["dir"] != self.direction:
            return False
        if self.kind and row["kind"] != self.kind:
            return False
        text = self.text.strip().lower()
        return not text or text in (row["label"] + " " + row["title"]).lower()


def _server_rows(timeline: Timeline) -> list[dict[str, Any]]:
    return [event_row(event) for event in timeline.events() if event.side == SERVER]


def _paths(timeline: Timeline) -> dict[int, str]:
    return {
        event.connection: event.path or ""
        for event in timeline.events(kind=HANDSHAKE)
        if event.side == SERVER
    }


def to_json(timeline: Timeline, path: str | Path) -> Path:
    """Write every kept event of both sides, oldest first, as JSON; returns the path."""
    target = Path(path)
    events = [_event_json(event) for event in timeline.events()]
    document = {
        "wsplay_timeline": 1,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "recorded": timeline.recorded,
        "kept": len(events),
        "events": events,
    }
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _event_json(event: Event) -> dict[str, Any]:
    """An event's fields that say something (no empty ones), and a close code's meaning."""
    fields = {name: value for name, value in event._asdict().items() if value not in (None, "", ())}
    fields.pop("data", None)  # a message's start: the preview shows it (bytes in hex)
    if event.kind == CLOSE:
        fields["meaning"] = event.meaning
    return fields


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 14px sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
.wsp-export-note {{ color: #555; margin: 0 0 10px; }}
{css}
.wsplay-timeline .wsp-scroll {{ max-height: calc(100vh - 130px); }}
</style></head>
<body>
<h1>{title}</h1>
<p class="wsp-export-note">{note}</p>
<div id="timeline"></div>
<script id="wsplay-rows" type="application/json">{rows}</script>
<script>
{js}
(function () {{
  const rows = JSON.parse(document.getElementById("wsplay-rows").textContent);
  window.wsplayTimeline.standalone(document.getElementById("timeline"), rows, {paths}, {kinds});
}})();
</script>
</body></html>
"""


def to_html(timeline: Timeline, path: str | Path, title: str = "A WebSocket conversation") -> Path:
    """Write a standalone page with the picture of every kept server-side event."""
    target = Path(path)
    rows = _server_rows(timeline)
    for seq, row in enumerate(rows, 1):
        row["seq"] = seq
    connections = len({row["conn"] for row in rows if row["conn"]})
    note = (
        f"{len(rows)} events on {connections} connection{'s' * (connections != 1)}, "
        f"exported by wsplay on {time.strftime('%Y-%m-%d %H:%M')}. Each lane is a "
        "connection, the server is on the left; hover over an arrow for its details."
    )
    # The picture is an ES module for anywidget; here it runs as a plain script.
    script = (
        PICTURE_JS.read_text(encoding="utf-8")
        .replace("export function ", "function ")
        .replace("export default { render };", "window.wsplayTimeline = { render, standalone };")
    )
    page = _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        css=PICTURE_CSS.read_text(encoding="utf-8"),
        js=script,
        rows=_script_json(rows),
        paths=_script_json({str(k): v for k, v in _paths(timeline).items()}),
        kinds=_script_json(KINDS),
    )
    target.write_text(page, encoding="utf-8")
    return target


# Inside a <script> element, "</script>" ends it and "<!--<script>" makes the parser skip
# the real end: no "<" (nor ">", "&") may stay as it is. U+2028 and U+2029 end a line in
# older JavaScript. Each becomes its \u escape, which JSON.parse reads back the same.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: nothing in it can end the element or
    change how the page's parser reads it."""
    return json.dumps(value, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
