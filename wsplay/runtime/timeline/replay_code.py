"""The code of a replay test: each recorded conversation written out as pytest (see
timeline_replay, which builds the steps from the timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...framework.close_codes import CloseCode, is_sendable_close_code
from ..deploy.literals import docstring_literal, name_part


@dataclass
class ReplayStep:
    conn: int
    action: str  # open, refused, send, receive, close, drop, closed, ended
    fields: dict[str, Any]


@dataclass
class ReplayConnection:
    id: int
    path: str  # as recorded, to read by
    asked: str  # what the replay's client asks for, to reach the same path (see _script)
    headers: list[tuple[str, str]]
    subprotocols: list[str]
    first: int  # index of its first step in the script, and of its last
    last: int = 0
    name: str = ""


def render_test(number: int, group: list[ReplayConnection], steps: list[ReplayStep]) -> list[str]:
    ids = {c.id for c in group}
    mine = [step for step in steps if step.conn in ids]
    by_id = {c.id: c for c in group}
    for connection in group:
        connection.name = _name(connection)
    refused = {step.conn: step.fields["status"] for step in mine if step.action == "refused"}
    slug = name_part(group[0].path) or "root"
    described = ", ".join(f"#{c.id} {c.path}" for c in group)
    lines = [
        f"def test_conversation_{number}_{slug}():",
        f"    {docstring_literal(described + '.')}",  # the paths, as literal text
        "    with TestClient(app, timeout=TIMEOUT) as client, ExitStack() as stack:",
    ]
    body: list[str] = []
    # A connection's handler can learn of another one's end at any moment: the replies
    # that follow such an end, several in a row, are checked in any order.
    other_ended = dict.fromkeys(ids, False)
    held: dict[int, list[ReplayStep]] = {}
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
        if step.action in ("close", "drop", "closed", "ended"):
            for other in ids - {step.conn}:
                other_ended[other] = True
        if step.conn in refused and step.action != "open":
            continue  # a refused handshake has nothing after it
        body += _action(connection.name, step, connection, refused.get(step.conn))
    return lines + [f"        {line}" for line in body] + [""]


def _action(
    ws: str, step: ReplayStep, connection: ReplayConnection, refused: int | None
) -> list[str]:
    """The lines of one step; ``refused``: the HTTP status its handshake got, if refused."""
    if step.action == "open" and refused is not None:
        return [
            f"# #{connection.id}: {connection.path!r}, refused",
            "with pytest.raises(HandshakeRejectedError) as refused:",
            f"    stack.enter_context(client.websocket_connect({_arguments(connection)}))",
            f"assert refused.value.status_code == {refused!r}",
        ]
    if step.action == "open":
        return [
            f"# #{connection.id}: {connection.path!r}",
            f"{ws} = stack.enter_context(client.websocket_connect({_arguments(connection)}))",
        ]
    if step.action == "accepted":
        chosen = step.fields["subprotocol"]
        return [f"assert {ws}.accepted_subprotocol == {str(chosen)!r}"] if chosen else []
    if step.action == "send":
        data = step.fields["data"]
        method = "send_text" if isinstance(data, str) else "send_bytes"
        return [f"{ws}.{method}({data!r})"]
    if step.action == "close":
        code, reason = step.fields["code"], step.fields["reason"]
        if is_sendable_close_code(code):
            return [f"{ws}.close({code!r}, {reason!r})"]
        return [f"{ws}.send_message({{'type': 'websocket.disconnect', 'code': {code!r}}})"]
    if step.action == "drop":
        dropped = CloseCode.ABNORMAL_CLOSURE.value
        return [
            f"{ws}.send_message({{'type': 'websocket.disconnect', 'code': {dropped}}})  # dropped"
        ]
    if step.action == "ended":
        code, by = step.fields["code"], step.fields["by"]
        return [
            f"# #{connection.id} was closed here with {code!r}, {by}: not by its handler,",
            "# so the replay's client leaves instead of waiting for the server to close.",
            f"{ws}.close()",
        ]
    code, reason = step.fields["code"], step.fields["reason"]
    check = f"closed.value.code == {code!r}"
    if code != CloseCode.ABNORMAL_CLOSURE:  # a dropped connection's reason: each library's
        check = f"(closed.value.code, closed.value.reason) == ({code!r}, {reason!r})"
    return [
        "with pytest.raises(WebSocketClosedError) as closed:",
        f"    {ws}.receive()",
        f"assert {check}, 'how the server closed #{connection.id}'",
    ]


def _arguments(connection: ReplayConnection) -> str:
    arguments = [repr(connection.asked)]
    if connection.headers:
        arguments.append(f"headers={connection.headers!r}")
    if connection.subprotocols:
        arguments.append(f"subprotocols={connection.subprotocols!r}")
    return ", ".join(arguments)


def _receive(ws: str, step: ReplayStep, connection: ReplayConnection) -> str:
    data = step.fields["data"]
    method = "receive_text" if isinstance(data, str) else "receive_bytes"
    where = repr(f"a reply on #{connection.id} {connection.path}")
    if step.fields["whole"]:
        return f"assert {ws}.{method}() == {data!r}, {where}"
    kept = (data, step.fields["size"])  # its start, and its whole length
    return f"assert start_and_size({ws}.{method}(), {len(data)}) == {kept!r}, {where}"


def _any_order(ws: str, held: list[ReplayStep]) -> list[str]:
    expected = sorted((step.fields["data"] for step in held), key=repr)
    if all(isinstance(data, str) for data in expected):
        got = f"[{ws}.receive_text() for _ in range({len(held)})]"
    else:
        got = f"[{ws}.receive() for _ in range({len(held)})]"
    return [
        "# Another connection ended meanwhile: the server may send these in either order.",
        f"replies = {got}",
        f"assert sorted(replies, key=repr) == {expected!r}, 'replies on #{held[0].conn}'",
    ]


# The first words of every file to_test writes: such a file may be written over again.
REPLAY_MARKER = "Conversations recorded by wsplay"
FILE_HEADER = (
    '"""'
    + REPLAY_MARKER
    + ''' on {when}, replayed against {app_import}.

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

'''
)


def _name(connection: ReplayConnection) -> str:
    """``ws3_alice`` for #3 /chat/alice: the id, and the path's last word to read by."""
    tail = name_part(connection.path.rstrip("/").rsplit("/", 1)[-1], limit=20)
    return f"ws{connection.id}_{tail}" if tail else f"ws{connection.id}"


def _runs(steps: list[ReplayStep]) -> list[int]:
    """For each step, how many receives of its connection follow in a row, itself included."""
    left = [0] * len(steps)
    following: dict[int, int] = {}
    for index in range(len(steps) - 1, -1, -1):
        step = steps[index]
        following[step.conn] = following.get(step.conn, 0) + 1 if step.action == "receive" else 0
        left[index] = following[step.conn]
    return left
