"""The timeline out of the notebook: to_json, to_html and to_test, from a real kernel.

The conversation is notebook 05's chat, its cells run as they are in a real kernel, and an
echo. ``to_test`` writes a pytest file; that file is run by pytest in a subprocess, against
the handlers the notebook recorded (green) and against a changed one (red, readably).
What the HTML page draws is checked in a browser in tests/test_browser_panel.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.kernel import Kernel

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LEAVE_OUT = ("wsplay.panel()", "check(", "pg.stop()", "room_chat")  # the chat part only

ECHO = """
@ws("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())

conn = await pg.connect("/echo")
await conn.send_text("hello")
assert await conn.receive_text() == "hello"
await conn.close(4000, "bye")
"""


def chat_cells() -> list[str]:
    notebook = nbformat.read(NOTEBOOKS / "05-chat.ipynb", as_version=4)
    return [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and not any(part in cell.source for part in LEAVE_OUT)
    ]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kernel, Path]]:
    """A kernel that ran notebook 05's chat and an echo; and a folder for the files."""
    folder = tmp_path_factory.mktemp("exported")
    with Kernel() as kernel:
        for source in chat_cells():
            kernel.run(source)
        kernel.run(ECHO)
        yield kernel, folder


def pytest_run(test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_to_test_replays_the_chat_and_the_echo_green_then_red(recorded) -> None:
    kernel, folder = recorded
    target = folder / "test_chat.py"
    written = kernel.run(f"print(pg.timeline.to_test({str(target)!r}))").stdout
    assert "2 test(s)" in written and "chat_app.py" in written
    source = target.read_text()
    assert "from wsplay.testing import TestClient" in source
    assert "ws1_alice.send_text('hi Bob!')" in source
    assert "ws4_echo.close(4000, 'bye')" in source
    green = pytest_run(target)
    assert green.returncode == 0, green.stdout + green.stderr
    assert "2 passed" in green.stdout

    # The learner changes the chat's reply: the same recorded conversation now fails.
    kernel.run(
        textwrap.dedent(
            """
            @ws("/chat/{user}")
            async def chat(websocket: WebSocket, user: str):
                await websocket.accept()
                members[user] = websocket
                await broadcast(f"{user} joined")
                try:
                    while True:
                        text = await websocket.receive_text()
                        await broadcast(f"{user} says: {text}")
                except WebSocketDisconnectError:
                    pass
                finally:
                    await leave(user)
            """
        )
    )
    kernel.run(f"pg.timeline.to_test({str(target)!r})")
    red = pytest_run(target)
    assert red.returncode == 1, red.stdout + red.stderr
    assert "1 failed, 1 passed" in red.stdout
    assert "AssertionError: a reply on #1 /chat/alice" in red.stdout
    assert "assert 'alice says: hi Bob!' == 'alice: hi Bob!'" in red.stdout


def test_to_test_with_an_app_module_a_refusal_a_long_reply_and_a_close(recorded) -> None:
    kernel, folder = recorded
    (folder / "shout_app.py").write_text(
        textwrap.dedent(
            """
            from wsplay import Application, WebSocket

            app = Application()

            @app.router.ws("/shout")
            async def shout(websocket: WebSocket):
                await websocket.accept()
                text = await websocket.receive_text()
                await websocket.send_text(text.upper() * 30)
                await websocket.close(4001, "said it")
            """
        )
    )
    out = kernel.run(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(folder)!r})
            from shout_app import app as shout_app
            quiet = wsplay.Playground(shout_app).start()
            try:
                loud = await quiet.connect("/shout")
                await loud.send_text("hey")
                print(len(await loud.receive_text()))
                try:
                    await loud.receive_text()
                except wsplay.WebSocketClosedError as closed:
                    print(closed.code)
                try:
                    await quiet.connect("/nowhere")
                except wsplay.HandshakeRejectedError as refused:
                    print(refused.status_code)
                print(quiet.timeline.to_test({str(folder / "test_shout.py")!r},
                                             app="shout_app:app"))
            finally:
                quiet.stop()
            """
        )
    ).stdout
    assert out.splitlines()[:3] == ["90", "4001", "403"]
    source = (folder / "test_shout.py").read_text()
    assert "from shout_app import app" in source
    assert "assert start_and_size(ws1_shout.receive_text(), 80) == ('HEYHEY" in source
    assert "(closed.value.code, closed.value.reason) == (4001, 'said it')" in source
    assert "assert refused.value.status_code == 403" in source
    result = pytest_run(folder / "test_shout.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_to_test_refuses_a_message_longer_than_the_timeline_keeps(recorded) -> None:
    kernel, folder = recorded
    out = kernel.run(
        textwrap.dedent(
            f"""
            long = await pg.connect("/echo")
            await long.send_text("x" * 100)
            await long.receive_text()
            await long.close()
            try:
                pg.timeline.to_test({str(folder / "test_long.py")!r})
            except ValueError as error:
                print(type(error).__name__, error)
            print(pg.timeline.to_test({str(folder / "test_short.py")!r},
                                      connections=[conn.id]))
            """
        )
    ).stdout.splitlines()
    assert out[0].startswith("ReplayError Connection #")
    assert "(/echo) sent a 100-character text message" in out[0]
    assert "keeps only its start ('xxxx" in out[0] and "connections=[...]" in out[0]
    assert not (folder / "test_long.py").exists()
    assert "replaying connection(s) #" in out[1]


def test_closes_the_handler_did_not_make_are_marked_and_not_expected_of_it(recorded) -> None:
    """A cell's close and the playground stopping: on the timeline as such, and the replay
    (green against the very handler) leaves there rather than waiting for it to close."""
    kernel, folder = recorded
    (folder / "plain_echo.py").write_text(
        textwrap.dedent(
            """
            import asyncio

            from wsplay import Application, WebSocket, WebSocketDisconnectError

            app = Application()

            @app.router.ws("/echo")
            async def echo(websocket: WebSocket):
                await websocket.accept()
                try:
                    while True:
                        await websocket.send_text(await websocket.receive_text())
                except WebSocketDisconnectError:
                    pass

            @app.router.ws("/late")
            async def late(websocket: WebSocket):
                await asyncio.Event().wait()  # never accepts
            """
        )
    )
    out = kernel.run(
        textwrap.dedent(
            f"""
            import sys, asyncio
            sys.path.insert(0, {str(folder)!r})
            from plain_echo import app as plain_echo
            other = wsplay.Playground(plain_echo).start()
            try:
                first = await other.connect("/echo")
                await first.send_text("one")
                await first.receive_text()
                mine = next(c for c in other.connections if c.id == first.id)
                await asyncio.to_thread(mine.close, 4000, "from a cell")
                try:
                    await first.receive_text()
                except wsplay.WebSocketClosedError as closed:
                    print(closed.code)
                waiting = asyncio.ensure_future(other.connect("/late"))
                while not any(c.path == "/late" for c in other.connections):
                    await asyncio.sleep(0.01)
                pending = next(c for c in other.connections if c.path == "/late")
                await asyncio.to_thread(pending.close, 4001, "not now")  # before the accept
                try:
                    await waiting
                except wsplay.HandshakeRejectedError as refused:
                    print(refused.status_code, "|", refused)
                second = await other.connect("/echo")
                await second.send_text("two")
                await second.receive_text()
            finally:
                other.stop()                        # second is still open: 1001
            for event in other.timeline.events():
                if event.side == "server" and event.kind in ("close", "reject"):
                    print(event.asked_by, "|", event.describe())
            print(other.timeline.to_test({str(folder / "test_plain.py")!r},
                                         app="plain_echo:app"))
            """
        )
    ).stdout.splitlines()
    assert out[0] == "4000"
    assert out[1].startswith("403 | ")
    assert "it was closed from a cell or the panel before its handler accepted it" in out[1]
    first, late, second = out[2].split()[3], out[3].split()[3], out[4].split()[3]
    assert out[2].startswith(f"kernel | [server] {first} closed by server (from a cell or the")
    refused = f"kernel | [server] {late} handshake refused (HTTP 403), from a cell or the panel"
    assert out[3] == f"{refused}: closed before accepting, with 4001 (Application) 'not now'"
    assert out[4].startswith(f"stop | [server] {second} closed by server (the playground stopped)")
    assert (
        f"Left out {late}: it was closed before its handler accepted it, from a cell or the "
        "panel: not the handler's doing." in out[5:]
    )
    source = (folder / "test_plain.py").read_text()
    assert f"# {first} was closed here with 4000, from a cell or the panel: not by its" in source
    assert f"# {second} was closed here with 1001, the playground stopped: not by its" in source
    assert "/late" not in source
    assert "closed.value" not in source  # no server close is expected of the handler
    result = pytest_run(folder / "test_plain.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_to_json_keeps_both_sides_and_to_html_is_a_page_of_its_own(recorded) -> None:
    kernel, folder = recorded
    kernel.run(
        f"pg.timeline.to_json({str(folder / 'chat.json')!r}); "
        f"pg.timeline.to_html({str(folder / 'chat.html')!r}, title='Chat, lesson 5')"
    )
    document = json.loads((folder / "chat.json").read_text())
    events = document["events"]
    assert document["kept"] == len(events) and document["recorded"] >= len(events)
    assert {event["side"] for event in events} == {"client", "server"}
    closes = [e for e in events if e["kind"] == "close" and e["side"] == "server"]
    assert any(e["code"] == 4000 and e["reason"] == "bye" and e["by"] == "client" for e in closes)
    assert all(e["meaning"] for e in closes)
    handshake = next(e for e in events if e["kind"] == "handshake" and e["side"] == "server")
    assert ["upgrade", "websocket"] in handshake["headers"]
    page = (folder / "chat.html").read_text()
    assert "<title>Chat, lesson 5</title>" in page
    assert "export default" not in page and "window.wsplayTimeline" in page
    assert "alice: hi Bob!" in page
    assert " src=" not in page and "<link" not in page  # nothing to fetch: it works offline
