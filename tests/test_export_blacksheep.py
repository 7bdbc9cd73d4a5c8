"""Exports that run where they say (issue 20.2): what the notebooks teach, on BlackSheep.

wsplay's WebSocket has attributes BlackSheep's lacks (``subprotocols``, ``query_string``;
and a ``WebSocketDisconnectError`` with a ``reason``). ``pg.export(...,
framework="blacksheep")`` rewrites each use into what BlackSheep offers. Here every
reference solution of notebooks/solutions/ is exported for BlackSheep and for wsplay, each
file served by real uvicorn in a process of its own, and its exercise's scripted
conversation is run over the network (the real kernel client) against it and against the
handler in a real playground: the reports must be the same, step by step. The notebooks'
own handlers that use such attributes are served the same way and must answer alike.
"""

from __future__ import annotations

import ast
import importlib.util
import queue
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import wsplay
from tests.servers import serve_uvicorn
from tests.test_exercises import REFERENCE, load_solution
from wsplay import Application, Router
from wsplay.exercises.beyond import BIG
from wsplay.exercises.conversation import Run
from wsplay.exercises.harness import Capture, Harness
from wsplay.exercises.registry import find_exercise
from wsplay.exercises.report import Report
from wsplay.runtime.deploy.export import ExportError, export_app
from wsplay.runtime.deploy.workers import Workers

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5.0
FRAMEWORKS = ("blacksheep", "wsplay")
# A step a conversation over the network cannot make happen: the feed's client that stops
# reading (in process, its sends are made to wait; a real client's buffers take megabytes
# to fill). It fails alike on the playground and on the exports; the feed's other rules,
# which the script runs after it, are run over the network by feed_after_the_stall.
NEEDS_A_STALLED_READER = {"feed"}


def feed_after_the_stall(run: Run) -> None:
    """The feed's rules that follow the stall in its script, in the exercise's words."""
    run.conversation()
    for name in ("alice", "bob"):
        run.connect(name, "/feed", fix="accept")
    run.says("alice", "after carol", ["alice", "bob"], "relay")
    if run.send("bob", "x" * BIG):
        run.expect_close("bob", 1009, f"bob sends {BIG:,} characters: closed with 1009", "")
    run.says("alice", "ok", ["alice"], "never bob's big text")
    run.leave("alice", "alice leaves", "")


class NetworkClient:
    """Stands in for the exercise's in-process TestClient: each ``open`` is a real
    connection (the kernel's own client) to a served app."""

    def __init__(self, target: Any) -> None:
        self.target = target  # a Playground or a Worker: both have connect_sync

    def open(self, path: str, headers: Any, subprotocols: Any) -> NetworkSession:
        connection = self.target.connect_sync(
            path, headers=dict(headers or {}), subprotocols=list(subprotocols or ()),
            timeout=TIMEOUT,
        )  # fmt: skip
        return NetworkSession(connection)


class NetworkSession:
    """A real connection with the one in-process action the scripts use: a lost peer."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    def send_message(self, message: dict[str, Any]) -> None:
        assert message["type"] == "websocket.disconnect" and message["code"] == 1006
        self.connection.drop()  # the TCP connection ends with no close frame


def check_served(exercise: str, target: Any) -> Report:
    """``wsplay.exercises.check``, with every scripted client a real network client."""
    found = find_exercise(exercise)
    report = Report(found.name, found.title)
    capture = Capture()
    harness = Harness(None, capture)
    run = Run(found, NetworkClient(target), harness, capture, report, TIMEOUT)
    try:
        found.script(run)
        if exercise in NEEDS_A_STALLED_READER:
            feed_after_the_stall(run)
    finally:
        run.leave_all()
        harness.all_gone = True
    return report


def steps(report: Report) -> list[tuple[str, str]]:
    return [(step.status, step.step) for step in report.steps]


def export_both(router: Router, folder: Path, stem: str) -> dict[str, Path]:
    files = {}
    for framework in FRAMEWORKS:
        exported = export_app(router, folder / f"{stem}_{framework}.py", framework)
        assert exported.skipped == [], exported
        files[framework] = exported.path
    return files


@pytest.mark.parametrize("exercise", [name for name in REFERENCE if name != "redis-rooms"])
def test_each_solution_exported_answers_its_exercise_as_in_the_playground(
    exercise: str, tmp_path: Path
) -> None:
    file_name, handler_name = REFERENCE[exercise]
    handler = getattr(load_solution(file_name), handler_name)
    router = Router()
    router.add_ws(find_exercise(exercise).pattern, handler)
    files = export_both(router, tmp_path, f"{exercise.replace('-', '_')}_app")
    playground = wsplay.Playground(Application(router=router)).start()
    try:
        expected = steps(check_served(exercise, playground))
    finally:
        playground.stop()
    failed = [step for status, step in expected if status != "pass"]
    if exercise in NEEDS_A_STALLED_READER:
        stalled = "carol is closed with 1008 (too slow)"
        assert failed == [stalled, "alice leaves; the handler ends quietly"], expected
    else:
        assert failed == [], expected
    for framework, path in files.items():
        with Workers(path, 1) as workers:  # `python -m uvicorn <file>:app`, a process
            got = steps(check_served(exercise, workers[0]))
            log = workers[0].log()
        assert got == expected, f"{framework}: {path.read_text()}\n{log}"
        assert "AttributeError" not in log, log


# --- the notebooks' own handlers ------------------------------------------------------------
NOTEBOOK_HANDLERS = {
    # (notebook, cell): the handler's cell, and the cells it needs first
    "chat": ("02-accepting.ipynb", ["nb02-06"]),
    "chat_negotiating": ("02-accepting.ipynb", ["nb02-13"]),
    "echo": ("04-disconnects.ipynb", ["nb04-03"]),
    "quiet": ("07-keepalive-and-backpressure.ipynb", ["nb07-05"]),
    "numbers": ("07-keepalive-and-backpressure.ipynb", ["nb07-05", "nb07-15"]),
    "big": ("07-keepalive-and-backpressure.ipynb", ["nb07-05", "nb07-25"]),
}
PRELUDE = """\
import asyncio
import queue
import re

from wsplay import Router, WebSocket, WebSocketDisconnectError

router = Router()
ws = router.ws
"""


def notebook_module(handler: str, folder: Path) -> Any:
    """The handler's cells as a module of its own: their definitions only (a cell's
    playground calls and top-level awaits are the notebook's, not the app's)."""
    notebook, cell_ids = NOTEBOOK_HANDLERS[handler]
    book = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    cells = {cell.get("id"): cell.source for cell in book.cells}
    kept = []
    for cell_id in cell_ids:
        lines = cells[cell_id].splitlines()
        for statement in ast.parse(cells[cell_id]).body:
            first = min(
                node.lineno for node in [statement, *getattr(statement, "decorator_list", [])]
            )
            text = "\n".join(lines[first - 1 : statement.end_lineno])
            if "pg." in text or "wsplay.start" in text or "connect(" in text:
                continue
            if type(statement).__name__ in ("Import", "ImportFrom", "Expr", "AsyncWith"):
                continue
            kept.append(textwrap.dedent(text))
    path = folder / f"nb_{handler}.py"
    path.write_text(PRELUDE + "\n\n" + "\n\n\n".join(kept) + "\n")
    return import_file(path)


def import_file(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # inspect finds a function's source through it
    spec.loader.exec_module(module)
    return module


def talk(url: str, path: str, subprotocols: list[str] | None = None, **options: Any) -> tuple:
    """What a real client sees: the subprotocol and the first message, or the refusal."""
    try:
        with connect(url + path, subprotocols=subprotocols, open_timeout=TIMEOUT) as client:
            return ("accepted", client.subprotocol, client.recv(timeout=TIMEOUT))
    except InvalidStatus as refused:
        return ("refused", refused.response.status_code)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    """serve(module, framework): the handler in the playground ("playground"), or its
    export for ``framework`` imported and served by uvicorn, on 127.0.0.1."""
    with_stack = []

    def serve(module: Any, framework: str) -> tuple[str, Any]:
        if framework == "playground":
            playground = wsplay.Playground(Application(router=module.router)).start()
            with_stack.append(playground.stop)
            return playground.url, module
        path = tmp_path / f"{module.__name__}_{framework}.py"
        exported = export_app(module.router, path, framework)
        assert exported.skipped == [], exported
        app_module = import_file(path)
        server = serve_uvicorn(app_module.app)
        url = server.__enter__()
        with_stack.append(lambda: server.__exit__(None, None, None))
        return url, app_module

    try:
        yield serve
    finally:
        for stop in reversed(with_stack):
            stop()


@pytest.mark.parametrize("where", ["playground", *FRAMEWORKS])
def test_notebook_02s_subprotocol_handlers_answer_alike(served, tmp_path: Path, where) -> None:
    url, _ = served(notebook_module("chat", tmp_path), where)
    assert talk(url, "/chat", ["chat.v2", "chat.v1"]) == (
        "accepted",
        "chat.v1",
        '{"offered":["chat.v2","chat.v1"],"chosen":"chat.v1"}',
    )
    url, _ = served(notebook_module("chat_negotiating", tmp_path), where)
    assert talk(url, "/chat", ["chat.v1"]) == ("accepted", "chat.v1", "Let's speak chat.v1")
    assert talk(url, "/chat", ["chat.v3", "chat.v2"]) == (
        "accepted",
        "chat.v2",
        "Let's speak chat.v2",
    )
    assert talk(url, "/chat", ["chat.v3"]) == ("refused", 403)


@pytest.mark.parametrize("where", ["playground", *FRAMEWORKS])
def test_notebook_handlers_that_read_a_disconnects_reason_end_alike(
    served, tmp_path: Path, where
) -> None:
    """The handler puts (code, reason) in a queue when the client leaves: on BlackSheep
    too (the reason is "" there: BlackSheep drops it), instead of an AttributeError."""
    reason = "" if where == "blacksheep" else "bye"
    for handler, kept, code in (("echo", "goodbyes", 4000), ("quiet", "endings", 4001)):
        url, module = served(notebook_module(handler, tmp_path), where)
        with connect(f"{url}/{handler}", open_timeout=TIMEOUT) as client:
            client.send("hi")
            assert client.recv(timeout=TIMEOUT) == "hi"
            client.close(code, "bye")
        assert getattr(module, kept).get(timeout=TIMEOUT) == (code, reason)

    url, module = served(notebook_module("big", tmp_path), where)
    big = connect(f"{url}/big", open_timeout=TIMEOUT, max_size=2**20)
    with big as client, pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=TIMEOUT)
    assert closed.value.sent.code == 1009
    code, _ = module.endings.get(timeout=TIMEOUT)
    assert code == 1009
    with pytest.raises(queue.Empty):
        module.endings.get_nowait()


def test_every_use_in_the_notebooks_handlers_is_rewritten_for_blacksheep(tmp_path: Path) -> None:
    """numbers (notebook 07) floods its client, so when it ends depends on the server
    (BlackSheep raises uvicorn's ClientDisconnected, not a disconnect): read its file."""
    for handler in NOTEBOOK_HANDLERS:
        module = notebook_module(handler, tmp_path)
        path = tmp_path / f"{handler}_app.py"
        exported = export_app(module.router, path, "blacksheep", overwrite=True)
        tree = ast.parse(path.read_text())
        attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        assert not attributes & {"subprotocols", "query_string", "reason"}, handler
        assert exported.notes, "the file says what it rewrote"


def test_a_wsplay_only_attribute_of_something_else_is_refused_with_the_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "peers.py"
    path.write_text(
        textwrap.dedent(
            """
            from wsplay import Router, WebSocket

            router = Router()
            members = {}


            @router.ws("/peer/{name}")
            async def peer(websocket: WebSocket, name: str):
                await websocket.accept()
                members[name] = websocket
                await websocket.send_json(members[name].subprotocols)
            """
        )
    )
    module = import_file(path)
    with pytest.raises(ExportError) as refused:
        export_app(module.router, tmp_path / "peers_app.py", "blacksheep")
    message = str(refused.value)
    assert "peer, line 4: `members[name].subprotocols` reads subprotocols" in message, message
    assert 'write `list(members[name].scope.get("subprotocols", ()))` instead' in message
    assert export_app(module.router, tmp_path / "peers_app.py", "wsplay").skipped == []


@pytest.mark.parametrize("where", ["playground", *FRAMEWORKS])
def test_query_string_and_subprotocols_answer_alike(served, tmp_path: Path, where) -> None:
    path = tmp_path / "raw_query.py"
    path.write_text(
        PRELUDE
        + textwrap.dedent(
            """

            @ws("/raw")
            async def raw(websocket: WebSocket):
                offered = websocket.subprotocols
                await websocket.accept(subprotocol=offered[-1] if offered else None)
                await websocket.send_text(websocket.query_string.decode() + f" {offered}")
            """
        )
    )
    url, _ = served(import_file(path), where)
    expected = ("accepted", "b", "x=1&y=%C3%A9 ['a', 'b']")
    assert talk(url, "/raw?x=1&y=%C3%A9", ["a", "b"]) == expected
    assert talk(url, "/raw") == ("accepted", None, " []")


def test_the_redis_rooms_solution_exported_for_blacksheep_answers_as_the_check_does(
    tmp_path: Path,
) -> None:
    """Notebook 08's exercise runs on two uvicorn workers and a private Redis: its own
    check exports the handler for wsplay; the same steps, on a BlackSheep export."""
    from wsplay.exercises import check
    from wsplay.exercises.redis_rooms import _with_workers
    from wsplay.runtime.deploy.redis_server import RedisServer
    from wsplay.testing import TestClient

    handler = load_solution("08_redis_rooms.py").room_chat
    reference = check("redis-rooms", handler, timeout=TIMEOUT)
    assert reference.passed, reference
    router = Router()
    router.add_ws(find_exercise("redis-rooms").pattern, handler)
    path = export_app(router, tmp_path / "rooms_app.py", "blacksheep").path
    found = find_exercise("redis-rooms")
    report = Report(found.name, found.title)
    capture = Capture()
    harness = Harness(Application(router=router), capture)
    redis = RedisServer.launch()
    try:
        with TestClient(harness, timeout=TIMEOUT) as client:
            _with_workers(Run(found, client, harness, capture, report, TIMEOUT), path, redis)
    finally:
        redis.stop()

    def without_pids(report: Report) -> list[tuple[str, str]]:
        return [
            (status, re.sub(r"\(pid \d+, port \d+\)", "", step)) for status, step in steps(report)
        ]

    assert without_pids(report) == without_pids(reference)[1:], report  # [0]: its export
