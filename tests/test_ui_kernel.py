"""The panel, the editor and the magic in a real kernel: clicks drive the real server.

Each check waits for a widget's value to change (observe + Event), the way a front end
would see it; the log and the timeline are appended in the page, so for them the check
waits for what was pushed to the page (``pushed``, and the rows the page holds), and the
pushes are also checked as comm messages on IOPub.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from tests.kernel import Kernel
from tests.panel_kernel import HANDLERS, HELPERS

SETUP = (
    HELPERS
    + HANDLERS
    + """
pg = wsplay.start()
p = wsplay.panel()
c = p.clients[0]
"""
)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(SETUP)
        yield kernel


def cell(kernel: Kernel, code: str):
    return kernel.run(textwrap.dedent(code))


def test_connect_send_and_close_by_clicking(kernel: Kernel) -> None:
    result = cell(
        kernel,
        """
        c.path.value = "/echo"
        c.connect_button.click()
        wait_for(c.status, "value", lambda v: "open" in v)
        c.payload.value = "hello"
        c.send_button.click()
        wait_log(c, lambda v: v.count("hello") >= 2)  # sent and echoed
        wait_rows(lambda rows: any(r["dir"] == "out" and "hello" in r["label"] for r in rows))
        c.code.value, c.reason.value = "4000", "done"
        c.close_button.click()
        wait_log(c, lambda v: "4000" in v)
        wait_rows(lambda rows: any("close 4000" in r["label"] for r in rows))
        print(c.model.received, [r["label"] for r in p.timeline.rows][-3:])
    """,
    )
    received, labels = result.stdout.split(" ", 1)
    assert received == "1"
    assert "text hello (5 B)" in labels and "close 4000" in labels
    # The front end was told: the log's new lines went out as custom comm messages,
    # appended (never the whole log again).
    appended: dict[str, list] = {}  # comm id -> rows appended in that widget's page
    for m in result.comm_messages:
        content = m.get("data", {}).get("content", {})
        if m.get("data", {}).get("method") == "custom" and content.get("kind") == "append":
            appended.setdefault(m["comm_id"], []).extend(content["rows"])
    rows = [row for rows in appended.values() for row in rows]
    assert any(row.get("text") == "hello" and row["dir"] == "←" for row in rows)
    for rows in appended.values():  # no row sent twice
        assert len({row["seq"] for row in rows}) == len(rows)


def test_bytes_in_hex_and_json(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        c.connect_button.click()
        wait_for(c.status, "value", lambda v: "open" in v)
        c.mode.value, c.bytes_format.value, c.payload.value = "bytes", "hex", "68 69 00"
        c.send_button.click()
        wait_log(c, lambda v: "← bytes 3 B 68 69 00" in v)
        c.mode.value, c.payload.value = "json", '{"a": [1, 2]}'
        c.send_button.click()
        wait_log(c, lambda v: '← text 11 B {"a":[1,2]}' in v)
        c.model.close(1000, "")
        wait_for(c.status, "value", lambda v: "not connected" in v)
        print("ok")
    """,
    ).stdout
    assert out.strip() == "ok"


def test_bad_input_is_shown_next_to_its_box_and_nothing_is_sent(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        c.connect_button.click()
        wait_for(c.status, "value", lambda v: "open" in v)
        before = pg.timeline.recorded
        c.mode.value, c.payload.value = "json", "{'single': 'quotes'}"
        c.send_button.click()
        c.mode.value, c.bytes_format.value, c.payload.value = "bytes", "hex", "zz"
        c.send_button.click()
        c.code.value = "1005"
        c.close_button.click()
        print(pg.timeline.recorded - before, "|", c.send_error.value, "|", c.close_error.value)
        print(c.model.connected)
        c.model.close(1000, "")
        wait_for(c.status, "value", lambda v: "not connected" in v)
        c.path.value = ""
        c.connect_button.click()
        print(c.connect_error.value)
    """,
    ).stdout.splitlines()
    sent, send_error, close_error = out[0].split(" | ")
    assert sent == "0"
    assert "do not parse as hex" in send_error
    assert "1005" in close_error and "forbids sending it" in close_error
    assert out[1] == "True"  # the bad close code did not close anything
    assert "Type a path" in out[2]


def test_two_clients_side_by_side_and_a_close_from_the_server(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        second = p.add_client()
        for view in (c, second):
            view.path.value = "/chat"
            view.connect_button.click()
            wait_for(view.status, "value", lambda v: "open" in v)
        c.mode.value, c.payload.value = "text", "hi all"
        c.send_button.click()
        wait_log(second, lambda v: "hi all" in v)
        wait_for(p.server_close_target, "options", lambda o: len(o) >= 2)
        p.server_close_target.value = second.model.core.id
        p.server_close_code.value, p.server_close_reason.value = "4001", "kicked"
        p.server_close_button.click()
        wait_log(second, lambda v: "closed by server: 4001" in v)
        print(len(p.clients_box.children), "kicked" in second.log_view.text())
        c.model.close(1000, "")
        wait_for(c.status, "value", lambda v: "not connected" in v)
    """,
    ).stdout.split()
    assert out == ["2", "True"]


def test_stop_and_start_from_the_panel(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        p.start_stop.click()
        wait_for(p.status, "value", lambda v: "stopped" in v)
        c.path.value = "/echo"
        c.connect_button.click()
        wait_log(c, lambda v: "The server is stopped" in v)
        p.start_stop.click()
        wait_for(p.status, "value", lambda v: "running" in v)
        c.connect_button.click()
        wait_for(c.status, "value", lambda v: "open" in v)
        c.model.close(1000, "")
        wait_for(c.status, "value", lambda v: "not connected" in v)
        print(pg.running)
    """,
    ).stdout.split()
    assert out == ["True"]


def test_handler_errors_appear_in_the_panel(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        @ws("/boom")
        async def boom(websocket: WebSocket):
            await websocket.accept()
            raise RuntimeError("the handler broke")
        c.path.value = "/boom"
        c.connect_button.click()
        wait_for(p.errors, "value", lambda v: "the handler broke" in v)
        wait_log(c, lambda v: "1011" in v)
        print("Traceback" in p.errors.value, "close code 1011" in p.errors.value)
    """,
    ).stdout.split()
    assert out == ["True", "True"]


def test_editor_deploys_and_reports_syntax_errors(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        editor = wsplay.HandlerEditor("/shout/{word}")
        editor.body.value = "await websocket.accept(\\n"
        editor.deploy_button.click()
        print(editor.result.value.replace("\\n", " "))
        editor.body.value = "await websocket.accept()\\nawait websocket.send_text(word.upper())"
        editor.deploy_button.click()
        print(editor.result.value)
        print(editor.signature.value)
    """,
    ).stdout.splitlines()
    assert "Line 1 of the handler for /shout/{word}" in out[0] and "never closed" in out[0]
    assert "is live" in out[1]
    assert "async def handler(websocket, word):" in out[2]
    url = kernel.value("pg.url")
    with connect(f"{url}/shout/hey", open_timeout=10) as client:
        assert client.recv(timeout=10) == "HEY"


def test_the_magic_in_a_kernel(kernel: Kernel) -> None:
    kernel.run("%load_ext wsplay")
    out = kernel.run(
        "%%wsplay /hi/{name}\nawait websocket.accept()\nawait websocket.send_text(f'hello {name}')"
    ).stdout
    assert "/hi/{name} is live" in out
    url = kernel.value("pg.url")
    with connect(f"{url}/hi/ann", open_timeout=10) as client:
        assert client.recv(timeout=10) == "hello ann"
    assert "/hi/{name}" in kernel.run("%wsplay routes").stdout
    assert "running at ws://127.0.0.1" in kernel.run("%wsplay status").stdout
    wrong = kernel.run("%wsplay launch", check=False)
    # IPython shows a UsageError as a message, not as a traceback.
    assert wrong.error == ""
    assert "UsageError" in wrong.stderr and "invalid choice: 'launch'" in wrong.stderr
    assert "Usage:" in wrong.stderr and "Traceback" not in wrong.stderr
    shown = kernel.run("view = %wsplay connect /echo\nprint(type(view).__name__)").stdout
    assert shown.strip() == "Panel"


def test_flood_updates_stay_throttled_and_bounded(kernel: Kernel) -> None:
    result = cell(
        kernel,
        """
        @ws("/flood")
        async def flood(websocket: WebSocket):
            await websocket.accept()
            for index in range(10_000):
                await websocket.send_text(f"message {index}")
            await websocket.close()

        flood_view = p.add_client()
        writes = []
        flood_view.log_view.observe(lambda change: writes.append(time.monotonic()), "pushed")
        flood_view.path.value = "/flood"
        started = time.monotonic()
        flood_view.connect_button.click()
        assert flood_view.model.wait_until(
            lambda log: any(line.kind == "close" for line in log), timeout=60)
        wait_log(flood_view, lambda v: "closed by server" in v)
        elapsed = time.monotonic() - started
        print(flood_view.model.received, len(flood_view.model.log()), len(writes),
              round(elapsed, 2), len(flood_view.log_view.rows))
    """,
    )
    received, kept, writes, elapsed, held = result.stdout.split()
    assert int(received) == 10_000
    assert int(kept) <= 500 and int(held) <= 500  # the log is bounded, here and in the page
    # At most one push per refresh interval (0.05 s), plus the first and the last.
    assert int(writes) <= float(elapsed) / 0.05 + 3
    # Each push carries at most 20 rows: what the page is sent stays bounded in a flood.
    pushes = [
        m["data"]["content"]
        for m in result.comm_messages
        if m.get("data", {}).get("method") == "custom"
    ]
    assert pushes and max(len(push["rows"]) for push in pushes) <= 20
    assert any(push.get("missed") for push in pushes)  # and says how many it left out
