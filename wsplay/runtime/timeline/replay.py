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
names it); a longer reply is checked by its start and its length. A close the handler did
not make (a cell's ``pg.connections[i].close()``, the panel's "Close from server", the
playground stopping) is not expected of it: the test's client leaves there, and a comment
says why.

A connection the test client cannot open or drive as it was recorded is left out, and
``WrittenTest.left_out`` says why: a handshake whose path, query, offered subprotocols or
headers the timeline kept only the start of (timeline/budget.py), or a client that broke
the protocol (a close code no client may send, a reason that is not UTF-8), which the test
client, that sends only valid frames, cannot do again. The query is replayed with the path.

The file is the learner's to keep: ``to_test`` writes over a file it wrote before (its
first line says so), never over another one (their own test, their app), and never under a
name that hides a module the test imports (``json.py``, ``wsplay.py``, the app's): the
check is ``pg.export``'s (deploy/export.py).
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...framework import Application, Router
from ...framework.close_codes import ClosedBy
from ..server.origins import Refusal
from ..server.protocols import CLIENT_BROKE_PROTOCOL
from .budget import cut_headers, is_cut
from .kinds import ACCEPT, CLIENT, CLOSE, GATE, HANDSHAKE, IN, MESSAGE, REJECT, SERVER
from .store import PREVIEW_BYTES, PREVIEW_CHARS, Event

if TYPE_CHECKING:
    from .store import Timeline

from ..deploy.export import check_module_name, export_app, refuse_overwrite
from ..deploy.literals import is_dotted_name, is_name
from .replay_code import FILE_HEADER, REPLAY_MARKER, ReplayConnection, ReplayStep, render_test

# What a path may keep as it is in the replay's URL (RFC 3986's pchar and "/"); the rest,
# "%" and "?" first, is percent-encoded, so the test client decodes back the same path.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
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


def _payload(event: Event) -> tuple[str | bytes, bool]:
    """The message's data and whether it is whole (the timeline keeps only its start)."""
    data = event.data if event.data is not None else ""
    return data, event.size <= (PREVIEW_CHARS if isinstance(data, str) else PREVIEW_BYTES)


def _script(events: list[Event], wanted: set[int] | None) -> tuple[list[ReplayStep], dict, list]:
    """The server-side steps of every connection whose start is still kept, in order."""
    client_side = {e.connection: e for e in events if e.side == CLIENT and e.kind == HANDSHAKE}
    steps: list[ReplayStep] = []
    connections: dict[int, ReplayConnection] = {}
    left_out: dict[int, str] = {}
    for event in events:
        conn = event.connection
        if event.side != SERVER or conn == 0 or (wanted is not None and conn not in wanted):
            continue
        if conn in left_out:
            continue
        if event.kind == HANDSHAKE:
            own = client_side.get(conn)
            why = _cut(event, own)
            if why:
                left_out[conn] = why
                continue
            connection = _connection(event, own, len(steps))
            why = _unfaithful(connection, event.preview)
            if why:
                left_out[conn] = why
                continue
            connections[conn] = connection
            steps.append(ReplayStep(conn, "open", {}))
            continue
        if conn not in connections:
            left_out[conn] = "its handshake is no longer in the timeline (it keeps the newest "
            left_out[conn] += "events only)"
            continue
        if event.kind == CLOSE and event.note.startswith(CLIENT_BROKE_PROTOCOL):
            left_out[conn] = _broke(event)
            continue
        step = _step(event, connections[conn])
        if step is None:
            continue
        gate = Refusal.recorded(event.headers) if event.asked_by == GATE else None
        if step.action == "refused" and gate is not None:
            left_out[conn] = (
                f"{event.reason}: the {gate.header} check is the playground's, not the app's"
            )
            continue
        if step.action == "refused" and event.asked_by_words:
            left_out[conn] = (
                f"it was closed before its handler accepted it, {event.asked_by_words}: "
                "not the handler's doing"
            )
            continue
        steps.append(step)
    steps = [step for step in steps if step.conn not in left_out]
    for index, step in enumerate(steps):
        connections[step.conn].last = index
    kept = {c: connections[c] for c in connections if c not in left_out}
    return steps, kept, sorted(left_out.items())


def _connection(event: Event, own: Event | None, first: int) -> ReplayConnection:
    """The connection ``event`` (the server's handshake) opened, as the replay asks for it."""
    if own is not None and own.path:  # as the kernel's client asked: a URL's path and query
        path = asked = own.path
    else:  # as the server read it, decoded: encoded again for the replay's URL
        path = event.path or "/"
        asked = quote(path, safe=_PATH_SAFE)
        if event.query:  # as sent (latin-1, see the recorder): the test client sends UTF-8
            asked += f"?{_query_text(event.query)}"
    source = own.headers if own is not None else event.headers
    headers = [(n, v) for n, v in source if n.lower() not in _HANDSHAKE_HEADERS]
    offered = [p.strip() for p in event.preview.split(",") if p.strip()]
    return ReplayConnection(int(event.connection), path, asked, headers, offered, first)


def _query_text(query: str) -> str | None:
    """The query the test client sends (it encodes UTF-8) to put the recorded bytes (kept
    as latin-1, see the recorder) on the wire again; None if they are not UTF-8."""
    try:
        return query.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _cut(event: Event, own: Event | None) -> str:
    """Which part of the handshake the timeline kept only the start of, or cannot send
    again ("" if none): a replay of the rest would ask for something else."""
    parts = [("path", event.path or ""), ("query", event.query), ("subprotocols", event.preview)]
    if own is not None:
        parts += [("path", own.path or ""), ("subprotocols", own.preview)]
    for part, text in parts:
        if is_cut(text):
            return (
                f"the timeline kept only the start of its {part} (up to {text[-40:]!r}), "
                "so a replay would send something else"
            )
    if _query_text(event.query) is None:
        return f"its query {event.query!r} is not UTF-8, which the test client cannot send"
    headers = cut_headers(own.headers if own is not None else event.headers, _HANDSHAKE_HEADERS)
    if headers:
        return (
            f"the timeline did not keep all its headers ({headers}), so a replay would send fewer"
        )
    return ""


def _broke(event: Event) -> str:
    """Why a connection whose client broke the protocol is left out: a test client cannot."""
    sent = ""
    if event.peer_code is not None:
        sent = f" (its close frame: code {event.peer_code}, reason {event.peer_reason!r})"
    return (
        f"{event.note}{sent}, and the server closed it with {event.code}: the test client "
        "sends only valid frames, so it cannot do that again"
    )


def _unfaithful(connection: ReplayConnection, offered: str) -> str:
    """Why the test client could not open this connection as it was recorded ("" if it can):
    a replay that sends something else would test something else."""
    path = connection.path
    if not connection.asked.startswith("/"):
        return f"its path {path!r} does not start with '/', so no client can ask for it again"
    try:
        connection.asked.encode()
    except UnicodeEncodeError:
        return f"its path {path!r} is not text a client can send (it is not valid UTF-8)"
    for name, value in connection.headers:
        try:
            (name + value).encode("latin-1")
        except UnicodeEncodeError:
            return f"its header {name!r}: {value!r} has characters an HTTP header cannot carry"
    if ", ".join(connection.subprotocols) != offered:
        return (
            f"the subprotocols it offered ({offered!r}) cannot be told apart again (one has "
            "a comma or spaces around it)"
        )
    return ""


def _step(event: Event, connection: ReplayConnection) -> ReplayStep | None:
    conn = event.connection
    if event.kind == ACCEPT:
        return ReplayStep(conn, "accepted", {"subprotocol": event.subprotocol})
    if event.kind == REJECT:
        return ReplayStep(conn, "refused", {"status": int(event.code or 403)})
    if event.kind == MESSAGE and event.direction == IN:
        data, whole = _payload(event)
        if not whole:
            raise ReplayError(
                f"Connection #{conn} ({connection.path}) sent a {event.size}-"
                f"{'character' if event.type == 'text' else 'byte'} {event.type} message, "
                f"and the timeline keeps only its start ({event.preview!r}): a replay would "
                f"send something else. Leave it out with connections=[...] (without {conn}), "
                f"or record messages of at most {PREVIEW_CHARS} characters or "
                f"{PREVIEW_BYTES} bytes."
            )
        return ReplayStep(conn, "send", {"data": data})
    if event.kind == MESSAGE:
        data, whole = _payload(event)
        return ReplayStep(conn, "receive", {"data": data, "whole": whole, "size": event.size})
    if event.kind == CLOSE and event.by == ClosedBy.CLIENT:
        return ReplayStep(conn, "close", {"code": event.code, "reason": event.reason})
    if event.kind == CLOSE and event.by == ClosedBy.DROPPED:
        return ReplayStep(conn, "drop", {})
    if event.kind == CLOSE and event.asked_by_words:
        # Not the handler's doing: the replay leaves there instead of waiting for a close.
        fields = {"code": event.code, "reason": event.reason, "by": event.asked_by_words}
        return ReplayStep(conn, "ended", fields)
    if event.kind == CLOSE:
        return ReplayStep(conn, "closed", {"code": event.code, "reason": event.reason})
    return None  # pings, pongs, errors and warnings are not replayed


def _conversations(connections: dict[int, ReplayConnection]) -> list[list[ReplayConnection]]:
    """Connections that were open at the same time make one conversation (one test)."""
    groups: list[list[ReplayConnection]] = []
    for connection in sorted(connections.values(), key=lambda c: c.first):
        if groups and connection.first <= max(c.last for c in groups[-1]):
            groups[-1].append(connection)
        else:
            groups.append([connection])
    return groups


def _app_import(timeline: Timeline, target: Path, app: Any) -> tuple[str, str, Path | None]:
    """(the import line, what it imports, the app file written) for ``app``."""
    if isinstance(app, str):
        module, _, attribute = app.partition(":")
        if not is_dotted_name(module) or not is_name(attribute):
            raise ValueError(f"app is 'module:attribute', e.g. 'chat_app:app', not {app!r}.")
        alias = "" if attribute == "app" else f"{attribute} as app"
        return f"from {module} import {alias or 'app'}", app, None
    if app is None:
        from .. import current

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
    app_file = _app_file(target)
    try:
        exported = export_app(app, app_file, "wsplay")
    except FileExistsError:
        raise FileExistsError(
            f"{app_file} exists and was not written by wsplay, so it is left alone (to_test "
            f"writes the notebook's handlers there, for {target.name} to import). Give the "
            "test another name (the app file is named after it), or delete that file first."
        ) from None
    module = exported.path.stem
    return f"from {module} import app", f"{module}.py", exported.path


def _app_file(target: Path) -> Path:
    """Where the notebook's handlers are written for the test ``target`` to import."""
    name = target.stem.removeprefix("test_") or "recorded"
    return target.with_name(f"{name}_app.py")


def write_test(
    timeline: Timeline,
    path: str | Path,
    app: Any = None,
    connections: list[int] | None = None,
    timeout: float = 5.0,
) -> WrittenTest:
    """Write a pytest file replaying the recorded conversations (see the module's doc)."""
    target = Path(path).expanduser().resolve()
    if target.suffix != ".py" or not is_name(target.stem):
        raise ValueError(
            f"A test file is a Python module pytest collects, e.g. test_chat.py: {path!r}."
        )
    app_module = app.partition(":")[0] if isinstance(app, str) else _app_file(target).stem
    check_module_name(target, [app_module], "test_{}.py")
    refuse_overwrite(target, REPLAY_MARKER, "pg.timeline.to_test", "delete it first")
    steps, kept, left_out = _script(timeline.events(), set(connections) if connections else None)
    if not kept:
        raise ReplayError(
            "No conversation to replay: connect a client and talk to your handler first"
            + (f" ({'; '.join(f'#{c}: {why}' for c, why in left_out)})" if left_out else ".")
        )
    if not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout is a number of seconds, e.g. 5.0, not {timeout!r}.")
    tests: list[str] = []
    written: list[str] = []
    for number, group in enumerate(_conversations(kept), 1):
        test = "\n".join(render_test(number, group, steps))
        name = _sole_function(test)
        if name is None:  # never half-written: a conversation is whole, or left out
            left_out += [(c.id, "wsplay could not write it as code that reads back") for c in group]
            continue
        tests.append(name)
        written.append(test)
    if not written:
        raise ReplayError(
            "No conversation could be written: "
            + "; ".join(f"#{c}: {why}" for c, why in sorted(left_out))
        )
    import_line, app_import, app_file = _app_import(timeline, target, app)
    source = FILE_HEADER.format(
        when=time.strftime("%Y-%m-%d %H:%M"),
        app_import=app_import,
        name=target.name,
        import_line=import_line,
        timeout=float(timeout),
    )
    source += "".join("\n" + test for test in written)
    compile(source, str(target), "exec")  # a SyntaxError here is wsplay's bug: nothing written
    target.write_text(source, encoding="utf-8")
    replayed = sorted(c for c in kept if all(c != out for out, _ in left_out))
    return WrittenTest(target, app_import, tests, replayed, sorted(left_out), app_file)


def _sole_function(test: str) -> str | None:
    """The name of the one function ``test`` defines, if that is all it is."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    return tree.body[0].name
