"""Property-based: whatever was recorded or registered, the written file is code wsplay
wrote, and only that (issue 19.1).

``hypothesis`` feeds arbitrary paths, headers, subprotocols, text and bytes payloads,
close codes and reasons through ``to_test``, and arbitrary route patterns and handler
names through ``export``, 500 examples each (derandomized: the same run every time). Each
file must compile, name only what wsplay's generator names (no identifier, call or
attribute comes from the data), read the data back as it was, and import in a fresh
Python with no output and no file made. Fewer examples (a real playground and the real
kernel client each) check that a recorded conversation replays green against its own app.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import re
import sys
import tempfile
import time
import types
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wsplay
from tests.apps import echo
from tests.test_codegen_safety import import_quietly, routes_of
from wsplay import InvalidRouteError, Router
from wsplay.runtime.deploy.export import ExportError, export_app
from wsplay.runtime.timeline.kinds import ACCEPT, CLOSE, HANDSHAKE, REJECT
from wsplay.runtime.timeline.replay import ReplayError, write_test
from wsplay.runtime.timeline.store import Event, Timeline

EXAMPLES = 500
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TIMEOUT = 10

# --- to_test -----------------------------------------------------------------------------
# Every name, call and attribute the generator itself writes; anything else in a file would
# have come from the data.
REPLAY_NAMES = {
    "sys", "ExitStack", "Path", "pytest", "HandshakeRejectedError", "WebSocketClosedError",
    "TestClient", "app", "TIMEOUT", "start_and_size", "reply", "length", "len", "client",
    "stack", "refused", "closed", "replies", "sorted", "repr", "range", "_", "str",
    "__file__",
}  # fmt: skip
REPLAY_ATTRIBUTES = {
    "path", "insert", "resolve", "parent", "enter_context", "websocket_connect", "raises",
    "value", "status_code", "accepted_subprotocol", "send_text", "send_bytes", "close",
    "send_message", "receive", "receive_text", "receive_bytes", "code", "reason",
}  # fmt: skip
CONNECTION_NAME = re.compile(r"ws\d+(_[a-z0-9_]+)?")
TEST_NAME = re.compile(r"test_conversation_\d+_[a-z0-9_]+")

texts = st.text(max_size=90)
paths = st.text(max_size=60).map(lambda text: "/" + text)
tokens = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","))
payloads = st.one_of(st.text(max_size=90), st.binary(max_size=50))


@st.composite
def conversations(draw: st.DrawFn) -> Timeline:
    """A timeline of one to three connections, every field drawn."""
    timeline = Timeline()
    moment = 1.0
    for connection in draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=3, unique=True)):
        moment += 1
        offered = draw(st.lists(st.one_of(tokens.filter(bool), texts), max_size=3))
        headers = tuple(draw(st.lists(st.tuples(texts, texts), max_size=3)))
        handshake = Event(moment, connection, "server", HANDSHAKE, path=draw(paths))
        timeline.record(handshake._replace(headers=headers, preview=", ".join(offered)))
        if draw(st.booleans()):
            status = draw(st.integers(100, 599))
            reason = draw(texts)
            timeline.record(Event(moment, connection, "server", REJECT, code=status, reason=reason))
            continue
        chosen = draw(st.one_of(st.none(), texts))
        timeline.record(Event(moment, connection, "server", ACCEPT, subprotocol=chosen))
        for data in draw(st.lists(payloads, max_size=4)):
            timeline.message(connection, "server", draw(st.sampled_from(["in", "out"])), data)
        code = draw(st.one_of(st.none(), st.integers(0, 6000)))
        by = draw(st.sampled_from(["client", "server", "dropped"]))
        asked = draw(st.sampled_from(["", "kernel", "stop"]))
        reason = draw(texts)
        ending = Event(moment, connection, "server", CLOSE, code=code, reason=reason, by=by)
        timeline.record(ending._replace(asked_by=asked))
    return timeline


def assert_only_generated_code(source: str) -> ast.Module:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in REPLAY_NAMES or CONNECTION_NAME.fullmatch(node.id), node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr in REPLAY_ATTRIBUTES, node.attr
        elif isinstance(node, ast.FunctionDef):
            assert node.name == "start_and_size" or TEST_NAME.fullmatch(node.name), node.name
        elif isinstance(node, ast.ImportFrom | ast.Import):
            assert node.lineno < 20, "an import only in the file's header"
    return tree


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wsplay-properties-") as name:
        yield Path(name)


def test_to_test_writes_only_its_own_code_whatever_was_recorded(folder: Path) -> None:
    where = folder / "to_test"
    where.mkdir()
    (where / "x_app.py").write_text("from wsplay import Application\n\napp = Application()\n")
    written: list[str] = []

    @PROPERTY
    @given(conversations())
    def property_(timeline: Timeline) -> None:
        target = where / f"test_p{len(written)}.py"
        try:
            result = write_test(timeline, target, app="x_app:app")
        except ReplayError as refused:  # a client's message longer than the timeline keeps
            assert "No conversation" in str(refused) or "keeps only its start" in str(refused)
            assert not target.exists()
            return
        source = target.read_text(encoding="utf-8")
        compile(source, str(target), "exec")
        tree = assert_only_generated_code(source)
        tests = [node for node in tree.body if isinstance(node, ast.FunctionDef)][1:]
        assert [test.name for test in tests] == result.tests
        for test in tests:  # the docstring is the recorded paths, read back whole
            assert ast.get_docstring(test, clean=False).startswith("#")
        paths_asked = [
            urllib.parse.unquote(ast.literal_eval(node.args[0]))
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "websocket_connect"
        ]
        recorded = {e.connection: e.path for e in timeline.events() if e.kind == HANDSHAKE}
        assert sorted(paths_asked) == sorted(recorded[c] for c in result.connections)
        written.append(target.stem)

    property_()
    assert len(written) >= EXAMPLES // 2, "most examples make a file"
    import_quietly(where, written)


# --- export ------------------------------------------------------------------------------
def baseline_shape(source: str) -> str:
    """The file's AST with every string and number blanked: what a pattern may change."""

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.Constant:
            return ast.Constant(None)

    return ast.dump(Blank().visit(ast.parse(source)))


def test_export_writes_only_its_own_code_whatever_was_registered(folder: Path) -> None:
    where = folder / "export"
    where.mkdir()
    written: list[str] = []
    shapes: dict[tuple[str, int], str] = {}
    for framework in ("blacksheep", "wsplay"):
        for count in (1, 2, 3):
            router = Router()
            for number in range(count):
                router.add_ws(f"/plain{number}", echo)
            path = where / f"shape_{framework}_{count}.py"
            shapes[framework, count] = baseline_shape(
                export_app(router, path, framework).path.read_text()
            )

    tried = []

    @settings(PROPERTY, max_examples=EXAMPLES + 60)  # a few draw no pattern the router takes
    @given(
        st.lists(st.text(max_size=40).map(lambda text: "/" + text), min_size=1, max_size=3),
        st.text(max_size=30),
        st.sampled_from(["blacksheep", "wsplay"]),
    )
    def property_(patterns: list[str], name: str, framework: str) -> None:
        handler = types.FunctionType(echo.__code__, echo.__globals__, name)
        router = Router()
        for pattern in patterns:
            with contextlib.suppress(InvalidRouteError):
                router.add_ws(pattern, handler)
        registered = [route.pattern.text for route in router]
        if not registered:
            return
        target = where / f"app_{len(written)}.py"
        tried.append(target)
        try:
            exported = export_app(router, target, framework)
        except ExportError as refused:
            assert framework == "blacksheep" and "BlackSheep cannot serve" in str(refused)
            assert not target.exists()
            return
        source = target.read_text(encoding="utf-8")
        compile(source, str(target), "exec")
        left_out = {pattern for pattern, _, _ in exported.skipped}
        assert all("BlackSheep cannot serve" in why for _, _, why in exported.skipped)
        kept = [pattern for pattern in registered if pattern not in left_out]
        assert routes_of(source) == [(pattern, "echo") for pattern in kept]
        assert baseline_shape(source) == shapes[framework, len(kept)]
        written.append(target.stem)

    property_()
    assert len(tried) >= EXAMPLES
    assert len(written) >= EXAMPLES // 2, "most examples make a file"
    import_quietly(where, written)


# --- replayed green against its own recording ----------------------------------------------
REPLAY_APP = """\
from wsplay import Application, Router, WebSocket, WebSocketDisconnectError

app = Application(router=Router())


@app.router.ws("/echo/{path:rest}")
async def echo_rest(websocket: WebSocket, rest: str):
    offered = websocket.subprotocols
    await websocket.accept(subprotocol=offered[-1] if offered else None)
    await websocket.send_text(rest)
    try:
        while True:
            message = await websocket.receive()
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnectError:
        pass
"""


def import_file(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


header_names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(
    lambda name: "x-" + name
)
http_tokens = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
    min_size=1,
    max_size=10,
)
header_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


def test_a_recorded_conversation_replays_green_against_its_own_app(folder: Path) -> None:
    where = folder / "replay"
    where.mkdir()
    (where / "replay_app.py").write_text(REPLAY_APP)
    sys.path.insert(0, str(where))
    app = import_file(where / "replay_app.py").app
    pg = wsplay.Playground(app).start()
    try:
        runs: list[int] = []

        @settings(PROPERTY, max_examples=200)
        @given(
            st.text(min_size=1, max_size=30),
            st.dictionaries(header_names, header_values, max_size=3),
            st.lists(http_tokens, max_size=3, unique=True),
            st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=40)), max_size=4),
            st.one_of(st.just(1000), st.integers(3000, 4999)),
            st.text(max_size=30),
        )
        def property_(rest, headers, offered, messages, code, reason) -> None:
            pg.timeline.clear()
            path = "/echo/" + urllib.parse.quote(rest, safe="")
            try:
                conn = pg.connect_sync(path, headers=headers, subprotocols=offered, timeout=5)
            except wsplay.HandshakeRejectedError:  # e.g. a newline the route does not match
                (handshake,) = pg.timeline.events(kind=HANDSHAKE)[-1:]
                connection = handshake.connection
            else:
                connection = conn.id
                assert isinstance(conn.receive(), str)  # the route's value, as the app read it
                for data in messages:
                    conn.send_text(data) if isinstance(data, str) else conn.send_bytes(data)
                    assert conn.receive() == data
                conn.close(code, reason)
            wait_for_the_servers_end(pg, connection)
            target = where / f"test_r{len(runs)}.py"
            written = pg.timeline.to_test(target, app="replay_app:app", connections=[connection])
            assert written.left_out == [], written
            module = import_file(target)
            for name in written.tests:
                getattr(module, name)()  # raises if the replay is not green
            runs.append(connection)

        property_()
    finally:
        pg.stop()
        sys.path.remove(str(where))
    assert len(runs) == 200


def wait_for_the_servers_end(pg: wsplay.Playground, connection: int) -> None:
    """The server records the close (or the refusal) once its handler has heard it: wait
    for that event."""
    deadline = time.monotonic() + TIMEOUT
    while not any(
        event.kind in (CLOSE, REJECT) and event.side == "server"
        for event in pg.timeline.events(connection=connection)
    ):
        assert time.monotonic() < deadline, "the server never recorded the close"
        time.sleep(0.005)
