"""Nothing recorded from the wire or registered by a learner becomes code (issue 19.1, 19.2).

``pg.timeline.to_test`` and ``pg.export`` write Python files from recorded paths, headers,
subprotocols, messages and close reasons, and from registered route patterns and names.
Each such text must reach the file as a literal (``repr``) and each name must be made of
``[a-z0-9_]``: a crafted path must neither run code when the file is imported or run by
pytest, nor make the file a SyntaxError.

The first test is the issue's exploit end to end: a real playground on 127.0.0.1, the real
``websockets`` client asking for the crafted path, ``to_test``, then pytest on the file in
a subprocess. The others build the timeline's events directly (fast, every case at once)
and import the written files in one subprocess, which must print nothing and make no file.
The property-based version of the same checks is tests/test_codegen_properties.py.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import wsplay
from tests.apps import echo
from wsplay import Application, Router
from wsplay.runtime.deploy.export import export_app
from wsplay.runtime.timeline.kinds import ACCEPT, CLOSE, HANDSHAKE, REJECT
from wsplay.runtime.timeline.replay import write_test
from wsplay.runtime.timeline.store import Event, Timeline

TIMEOUT = 10
INJECTED = "INJECTED"


def payloads(folder: Path) -> dict[str, str]:
    """Texts that break out of a docstring, a comment, a string or a name, and what they
    would run: a file named INJECTED in ``folder``."""
    touch = f'__import__("pathlib").Path({str(folder / INJECTED)!r}).touch()'
    return {
        "triple-quote": f'/x""";{touch};"""',
        "single-triple-quote": f"/x''';{touch};'''",
        "newline": f"/x\n{touch}\n#",
        "carriage-return": f"/x\r{touch}\r#",
        "crlf": f"/x\r\n{touch}\r\n#",
        "form-feed-and-vertical-tab": f"/x\x0c\x0b{touch}",
        "line-separators": f"/x\u2028\u2029\x85{touch}",
        "backslash-N": "/x\\N",
        "backslash-x": "/x\\x",
        "backslash-u": "/x\\u12",
        "trailing-backslash": "/x\\",
        "nul": "/x\x00y",
        "superscript": "/x²",
        "digits-and-keywords": "/1/class/def/None",
        "braces": "/{x}/{{y}}/%s/{0}",
        "quote-and-hash": "/x'#\"#",
        "percent-and-query": "/a%41?b=1#c",
    }


def handshake_timeline(path: str, refused: bool = False) -> Timeline:
    """One connection to ``path``: a refused handshake, or an echo of one message."""
    timeline = Timeline()
    timeline.record(Event(1.0, 1, "server", HANDSHAKE, path=path, preview="chat.v1"))
    if refused:
        timeline.record(Event(1.1, 1, "server", REJECT, code=403, reason="no route"))
        return timeline
    timeline.record(Event(1.1, 1, "server", ACCEPT, subprotocol=path))
    timeline.message(1, "server", "in", path[:40])
    timeline.message(1, "server", "out", path[:80])
    timeline.record(Event(1.2, 1, "server", CLOSE, code=4000, reason=path[:40], by="client"))
    return timeline


def import_quietly(folder: Path, modules: list[str]) -> None:
    """Import each module in a fresh Python, in ``folder``: nothing may be printed, no file
    may appear (bytecode is not written), and every module must import."""
    before = set(os.listdir(folder))
    script = textwrap.dedent(
        f"""
        import importlib, sys
        sys.path.insert(0, {str(folder)!r})
        for name in {modules!r}:
            importlib.import_module(name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-B", "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout, result.stderr) == ("", "")
    assert set(os.listdir(folder)) == before, "importing the written files made a file"


def test_the_issues_exploit_through_a_real_playground_runs_nothing(tmp_path: Path) -> None:
    router = Router()
    router.add_ws("/echo", echo)
    evil = '/x""";__import__("os").system("touch INJECTED");"""'
    pg = wsplay.start(app=Application(router=router))
    try:
        url = f"ws://127.0.0.1:{pg.port}"
        evil_url = url + urllib.parse.quote(evil)
        with pytest.raises(InvalidStatus) as refused, connect(evil_url, open_timeout=TIMEOUT):
            pass
        assert refused.value.response.status_code == 403
        with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
            client.send("hello")
            assert client.recv(timeout=TIMEOUT) == "hello"
        target = tmp_path / "test_x.py"
        written = pg.timeline.to_test(target)
    finally:
        pg.stop()
    source = target.read_text(encoding="utf-8")
    compile(source, str(target), "exec")
    assert written.left_out == [] and len(written.tests) == 2
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not (tmp_path / INJECTED).exists(), "the recorded path ran as code"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.fixture
def app_module(tmp_path: Path) -> Iterator[Path]:
    """An app the written tests import (no route: every handshake is refused)."""
    (tmp_path / "x_app.py").write_text("from wsplay import Application\n\napp = Application()\n")
    yield tmp_path


@pytest.mark.parametrize("refused", [True, False], ids=["refused", "echoed"])
def test_a_crafted_path_is_a_literal_in_the_test_file(app_module: Path, refused: bool) -> None:
    folder = app_module
    written = []
    for index, path in enumerate(payloads(folder).values()):
        target = folder / f"test_case_{index}.py"
        result = write_test(handshake_timeline(path, refused), target, app="x_app:app")
        source = target.read_text(encoding="utf-8")
        tree = ast.parse(source)  # a SyntaxError on main for \N, \x, NUL, ² ...
        names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert names == ["start_and_size", *result.tests]
        for name in result.tests:
            assert name.isascii() and name.replace("_", "").isalnum() and name.islower()
        test = tree.body[-1]
        assert ast.get_docstring(test) == f"#1 {path}.", "the docstring reads back the path"
        calls = [
            node
            for node in ast.walk(test)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "websocket_connect"
        ]
        sent = urllib.parse.unquote(ast.literal_eval(calls[0].args[0]))
        assert sent == path, "the replay asks for the recorded path, no other"
        for line in source.splitlines():
            if line.strip().startswith("#"):
                assert INJECTED not in line or repr(path) in line
        written.append(target.stem)
    import_quietly(folder, written)
    assert not (folder / INJECTED).exists()


def test_the_exploit_replayed_by_pytest_runs_nothing(app_module: Path) -> None:
    folder = app_module
    cases = payloads(folder)
    for index, path in enumerate(cases.values()):
        write_test(handshake_timeline(path, True), folder / f"test_c{index}.py", app="x_app:app")
    result = subprocess.run(
        [sys.executable, "-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not (folder / INJECTED).exists(), "a recorded path ran as code"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{len(cases)} passed" in result.stdout


def routes_of(source: str) -> list[tuple[str, str]]:
    """The (pattern, handler) of each ``app.router.add_ws(...)`` line, read back by ast."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_ws":
            pattern, handler = node.args
            found.append((ast.literal_eval(pattern), ast.unparse(handler)))
    return found


@pytest.mark.parametrize("framework", ["wsplay", "blacksheep"])
def test_crafted_route_patterns_are_literals_in_the_exported_file(
    tmp_path: Path, framework: str
) -> None:
    patterns = [
        pattern
        for pattern in payloads(tmp_path).values()
        if pattern.startswith("/") and "{" not in pattern
    ]
    router = Router()
    for pattern in patterns:
        router.add_ws(pattern, echo)
    exported = export_app(router, tmp_path / "crafted_app.py", framework)
    source = exported.path.read_text(encoding="utf-8")
    tree = ast.parse(source)  # a SyntaxError on main for a newline, \N, \x ...
    # BlackSheep compiles a pattern as a regular expression: "\N" and "\x" are refused
    # (named, left out) rather than written into a file that fails when imported.
    refused = {"/x\\N", "/x\\x", "/x\\u12"} if framework == "blacksheep" else set()
    assert {pattern for pattern, _, _ in exported.skipped} == refused
    assert all("BlackSheep cannot serve the pattern" in why for _, _, why in exported.skipped)
    expected = [(pattern, "echo") for pattern in patterns if pattern not in refused]
    assert routes_of(source) == expected
    assert "Routes:" in (ast.get_docstring(tree) or ""), "the docstring is one literal"
    import_quietly(tmp_path, ["crafted_app"])
    assert not (tmp_path / INJECTED).exists()


def test_a_handler_whose_name_was_changed_exports_under_the_name_its_source_defines(
    tmp_path: Path,
) -> None:
    """``__name__`` is anyone's to set; the file names the function its source defines."""
    handler = type(echo)(echo.__code__, echo.__globals__, 'x); __import__("os").system("id")')
    router = Router()
    router.add_ws("/echo", handler)
    exported = export_app(router, tmp_path / "renamed_app.py", "wsplay")
    source = exported.path.read_text(encoding="utf-8")
    assert routes_of(source) == [("/echo", "echo")]
    assert "__import__" not in source
    import_quietly(tmp_path, ["renamed_app"])


def test_two_handlers_of_one_name_are_written_under_two_names(tmp_path: Path) -> None:
    twin = type(echo)(echo.__code__, echo.__globals__, "echo")  # the same source, another object
    router = Router()
    router.add_ws("/a", echo)
    router.add_ws("/b", twin)
    exported = export_app(router, tmp_path / "twins_app.py", "wsplay")
    source = exported.path.read_text(encoding="utf-8")
    assert routes_of(source) == [("/a", "echo"), ("/b", "echo_2")]
    defined = [
        node.name for node in ast.parse(source).body if isinstance(node, ast.AsyncFunctionDef)
    ]
    assert defined == ["echo", "echo_2"]
