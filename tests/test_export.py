"""pg.export: the handlers of a notebook written to an app file that runs on its own.

The chat of notebook 05 is run in a real kernel, exported, and served by uvicorn in a
process of its own, on BlackSheep and on wsplay; two real ``websockets`` clients chat.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from websockets.sync.client import connect

from tests.kernel import Kernel
from wsplay.runtime.deploy.workers import Workers

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10


def cell(notebook: str, cell_id: str) -> str:
    book = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    return next(c.source for c in book.cells if c.get("id") == cell_id)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(cell("05-chat.ipynb", "nb05-01"))  # import wsplay ...; pg = wsplay.start()
        kernel.run(cell("05-chat.ipynb", "nb05-03"))  # the chat: members, broadcast, leave
        yield kernel


def export(kernel: Kernel, path: Path, framework: str) -> str:
    return kernel.run(f"print(pg.export({str(path)!r}, framework={framework!r}))").stdout


def chat_with_two_clients(url: str) -> None:
    with connect(f"{url}/chat/alice", open_timeout=TIMEOUT) as alice:
        assert alice.recv(timeout=TIMEOUT) == "alice joined"
        with connect(f"{url}/chat/bob", open_timeout=TIMEOUT) as bob:
            assert alice.recv(timeout=TIMEOUT) == "bob joined"
            assert bob.recv(timeout=TIMEOUT) == "bob joined"
            alice.send("hi Bob!")
            assert alice.recv(timeout=TIMEOUT) == "alice: hi Bob!"
            assert bob.recv(timeout=TIMEOUT) == "alice: hi Bob!"
        assert alice.recv(timeout=TIMEOUT) == "bob left"


@pytest.mark.parametrize("framework", ["blacksheep", "wsplay"])
def test_notebook_05s_chat_exported_runs_under_uvicorn(
    kernel: Kernel, tmp_path: Path, framework: str
) -> None:
    path = tmp_path / "chat_app.py"
    printed = export(kernel, path, framework)
    assert f"Wrote {path}" in printed and "/chat/{user} → chat" in printed
    assert "uvicorn chat_app:app" in printed
    source = path.read_text()
    package = "blacksheep" if framework == "blacksheep" else "wsplay"
    assert f"from {package} import Application, Router, WebSocket, WebSocketDisconnectError" in (
        source
    )
    assert "wsplay" not in source.split('"""')[2] or framework == "wsplay"
    for definition in (
        "members: dict[str, WebSocket] = {}",
        "async def broadcast(",
        "async def leave(",
    ):
        assert definition in source
    assert '@ws("/chat/{user}")' not in source
    assert 'app.router.add_ws("/chat/{user}", chat)' in source
    with Workers(path, 1) as workers:  # `python -m uvicorn chat_app:app` in a process
        chat_with_two_clients(workers[0].url)


def test_the_exported_file_is_formatted_and_lint_clean(kernel: Kernel, tmp_path: Path) -> None:
    path = tmp_path / "chat_app.py"
    export(kernel, path, "blacksheep")
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "format", "--check", "--quiet", str(path)], check=True)
    subprocess.run([*ruff, "check", "--quiet", "--select", "E,F,I,W", str(path)], check=True)


def test_a_class_and_a_magic_handler_from_cells_are_exported(
    kernel: Kernel, tmp_path: Path
) -> None:
    kernel.run(
        textwrap.dedent(
            """
            import json as js
            from collections import Counter as Tally

            class Scores:  # inspect cannot read a class made in a cell: its cell is read
                def __init__(self):
                    self.tally = Tally()

            scores = Scores()

            @ws("/score/{name}")
            async def score(websocket: WebSocket, name: str):
                await websocket.accept()
                scores.tally[name] += 1
                await websocket.send_text(js.dumps(scores.tally))
            """
        )
    )
    kernel.run("%load_ext wsplay")
    kernel.run("%%wsplay /hello/{name}\nawait websocket.accept()\nawait websocket.send_text(name)")
    path = tmp_path / "more_app.py"
    printed = kernel.run(
        f"print(pg.export({str(path)!r}, 'wsplay', routes=['/score/{{name}}', '/hello/{{name}}']))"
    ).stdout
    assert "Left out" not in printed, printed
    source = path.read_text()
    assert "import json as js" in source and "from collections import Counter as Tally" in source
    assert "class Scores:" in source and "scores = Scores()" in source
    assert source.index("class Scores:") < source.index("scores = Scores()")
    assert "async def handler_hello_name(websocket, name):" in source
    with Workers(path, 1) as workers:
        url = workers[0].url
        for expected in ('{"ada": 1}', '{"ada": 2}'):
            with connect(f"{url}/score/ada", open_timeout=TIMEOUT) as client:
                assert client.recv(timeout=TIMEOUT) == expected
        with connect(f"{url}/hello/grace", open_timeout=TIMEOUT) as client:
            assert client.recv(timeout=TIMEOUT) == "grace"
    kernel.run(
        "pg.routes and [wsplay.framework.routing.default_router.remove_ws(p) for p in "
        "('/score/{name}', '/hello/{name}')]"
    )


def test_what_cannot_be_exported_is_named_with_the_reason(kernel: Kernel, tmp_path: Path) -> None:
    kernel.run(
        textwrap.dedent(
            """
            import asyncio

            def make():
                secret = "x"

                async def inner(websocket: WebSocket):
                    await websocket.accept()
                    await websocket.send_text(secret)

                return inner

            wsplay.framework.routing.default_router.add_ws("/closure", make())

            @ws("/who")
            async def who(websocket: WebSocket):
                await websocket.accept()
                await websocket.send_text(str(len(pg.connections)))

            delay = await asyncio.sleep(0, 0.1)

            @ws("/slow")
            async def slow(websocket: WebSocket):
                await websocket.accept()
                await asyncio.sleep(delay)
            """
        )
    )
    path = tmp_path / "partial_app.py"
    printed = kernel.run(f"print(pg.export({str(path)!r}))").stdout
    assert "/chat/{user} → chat" in printed
    assert "Left out /closure (inner): inner was made inside another function and uses secret" in (
        printed
    )
    assert "Left out /who (who): it uses pg (a Playground of wsplay)" in printed
    assert "Left out /slow (slow): delay is made with `await` at the top level" in printed
    source = path.read_text()
    assert "async def who" not in source and "pg =" not in source
    assert "async def slow" not in source and "delay" not in source
    for pattern in ("/closure", "/who", "/slow"):
        kernel.run(f"wsplay.framework.routing.default_router.remove_ws({pattern!r})")


def test_file_names_that_would_not_run_are_refused(kernel: Kernel, tmp_path: Path) -> None:
    def error_of(code: str) -> str:
        return kernel.run(code, check=False).error

    assert "must be a Python name: chat-app.py is not" in error_of(
        f"pg.export({str(tmp_path / 'chat-app.py')!r})"
    )
    assert "would hide the module 'json'" in error_of(f"pg.export({str(tmp_path / 'json.py')!r})")
    assert "ends in .py" in error_of(f"pg.export({str(tmp_path / 'chat.txt')!r})")
    assert "framework='flask' is not one wsplay can write" in error_of(
        f"pg.export({str(tmp_path / 'a_app.py')!r}, framework='flask')"
    )
    mine = tmp_path / "mine.py"
    mine.write_text("print('my own work')\n")
    assert "was not written by pg.export, so it is left alone" in error_of(
        f"pg.export({str(mine)!r})"
    )
    assert mine.read_text() == "print('my own work')\n"
    ours = tmp_path / "ours_app.py"
    kernel.run(f"pg.export({str(ours)!r}); pg.export({str(ours)!r})")  # again: replaced
    assert "No route '/nope' to export" in error_of(f"pg.export({str(ours)!r}, routes=['/nope'])")
