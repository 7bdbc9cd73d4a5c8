"""The timeline records what was on the wire (issue 20.5), and the playground's uvicorn is
checked when the playground loads, not when ``import wsplay`` runs (issue 20.4).

Real uvicorn on 127.0.0.1 (a ``wsplay.Playground`` in this process): close frames no
client library sends go over raw sockets (tests/rawws.py), and the real ``websockets``
client offers permessage-deflate and a subprotocol. The uvicorn checks run in a fresh
Python, with uvicorn's sans-I/O protocol hidden or stripped of what wsplay relies on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

import wsplay
from tests.apps import echo
from tests.rawws import OP_CLOSE, TIMEOUT, RawClient, close_payload, raw_frame
from wsplay import Application, Router, WebSocket
from wsplay.runtime.server.uvicorn_check import FIX, OLDEST_UVICORN
from wsplay.runtime.timeline.export import event_row
from wsplay.runtime.timeline.kinds import ACCEPT, CLOSE
from wsplay.runtime.timeline.store import Event

ROOT = Path(__file__).resolve().parent.parent


async def chat(websocket: WebSocket):
    """Accepts with the first subprotocol the client offers, then echoes."""
    await websocket.accept(subprotocol=websocket.subprotocols[0])
    while True:
        await websocket.send_text(await websocket.receive_text())


@pytest.fixture(scope="module")
def pg() -> Iterator[wsplay.Playground]:
    router = Router()
    router.add_ws("/echo", echo)
    router.add_ws("/chat", chat)
    playground = wsplay.Playground(Application(router=router)).start()
    try:
        yield playground
    finally:
        playground.stop()


def only_event(pg: wsplay.Playground, kind: str, since: float) -> Event:
    """The one server-side ``kind`` event recorded since ``since`` (awaited, ≤ 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        found = [
            event
            for event in pg.timeline.events(kind=kind)
            if event.side == "server" and event.time >= since
        ]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(found) == 1, found
    return found[0]


def exported(pg: wsplay.Playground, event: Event, tmp_path: Path) -> dict:
    """``event`` as ``to_json`` writes it."""
    document = json.loads(pg.timeline.to_json(tmp_path / "timeline.json").read_text())
    (found,) = [
        row
        for row in document["events"]
        if row["time"] == event.time and row["kind"] == event.kind and row["side"] == "server"
    ]
    return found


@pytest.mark.parametrize(
    ("code", "reason", "kept"),
    [(999, b"bye", "bye"), (1000, b"bad \xff", "bad \\xff")],
    ids=["close code 999", "close reason not UTF-8"],
)
def test_a_refused_close_frame_is_kept_as_sent_next_to_the_answer_it_got(
    pg: wsplay.Playground, tmp_path: Path, code: int, reason: bytes, kept: str
):
    since = time.time()
    with RawClient(pg.port, "/echo") as client:
        client.send(raw_frame(OP_CLOSE, close_payload(code, reason)))
        answer = client.read_close()
        assert answer is not None and answer.code in (1002, 1007), answer
    closed = only_event(pg, CLOSE, since)
    # What each side sent, as sent: the client's frame, and the server's answer on the wire.
    assert (closed.peer_code, closed.peer_reason) == (code, kept)
    assert (closed.by, closed.code, closed.reason) == ("server", answer.code, answer.reason)
    assert closed.note.startswith("the client broke the WebSocket protocol")
    allowed = " (not allowed)" if code == 999 else ""
    said = f"client sent {code}{allowed} {kept!r} → closed by server: {answer.code} "
    assert said in closed.describe(), closed.describe()
    assert event_row(closed)["label"].startswith(f"{code} → close {answer.code} ")
    row = exported(pg, closed, tmp_path)
    assert (row["peer_code"], row["peer_reason"]) == (code, kept)
    assert (row["code"], row["reason"], row["by"]) == (answer.code, answer.reason, "server")


def test_a_valid_close_frame_is_kept_as_the_client_sent_it(pg: wsplay.Playground):
    since = time.time()
    with RawClient(pg.port, "/echo") as client:
        client.send(raw_frame(OP_CLOSE, close_payload(4001, "fini ✓".encode())))
        assert client.read_close() is not None
    closed = only_event(pg, CLOSE, since)
    assert (closed.by, closed.code, closed.reason) == ("client", 4001, "fini ✓")
    assert closed.peer_code is None and not closed.note


def test_the_accept_shows_the_negotiated_extensions_and_subprotocol(
    pg: wsplay.Playground, tmp_path: Path
):
    since = time.time()
    with connect(
        f"{pg.url}/chat", subprotocols=["chat.v2", "chat.v1"], open_timeout=TIMEOUT
    ) as client:
        client.send("hi")
        assert client.recv(timeout=TIMEOUT) == "hi"
        negotiated = client.response.headers["Sec-WebSocket-Extensions"]
        offered = client.request.headers["Sec-WebSocket-Extensions"]
        chosen = client.subprotocol
    assert negotiated.startswith("permessage-deflate") and negotiated != offered
    accepted = only_event(pg, ACCEPT, since)
    assert (
        (accepted.extensions, accepted.subprotocol)
        == (negotiated, chosen)
        == (
            negotiated,
            "chat.v2",
        )
    )
    assert f"extensions {negotiated}" in accepted.describe()
    row = exported(pg, accepted, tmp_path)
    assert (row["extensions"], row["subprotocol"]) == (negotiated, "chat.v2")


def test_without_compression_the_accept_shows_no_extension(pg: wsplay.Playground):
    since = time.time()
    with connect(f"{pg.url}/echo", compression=None, open_timeout=TIMEOUT) as client:
        client.send("plain")
        assert client.recv(timeout=TIMEOUT) == "plain"
    accepted = only_event(pg, ACCEPT, since)
    assert accepted.extensions == "" and accepted.subprotocol is None


# --- uvicorn: checked when the playground loads -------------------------------------------------
def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


HIDE_SANSIO = """
    import sys
    sys.modules["uvicorn.protocols.websockets.websockets_sansio_impl"] = None  # uvicorn < 0.35
"""


def test_import_wsplay_and_its_framework_work_without_uvicorns_sansio_protocol():
    result = run_python(
        HIDE_SANSIO
        + """
    import wsplay, wsplay.framework
    from wsplay import Application, Router, WebSocket, ws
    print("imported")
    """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "imported"


@pytest.mark.parametrize(
    ("prepare", "named"),
    [
        (HIDE_SANSIO, "websockets_sansio_impl"),
        (
            """
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    del WebSocketsSansIOProtocol.send_keepalive_ping  # as before uvicorn 0.44
    """,
            "send_keepalive_ping",
        ),
        (
            """
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    del WebSocketsSansIOProtocol.pause_writing  # as before 0.52.1: asyncio's does nothing
    """,
            "pause_writing",
        ),
    ],
    ids=["no sans-I/O protocol", "no keepalive pings", "no write backpressure"],
)
def test_an_unsupported_uvicorn_fails_at_start_with_the_range_and_the_fix(prepare: str, named: str):
    result = run_python(
        prepare
        + """
    import threading, wsplay
    try:
        wsplay.Playground().start()
    except ImportError as error:
        print(type(error).__name__, error)
    print("threads", threading.active_count())
    """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    said, threads = result.stdout.strip().splitlines()
    assert said.startswith("UnsupportedUvicornError"), said
    assert named in said and FIX in said, said
    assert f"uvicorn {OLDEST_UVICORN} or newer" in said
    assert threads == "threads 1"  # nothing left running


def test_a_local_client_cannot_claim_another_address_or_scheme() -> None:
    """uvicorn believes X-Forwarded-* from 127.0.0.1 by default; every local program is
    127.0.0.1. The playground's app sees the connection as it is."""
    seen: list[tuple[object, object]] = []

    async def app(scope, receive, send):
        seen.append((scope["client"][0], scope["scheme"]))
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    playground = wsplay.Playground(app).start()
    try:
        forged = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        url = f"ws://127.0.0.1:{playground.port}/"
        with connect(url, additional_headers=forged) as ws, pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=TIMEOUT)
    finally:
        playground.stop()
    assert seen == [("127.0.0.1", "ws")]
