"""A recorded conversation as a pytest file: ``pg.timeline.to_test("test_chat.py")``.

The file replays the client side of each recorded conversation with
``wsplay.testing.TestClient`` (in process, no network) in the order the server saw it:
it opens the same connections, sends what the clients sent, and asserts every reply the
server sent, and how it closed. Green against the handlers that were recorded; red, with
pytest's own diff, when a reply changes.

The app comes from the notebook: its handlers are written next to the test by
``pg.export`` (``test_chat.py`` imports ``chat_app.py``), or from a module you name:
``to_test(path, app="myproject.server:app")``.

What the timeline cannot give back is said, not guessed: a message a client sent that is
longer than the timeline's preview (80 characters, 40 bytes) cannot be replayed (the error
names it); a longer reply is checked by its start and its length.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..framework import Application, Router
from ..framework.close_codes import is_sendable_close_code
from .timeline import (
    _PREVIEW_BYTES,
    ACCEPT,
    CLOSE,
    HANDSHAKE,
    MESSAGE,
    PREVIEW_CHARS,
    REJECT,
    Event,
)

if TYPE_CHECKING:
    from .timeline import Timeline

# What every client library adds to a handshake: not the learner's, not replayed.
_HANDSHAKE_HEADERS = {
    "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
    "sec-websocket-extensions", "sec-websocket-protocol", "x-wsplay-connection", "user-agent",
    "accept-encoding", "accept-language", "cache-control", "pragma", "origin", "cookie", "…",
}  # fmt: skip


class ReplayError(ValueError):
    """The recording cannot become a faithful test; the message says which part and why."""


@dataclass
class WrittenTest:
    """What ``to_test`` wrote: the file, its tests, the app it imports, what was left out."""

    path: Path
    app_import: str
    tests: list[str]
    connections: list[int]
    left_out: list[tuple[int, str]] = field(default_factory=list)  # (connection, why)
    app_file: Path | None = None

    def __str__(self) -> str:
        lines = [
            f"Wrote {self.path}: {len(self.tests)} test(s) replaying connection(s) "
            f"{', '.join(f'#{c}' for c in self.connections)}, against {self.app_import}."
        ]
        if self.app_file is not None:
            lines.append(f"The notebook's handlers are in {self.app_file} (pg.export).")
        lines += [f"Left out #{connection}: {why}." for connection, why in self.left_out]
        lines.append(f"Run it with:  pytest {self.path}")
        return "\n".join(lines)

    __repr__ = __str__


@dataclass
class _Step:
    conn: int
    action: str  # open, refused, send, receive, close, drop, closed
    fields: dict[str, Any]


@dataclass
class _Connection:
    id: int
    path: str
    headers: list[tuple[str, str]]
    subprotocols: list[str]
    first: int  # index of its first step in the script, and of its last
    last: int = 0
    name: str = ""


def _payload(event: Event) -> tuple[str | bytes, bool]:
    """The message's data and whether it is whole (the timeline keeps only a preview)."""
    if event.type == "text":
        if event.size <= PREVIEW_CHARS:
            return event.preview, True
        return event.preview.removesuffix("…"), False
    return bytes.fromhex(event.preview.removesuffix(" …")), event.size <= _PREVIEW_BYTES


def _script(events: list[Event], wanted: set[int] | None) -> tuple[list[_Step], dict, list]:
    """The server-side steps of every connection whose start is still kept, in order."""
    client_side = {e.connection: e for e in events if e.side == "client" and e.kind == HANDSHAKE}
    steps: list[_Step] = []
    connections: dict[int, _Connection] = {}
    left_out: dict[int, str] = {}
    for event in events:
        conn = event.connection
        if event.side != "server" or conn == 0 or (wanted is not None and conn not in wanted):
            continue
        if conn in left_out:
            continue
        if event.kind == HANDSHAKE:
            own = client_side.get(conn)
            path = own.path if own is not None and own.path else event.path or "/"
            source = own.headers if own is not None else event.headers
            headers = [(n, v) for n, v in source if n.lower() not in _HANDSHAKE_HEADERS]
            offered = [p.strip() for p in event.preview.split(",") if p.strip()]
            connections[conn] = _Connection(conn, path, headers, offered, len(steps))
            steps.append(_Step(conn, "open", {}))
            continue
        if conn not in connections:
            left_out[conn] = "its handshake is no longer in the timeline (it keeps the newest "
            left_out[conn] += "events only)"
            continue
        step = _step(event, connections[conn])
        if step is None:
            continue
        if step.action == "refused" and event.reason.startswith("Origin "):
            left_out[conn] = f"{event.reason}: the Origin check is the playground's, not the app's"
            continue
        steps.append(step)
    steps = [step for step in steps if step.conn not in left_out]
    for index, step in enumerate(steps):
        connections[step.conn].last = index
    kept = {c: connections[c] for c in connections if c not in left_out}
    return steps, kept, sorted(left_out.items())


def _step(event: Event, connection: _Connection) -> _Step | None:
    conn = event.connection
    if event.kind == ACCEPT:
        return _Step(conn, "accepted", {"subprotocol": event.subprotocol})
    if event.kind == REJECT:
        return _Step(conn, "refused", {"status": event.code or 403})
    if event.kind == MESSAGE and event.direction == "in":
        data, whole = _payload(event)
        if not whole:
            raise ReplayError(
                f"Connection #{conn} ({connection.path}) sent a {event.size}-"
                f"{'character' if event.type == 'text' else 'byte'} {event.type} message, "
                f"and the timeline keeps only its start ({event.preview!r}): a replay would "
                f"send something else. Leave it out with connections=[...] (without {conn}), "
                f"or record messages of at most {PREVIEW_CHARS} characters or "
                f"{_PREVIEW_BYTES} bytes."
            )
        return _Step(conn, "send", {"data": data})
    if event.kind == MESSAGE:
        data, whole = _payload(event)
        return _Step(conn, "receive", {"data": data, "whole": whole, "size": event.size})
    if event.kind == CLOSE and event.by == "client":
        return _Step(conn, "close", {"code": event.code, "reason": event.reason})
    if event.kind == CLOSE and event.by == "dropped":
        return _Step(conn, "drop", {})
    if event.kind == CLOSE:
        return _Step(conn, "closed", {"code": event.code, "reason": event.reason})
    return None  # pings, pongs, errors and warnings are not replayed


def _conversations(connections: dict[int, _Connection]) -> list[list[_Connection]]:
    """Connections that were open at the same time make one conversation (one test)."""
    groups: list[list[_Connection]] = []
    for connection in sorted(connections.values(), key=lambda c: c.first):
        if groups and connection.first <= max(c.last for c in groups[-1]):
            groups[-1].append(connection)
        else:
            groups.append([connection])
    return groups


def _name(connection: _Connection) -> str:
    """``ws3_alice`` for #3 /chat/alice: the id, and the path's last word to read by."""
    tail = re.sub(r"\W+", "_", connection.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
    tail = tail.strip("_").lower()
    return f"ws{connection.id}_{tail}" if tail else f"ws{connection.id}"


def _runs(steps: list[_Step]) -> list[int]:
    """For each step, how many receives of its connection follow in a row, itself included."""
    left = [0] * len(steps)
    following: dict[int, int] = {}
    for index in range(len(steps) - 1, -1, -1):
        step = steps[index]
        following[step.conn] = following.get(step.conn, 0) + 1 if step.action == "receive" else 0
        left[index] = following[step.conn]
    return left


def _render_test(number: int, group: list[_Connection], steps: list[_Step]) -> list[str]:
    ids = {c.id for c in group}
    mine = [step for step in steps if step.conn in ids]
    by_id = {c.id: c for c in group}
    for connection in group:
        connection.name = _name(connection)
    refused = {step.conn: step.fields["status"] for step in mine if step.action == "refused"}
    slug = re.sub(r"\W+", "_", group[0].path.split("?")[0]).strip("_").lower() or "root"
    described = ", ".join(f"#{c.id} {c.path}" for c in group)
    lines = [
        f"def test_conversation_{number}_{slug}():",
        f'    """{described}."""',
        "    with TestClient(app, timeout=TIMEOUT) as client, ExitStack() as stack:",
    ]
    body: list[str] = []
    # A connection's handler can learn of another one's end at any moment: the replies
    # that follow such an end, several in a row, are checked in any order.
    other_ended = dict.fromkeys(ids, False)
    held: dict[int, list[_Step]] = {}
    for step, run in zip(mine, _runs(mine), strict=True):
        connection = by_id[step.conn]
        if step.action == "receive":
            if step.conn in held or (other_ended[step.conn] and run > 1):
                held.setdefault(step.conn, []).append(step)
                if run == 1:  # the last of the run
                    body += _any_order(connection.name, held.pop(step.conn))
            else:
                body.append(_receive(connection.name, step, connection))
            other_ended[step.conn] = False
            continue
        if step.action in ("close", "drop", "closed"):
            for other in ids - {step.conn}:
                other_ended[other] = True
        if step.conn in refused and step.action != "open":
            continue  # a refused handshake has nothing after it
        body += _action(connection.name, step, connection, refused.get(step.conn))
    return lines + [f"        {line}" for line in body] + [""]


def _action(ws: str, step: _Step, connection: _Connection, refused: int | None) -> list[str]:
    """The lines of one step; ``refused``: the HTTP status its handshake got, if refused."""
    if step.action == "open" and refused is not None:
        return [
            f"# #{connection.id}: {connection.path}, refused",
            "with pytest.raises(HandshakeRejectedError) as refused:",
            f"    stack.enter_context(client.websocket_connect({_arguments(connection)}))",
            f"assert refused.value.status_code == {refused}",
        ]
    if step.action == "open":
        return [
            f"# #{connection.id}: {connection.path}",
            f"{ws} = stack.enter_context(client.websocket_connect({_arguments(connection)}))",
        ]
    if step.action == "accepted":
        chosen = step.fields["subprotocol"]
        return [f"assert {ws}.accepted_subprotocol == {chosen!r}"] if chosen else []
    if step.action == "send":
        data = step.fields["data"]
        method = "send_text" if isinstance(data, str) else "send_bytes"
        return [f"{ws}.{method}({data!r})"]
    if step.action == "close":
        code, reason = step.fields["code"], step.fields["reason"]
        if is_sendable_close_code(code):
            return [f"{ws}.close({code}, {reason!r})"]
        return [f"{ws}.send({{'type': 'websocket.disconnect', 'code': {code}}})"]
    if step.action == "drop":
        return [f"{ws}.send({{'type': 'websocket.disconnect', 'code': 1006}})  # dropped"]
    code, reason = step.fields["code"], step.fields["reason"]
    check = f"closed.value.code == {code}"
    if code != 1006:  # a dropped connection's reason is each library's own words
        check = f"(closed.value.code, closed.value.reason) == ({code}, {reason!r})"
    return [
        "with pytest.raises(WebSocketClosedError) as closed:",
        f"    {ws}.receive()",
        f"assert {check}, 'how the server closed #{connection.id}'",
    ]


def _arguments(connection: _Connection) -> str:
    arguments = [repr(connection.path)]
    if connection.headers:
        arguments.append(f"headers={connection.headers!r}")
    if connection.subprotocols:
        arguments.append(f"subprotocols={connection.subprotocols!r}")
    return ", ".join(arguments)


def _receive(ws: str, step: _Step, connection: _Connection) -> str:
    data = step.fields["data"]
    method = "receive_text" if isinstance(data, str) else "receive_bytes"
    where = repr(f"a reply on #{connection.id} {connection.path}")
    if step.fields["whole"]:
        return f"assert {ws}.{method}() == {data!r}, {where}"
    kept = (data, step.fields["size"])  # its start, and its whole length
    return f"assert start_and_size({ws}.{method}(), {len(data)}) == {kept!r}, {where}"


def _any_order(ws: str, held: list[_Step]) -> list[str]:
    expected = sorted((step.fields["data"] for step in held), key=repr)
    if all(isinstance(data, str) for data in expected):
        got = f"[{ws}.receive_text() for _ in range({len(held)})]"
    else:
        got = f"[payload({ws}.receive()) for _ in range({len(held)})]"
    return [
        "# Another connection ended meanwhile: the server may send these in either order.",
        f"replies = {got}",
        f"assert sorted(replies, key=repr) == {expected!r}, 'replies on #{held[0].conn}'",
    ]


_HEADER = '''"""Conversations recorded by wsplay on {when}, replayed against {app_import}.

Written by pg.timeline.to_test(). Each test opens the same connections, sends what the
clients sent, in the order the server saw it, and asserts the server's replies and closes:
change a handler's reply and its test fails with the difference. Run:  pytest {name}
"""

import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from wsplay import HandshakeRejectedError, WebSocketClosedError
from wsplay.testing import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the app may sit next to this file
{import_line}

TIMEOUT = {timeout!r}  # seconds any step may wait for the app


def start_and_size(reply, length):
    """A long reply, as the timeline kept it: its start, and its whole length."""
    return reply[:length], len(reply)


def payload(message):
    """What a raw ASGI message from the app carries: text, or bytes."""
    return message["text"] if message.get("text") is not None else message.get("bytes")

'''


def _app_import(timeline: Timeline, target: Path, app: Any) -> tuple[str, str, Path | None]:
    """(the import line, what it imports, the app file written) for ``app``."""
    if isinstance(app, str):
        module, _, attribute = app.partition(":")
        if not module or not attribute or not attribute.isidentifier():
            raise ValueError(f"app is 'module:attribute', e.g. 'chat_app:app', not {app!r}.")
        alias = "" if attribute == "app" else f"{attribute} as app"
        return f"from {module} import {alias or 'app'}", app, None
    if app is None:
        from . import current

        playground = current()
        if playground is None or playground.timeline is not timeline:
            raise ValueError(
                "This timeline is not the kernel playground's, so its app is unknown: "
                "pass app='module:attribute' (where the test can import your app from)."
            )
        app = playground.app
    if not isinstance(app, Application | Router):
        raise ValueError(
            f"The app is a {type(app).__name__}, whose handlers wsplay cannot write to a "
            "file: pass app='module:attribute' (the module that defines it)."
        )
    from .export import export_app

    name = target.stem.removeprefix("test_") or "recorded"
    exported = export_app(app, target.with_name(f"{name}_app.py"), "wsplay")
    module = exported.path.stem
    return f"from {module} import app", f"{module}.py", exported.path


def write_test(
    timeline: Timeline,
    path: str | Path,
    app: Any = None,
    connections: list[int] | None = None,
    timeout: float = 5.0,
) -> WrittenTest:
    """Write a pytest file replaying the recorded conversations (see the module's doc)."""
    target = Path(path).expanduser().resolve()
    if target.suffix != ".py" or not target.stem.isidentifier():
        raise ValueError(
            f"A test file is a Python module pytest collects, e.g. test_chat.py: {path!r}."
        )
    steps, kept, left_out = _script(timeline.events(), set(connections) if connections else None)
    if not kept:
        raise ReplayError(
            "No conversation to replay: connect a client and talk to your handler first"
            + (f" ({'; '.join(f'#{c}: {why}' for c, why in left_out)})" if left_out else ".")
        )
    import_line, app_import, app_file = _app_import(timeline, target, app)
    source = _HEADER.format(
        when=time.strftime("%Y-%m-%d %H:%M"),
        app_import=app_import,
        name=target.name,
        import_line=import_line,
        timeout=timeout,
    )
    tests = []
    for number, group in enumerate(_conversations(kept), 1):
        lines = _render_test(number, group, steps)
        tests.append(lines[0][4:].split("(")[0])
        source += "\n" + "\n".join(lines)
    target.write_text(source, encoding="utf-8")
    return WrittenTest(target, app_import, tests, sorted(kept), left_out, app_file)
