"""What a client sends cannot pose as wsplay's words, nor flood the notebook or the memory.

A path, a header or an exception's message is the client's text: said in the notebook or in
a server's log, it is escaped (CR/LF, ESC shown as ``\\r``, ``\\x1b``) and cut
(framework/shown.py). A handler error keeps and shows a bounded part of a huge message, and
the same kind of notice (an error of one type on one line, or "no route") is said a few
times a half minute, then counted (runtime/notices.py), while the first is said whole.

A ``wsplay.Playground`` (or plain uvicorn) on 127.0.0.1, raw sockets and the real
``websockets`` client; what the notebook would show is the playground's stderr.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

import wsplay
from tests.rawws import http_exchange, upgrade_request
from tests.servers import serve_uvicorn
from wsplay import Application, Router
from wsplay.runtime.deploy.export import ExportedApp
from wsplay.runtime.server.origins import OriginPolicy, Refusal
from wsplay.ui.panel import _errors_html

# A path that, said raw, would start a line of its own and repaint a terminal.
FORGED = "%0D%0Awsplay:%20all%20fine%1B[2J%1B[1;32mGREEN%E2%80%A8next"
RAW_CONTROLS = ("\r", "\n", "\x1b", "\u2028")


def raising_app() -> Application:
    router = Router()

    async def bad(websocket):
        await websocket.accept()
        raise ValueError("oops")

    async def parse(websocket):
        await websocket.accept()
        float(await websocket.receive_text())

    router.add_ws("/r/{room}", bad)
    router.add_ws("/calc", parse)
    return Application(router=router)


@pytest.fixture
def pg() -> Iterator[wsplay.Playground]:
    playground = wsplay.Playground(raising_app()).start()
    yield playground
    playground.stop()


def handshake(port: int, path: str) -> str:
    return http_exchange(port, upgrade_request(port, path))[0].split()[1]


def notices(text: str) -> list[str]:
    """The notebook's stderr, one entry per ``wsplay:`` notice."""
    return [part for part in re.split(r"(?m)^wsplay: ", text) if part]


def test_a_forged_path_is_said_escaped_in_the_notebook(pg, capsys) -> None:
    assert handshake(pg.port, f"/nope{FORGED}") == "403"
    assert handshake(pg.port, f"/r/x{FORGED}") == "101"
    pg.stop()
    said = capsys.readouterr().err
    assert "No WebSocket route matches /nope\\r\\nwsplay: all fine\\x1b[2J" in said
    assert "The handler for /r/x\\r\\nwsplay: all fine" in said
    assert not any(char in said for char in ("\r", "\x1b", "\u2028"))
    assert all(not line.startswith("wsplay: all fine") for line in said.splitlines())
    assert "\\r" in str(pg.errors[-1]).splitlines()[1]  # its "(path, connection)" line


def test_a_forged_path_is_logged_escaped_under_plain_uvicorn(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="wsplay")
    with serve_uvicorn(raising_app()) as url:
        port = int(url.rsplit(":", 1)[1])
        forged = "/nope%0D%0AINFO:%20%20%20%20%20127.0.0.1:1%20-%20%22GET%20/admin%22%20200"
        assert handshake(port, forged) == "403"
    logged = [record.getMessage() for record in caplog.records if record.name == "wsplay"]
    assert any("No WebSocket route matches /nope\\r\\nINFO:" in line for line in logged)
    assert not any(char in line for line in logged for char in RAW_CONTROLS)


def test_a_huge_exception_message_is_kept_and_shown_cut(pg, capsys) -> None:
    huge = "x" * 2**20
    for _ in range(2):
        with connect(f"ws://127.0.0.1:{pg.port}/calc", max_size=None) as ws:
            ws.send(huge)
            with pytest.raises(ConnectionClosedError):  # 1011, once the handler raised
                ws.recv(timeout=10)
    pg.stop()
    said = capsys.readouterr().err
    assert len(said) < 6_000
    assert "could not convert string to float" in said and "characters)" in said
    for error in pg.errors:
        assert len(str(error)) < 25_000
        assert len(str(error.exception)) < 5_000 and "characters)" in str(error.exception)
    assert len(_errors_html(pg.errors, {})) < 2 * 12_000


def test_a_flood_of_errors_and_unknown_paths_is_said_a_few_times_then_counted(capsys) -> None:
    playground = wsplay.Playground(raising_app()).start()
    try:
        for n in range(12):
            assert handshake(playground.port, f"/r/{n}") == "101"
            assert handshake(playground.port, f"/nomatch/{n}") == "403"
        during = capsys.readouterr().err
    finally:
        playground.stop()
    after = capsys.readouterr().err
    assert sum("raised ValueError: oops" in said for said in notices(during)) == 3
    assert sum("No WebSocket route matches" in said for said in notices(during)) == 3
    # The first is said whole, fix first; what was held back is counted.
    first = next(said for said in notices(during) if "raised ValueError" in said)
    assert first.startswith("The handler for /r/0 raised ValueError: oops at ")
    assert re.search(r"… and 9 more ValueError errors raised at .*, line \d+ since", during + after)
    assert "… and 9 more notices like it from the app" in during + after
    assert len(playground.errors) == 12  # pg.errors keeps every one


@pytest.mark.parametrize("origin", ["null", "file://", "chrome-extension://abcdefgh"])
def test_a_refused_page_without_a_web_origin_is_advised_a_fix_that_works(origin: str) -> None:
    sentence = Refusal("Origin", origin).explain()
    advised = re.findall(r"allowed_origins=(\[[^\]]*\]|'[^']*')", sentence)
    assert advised, sentence
    for value in advised:
        OriginPolicy(eval(value))
    assert "http://localhost" in sentence


def test_an_exported_app_with_a_lone_surrogate_in_a_pattern_prints(tmp_path) -> None:
    exported = ExportedApp(
        tmp_path / "app.py", "wsplay", [("/d\ud800e\x1b[2J", "h")], [("/f\r\n", "g", "why")]
    )
    shown = str(exported)
    shown.encode("utf-8")  # print() needs it encodable
    assert "/d\\ud800e\\x1b[2J → h" in shown and "Left out /f\\r\\n (g)" in shown


def test_an_error_in_a_list_is_one_line_and_printed_whole(pg, capsys) -> None:
    """``pg.errors`` shown in a cell is a list of one-liners, the fix in each, the path
    escaped; ``print(pg.errors[-1])`` has the whole traceback."""
    assert handshake(pg.port, f"/r/x{FORGED}") == "101"
    pg.stop()
    error = pg.errors[-1]
    shown = repr(pg.errors)
    assert shown.startswith("[<HandlerError /r/x\\r\\nwsplay: all fine") and shown.endswith(">]")
    assert "\n" not in shown and not any(char in shown for char in RAW_CONTROLS)
    assert f"#{error.connection}: The handler for /r/x" in shown and "ValueError" in shown
    assert "Traceback" in str(error) and "Traceback" not in shown
