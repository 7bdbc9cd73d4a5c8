"""``pg.timeline.to_test`` writes only what it may, and replays only what was sent.

A hostile tester's findings, each against a real playground on 127.0.0.1 and real clients
(the ``websockets`` client, and tests/rawws.py for frames no well-behaved client sends):
the file to_test writes must not replace a learner's file or hide a module; a query is
replayed with its path; a handshake the timeline kept only the start of (a path, a query,
the subprotocols offered, a header) is left out, not replayed half; so is a client that
broke the protocol; and the timeline's files are UTF-8 whatever the locale.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

import wsplay
from tests.rawws import OP_CLOSE, RawClient, close_payload, raw_frame
from wsplay.runtime.timeline.kinds import CLOSE, HANDSHAKE

TIMEOUT = 10

APP = """\
from wsplay import Application, Router, WebSocket, WebSocketDisconnectError

app = Application(router=Router())


@app.router.ws("/q")
async def query(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(websocket.query_string.decode())
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnectError:
        pass


@app.router.ws("/echo/{path:rest}")
async def echo_rest(websocket: WebSocket, rest: str):
    offered = websocket.subprotocols
    await websocket.accept(subprotocol=offered[-1] if offered else None)
    await websocket.send_text(rest[:20])
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnectError:
        pass
"""


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[tuple[wsplay.Playground, Path]]:
    """The kernel's playground serving ``replayed_app.py`` (a file in ``tmp_path``)."""
    (tmp_path / "replayed_app.py").write_text(APP, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("replayed_app", tmp_path / "replayed_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["replayed_app"] = module
    spec.loader.exec_module(module)
    pg = wsplay.start(app=module.app)
    pg.timeline.clear()  # the kernel's playground: another test's may have run before
    try:
        yield pg, tmp_path
    finally:
        pg.stop()
        pg.timeline.clear()  # kept by the next start: leave none of ours to other tests
        del sys.modules["replayed_app"]


def url(pg: wsplay.Playground, path: str) -> str:
    return f"ws://127.0.0.1:{pg.port}{path}"


def wait_for_closes(pg: wsplay.Playground, count: int) -> None:
    """The server records each close once its handler has heard it: wait for ``count``."""
    deadline = time.monotonic() + TIMEOUT
    while len([e for e in pg.timeline.events(kind=CLOSE) if e.side == "server"]) < count:
        assert time.monotonic() < deadline, "the server never recorded the closes"
        time.sleep(0.005)


def echo_once(pg: wsplay.Playground, path: str = "/echo/ok", **options) -> str:
    """One well-behaved conversation; the server's first reply."""
    with connect(url(pg, path), open_timeout=TIMEOUT, **options) as client:
        first = client.recv(timeout=TIMEOUT)
        client.send("hello")
        assert client.recv(timeout=TIMEOUT) == "hello"
    return first


def pytest_run(folder: Path, test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_to_test_writes_over_its_own_file_only_and_never_hides_a_module(playground) -> None:
    pg, folder = playground
    echo_once(pg)
    wait_for_closes(pg, 1)
    mine = folder / "test_mine.py"
    mine.write_text("def test_mine():\n    pass\n", encoding="utf-8")
    with pytest.raises(FileExistsError) as refused:
        pg.timeline.to_test(mine, app="replayed_app:app")
    assert str(mine) in str(refused.value) and "delete it first" in str(refused.value)
    assert mine.read_text(encoding="utf-8") == "def test_mine():\n    pass\n"

    with pytest.raises(ValueError, match="would hide the module 'replayed_app'"):
        pg.timeline.to_test(folder / "replayed_app.py", app="replayed_app:app")
    assert (folder / "replayed_app.py").read_text(encoding="utf-8") == APP
    for name in ("wsplay", "json", "pytest"):
        with pytest.raises(ValueError, match=f"would hide the module '{name}'"):
            pg.timeline.to_test(folder / f"{name}.py", app="replayed_app:app")
        assert not (folder / f"{name}.py").exists()

    # The learner re-runs the same cell: the file to_test wrote is its to write again.
    chat = folder / "test_chat.py"
    pg.timeline.to_test(chat, app="replayed_app:app")
    pg.timeline.to_test(chat, app="replayed_app:app")
    assert "def test_conversation_1" in chat.read_text(encoding="utf-8")

    # The notebook's handlers go next to the test, in a file named after it: not over theirs.
    theirs = folder / "room_app.py"
    theirs.write_text("ROOMS = {}\n", encoding="utf-8")
    with pytest.raises(FileExistsError) as refused:
        pg.timeline.to_test(folder / "test_room.py")
    assert str(theirs) in str(refused.value) and "delete that file first" in str(refused.value)
    assert theirs.read_text(encoding="utf-8") == "ROOMS = {}\n"
    assert not (folder / "test_room.py").exists()
    theirs.unlink()
    written = pg.timeline.to_test(folder / "test_room.py")
    assert written.app_file == theirs
    pg.timeline.to_test(folder / "test_room.py")  # both its own files, written again
    assert pytest_run(folder, folder / "test_room.py").returncode == 0


def test_the_query_a_client_sent_is_replayed_with_its_path(playground) -> None:
    pg, folder = playground
    with connect(url(pg, "/q?room=lobby&name=caf%C3%A9"), open_timeout=TIMEOUT) as client:
        assert client.recv(timeout=TIMEOUT) == "room=lobby&name=caf%C3%A9"
        client.send("bye")
        assert client.recv(timeout=TIMEOUT) == "bye"
    wait_for_closes(pg, 1)
    target = folder / "test_query.py"
    written = pg.timeline.to_test(target, app="replayed_app:app")
    assert written.left_out == [] and len(written.tests) == 1
    assert "'/q?room=lobby&name=caf%C3%A9'" in target.read_text(encoding="utf-8")
    result = pytest_run(folder, target)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_a_handshake_the_timeline_cut_is_left_out_not_replayed_half(playground) -> None:
    pg, folder = playground
    echo_once(pg, "/echo/" + "a" * 300)
    echo_once(pg, "/echo/x", subprotocols=[f"p{i}" + "x" * 60 for i in range(30)])
    echo_once(pg, "/echo/x?q=" + "b" * 300)
    echo_once(pg, "/echo/x", additional_headers=[("X-Long", "v" * 300)])
    echo_once(pg, "/echo/x", additional_headers=[(f"X-Many-{i}", "v") for i in range(40)])
    echo_once(pg)  # the one replayed
    wait_for_closes(pg, 6)
    target = folder / "test_cut.py"
    ids = [e.connection for e in pg.timeline.events(kind=HANDSHAKE) if e.side == "server"]
    written = pg.timeline.to_test(target, app="replayed_app:app")
    why = [reason for _, reason in written.left_out]
    assert [c for c, _ in written.left_out] == ids[:5], written
    assert written.connections == ids[5:], written
    assert "the timeline kept only the start of its path" in why[0]
    assert "the timeline kept only the start of its subprotocols" in why[1]
    assert "the timeline kept only the start of its query" in why[2]
    assert "the header 'x-long' was cut" in why[3]
    assert "more headers not kept" in why[4]
    result = pytest_run(folder, target)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


BROKEN_CLOSES = {
    "an invalid close code": (999, b"x"),
    "a reason that is not UTF-8": (1000, b"\xff\xfe"),
    "a reason too long for a control frame": (1000, b"r" * 124),
    "code 1005 in the frame": (1005, b""),
    "a lone surrogate in the reason": (3000, b"\xed\xa0\x80"),
}


def test_a_client_that_broke_the_protocol_is_left_out_with_what_it_did(playground) -> None:
    pg, folder = playground
    for code, reason in BROKEN_CLOSES.values():
        with RawClient(pg.port, "/echo/raw") as client:
            client.send(raw_frame(OP_CLOSE, close_payload(code, reason)))
            assert client.closed_by_server()
    echo_once(pg)
    wait_for_closes(pg, len(BROKEN_CLOSES) + 1)
    ids = [e.connection for e in pg.timeline.events(kind=HANDSHAKE) if e.side == "server"]
    target = folder / "test_broken.py"
    written = pg.timeline.to_test(target, app="replayed_app:app")
    assert written.connections == ids[-1:], written
    why = dict(written.left_out)
    assert sorted(why) == ids[:-1], written
    for connection in ids[:-1]:
        assert why[connection].startswith("the client broke the WebSocket protocol")
        assert "the test client sends only valid frames" in why[connection]
    assert "its close frame: code 999, reason 'x'" in why[ids[0]]
    assert "its close frame: code 1005" in why[ids[3]]
    result = pytest_run(folder, target)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


ENCODING_SCRIPT = """
import sys
from pathlib import Path
from websockets.sync.client import connect
import wsplay
sys.path.insert(0, {folder!r})
from replayed_app import app

folder = Path({folder!r})
pg = wsplay.start(app=app)
try:
    with connect(f"ws://127.0.0.1:{{pg.port}}/echo/x", open_timeout=10) as client:
        client.recv(timeout=10)
        client.send("caf\\u00e9 \\u20ac")
        client.recv(timeout=10)
    deadline = __import__("time").monotonic() + 10
    while not [e for e in pg.timeline.events(kind="close") if e.side == "server"]:
        assert __import__("time").monotonic() < deadline
        __import__("time").sleep(0.005)
    pg.timeline.to_html(folder / "page.html")
    pg.timeline.to_json(folder / "timeline.json")
    pg.timeline.to_test(folder / "test_locale.py", app="replayed_app:app")
    pg.export(folder / "exported_app.py", framework="wsplay")
finally:
    pg.stop()
print("written")
"""


def test_the_timeline_files_are_utf8_whatever_the_locale(tmp_path: Path) -> None:
    (tmp_path / "replayed_app.py").write_text(APP, encoding="utf-8")
    script = textwrap.dedent(ENCODING_SCRIPT.format(folder=str(tmp_path)))
    environment = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    environment.pop("PYTHONIOENCODING", None)
    probe = [sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"]
    encoding = subprocess.run(probe, env=environment, capture_output=True, text=True).stdout
    assert encoding.strip().lower() in ("ansi_x3.4-1968", "ascii", "us-ascii"), encoding
    result = subprocess.run(
        [sys.executable, "-B", "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "written" in result.stdout, result.stderr[-3000:]
    for name in ("page.html", "timeline.json", "test_locale.py"):
        assert "café €" in (tmp_path / name).read_text(encoding="utf-8"), name
    assert "exported by wsplay" in (tmp_path / "exported_app.py").read_text(encoding="utf-8")
