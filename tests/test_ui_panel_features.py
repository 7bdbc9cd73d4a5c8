"""The panel's tools beyond the first minute, in a real kernel against the real server:
ping and keepalive, saved messages, the handshake in full, repeat, and the timeline's
filters. What the page draws of them is in tests/test_browser_panel.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from tests.kernel import Kernel
from tests.panel_kernel import HANDLERS, HELPERS

SETUP = (
    HELPERS
    + HANDLERS
    + '''
import asyncio, html

@ws("/slow")
async def slow(websocket: WebSocket):
    """Reads a message a second: a client that sends faster meets backpressure."""
    await websocket.accept()
    while True:
        await websocket.receive_bytes()
        await asyncio.sleep(1)

@ws("/deaf")
async def deaf(websocket: WebSocket):
    """Accepts, then never reads: a keepalive timeout is noticed by the server alone."""
    await websocket.accept()
    await asyncio.sleep(60)

pg = wsplay.start()
p = wsplay.panel()
c = p.clients[0]

def connect(view, path="/echo", headers=""):
    view.path.value, view.headers.value = path, headers
    view.connect_button.click()
    wait_for(view.status, "value", lambda v: "open" in v)

def leave(view):
    view.model.close(1000, "")
    wait_for(view.status, "value", lambda v: "not connected" in v)
'''
)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(SETUP)
        yield kernel


def cell(kernel: Kernel, code: str) -> str:
    return kernel.run(textwrap.dedent(code)).stdout


def test_ping_from_a_cell_and_from_the_panel(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        conn = await pg.connect("/echo")
        rtt = await conn.ping()
        blocking = pg.connect_sync("/echo")
        print(type(rtt).__name__, 0 < rtt < 5, 0 < blocking.ping() < 5)
        await conn.close(); blocking.close()
        connect(c)
        c.ping_button.click()
        wait_log(c, lambda v: "pong: round trip" in v)
        ident = c.model.core.id
        wait_rows(lambda rows: [r["kind"] for r in rows if r["conn"] == ident][-2:]
                  == ["ping", "pong"])
        rows = [r for r in p.timeline.rows if r["conn"] == ident][-2:]
        print([(r["kind"], r["dir"]) for r in rows])
        print([line.text for line in c.model.log()][-2:])
        leave(c)
        """,
    ).splitlines()
    assert out[0] == "float True True"
    assert out[1] == "[('ping', 'in'), ('pong', 'out')]"  # the server saw both, on the lane
    assert out[2].startswith("['ping', 'pong: round trip ") and out[2].endswith(" ms']")


def test_a_keepalive_timeout_is_drawn_and_explained(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        import base64, os, socket
        quick = wsplay.Playground(ping_interval=0.2, ping_timeout=0.3).start()
        other = wsplay.ui.Panel(quick)
        try:
            # A client that completes the handshake and then never answers a ping.
            silent = socket.create_connection(("127.0.0.1", quick.port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            silent.sendall(
                f"GET /deaf HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\n"
                f"Connection: Upgrade\\r\\nSec-WebSocket-Key: {key}\\r\\n"
                "Sec-WebSocket-Version: 13\\r\\n\\r\\n".encode())
            assert silent.recv(4096).startswith(b"HTTP/1.1 101")
            wait_rows(lambda rows: any(r["kind"] == "close" for r in rows), panel=other)
            close = [r for r in other.timeline.rows if r["kind"] == "close"][-1]
            pings = [r for r in other.timeline.rows if r["kind"] == "ping"]
            print(close["label"]); print(close["title"]); print(pings[0]["dir"])
            silent.close()
        finally:
            other.close(); quick.stop()
        """,
    ).splitlines()
    assert out[0] == "close 1011 Internal Error 'keepalive ping timeout' (by server)"
    assert "no pong came back within ping_timeout" in out[1]
    assert "wsplay.start(ping_interval=..., ping_timeout=...)" in out[1]
    assert out[2] == "out"  # the server's keepalive ping, toward the client


def test_saved_messages_are_sent_with_one_click_and_outlive_the_cell(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        same = wsplay.panel(messages={"hi": "hello", "bin": b"\\x00\\xff",
                                      "join": {"type": "join"}})
        wait_for(c.saved.row, "children", lambda row: len(row) == 3 + 3)
        print(same is p, [b.children[0].description for b in c.saved.chips])
        connect(c)
        c.saved.chips[0].children[0].click()       # ▶ hi
        wait_log(c, lambda v: "← text 5 B hello" in v)
        c.mode.value, c.payload.value = "json", '{"n": 1}'
        c.saved.name.value = "one"
        c.saved.save_button.click()
        c.saved.send_all_button.click()
        wait_log(c, lambda v: '← text 7 B {"n":1}' in v)
        log = c.model.log()
        opened = max(i for i, line in enumerate(log) if line.kind == "open")
        print([line.text for line in log[opened:] if line.direction == "→"])
        c.saved.name.value = ""
        c.saved.save_button.click()
        print(c.saved.message.value)
        leave(c)
        again = wsplay.panel()                 # the cell run again: the same panel
        fresh = wsplay.ui.Panel(pg)            # even a new panel: Client 1 keeps its own
        print(again is p, [b.children[0].description
                           for b in fresh.clients[0].saved.chips])
        fresh.close()
        try:
            wsplay.panel(messages={"bad": object()})
        except TypeError as error:
            print(error)
        """,
    ).splitlines()
    assert out[0] == "True ['▶ hi', '▶ bin', '▶ join']"
    assert out[1] == "['hello', 'hello', '00 ff | ··', '{\"type\":\"join\"}', '{\"n\":1}']"
    assert "Type a name for the message first" in out[2]
    assert out[3] == "True ['▶ hi', '▶ bin', '▶ join', '▶ one']"
    assert "'bad': object is not text, bytes or JSON" in out[4]


def test_the_handshake_in_full_accepted_and_refused(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        connect(c, headers="x-user: ann")
        wait_for(c.handshake, "value", lambda v: f"Handshake #{c.model.core.id}: " in v)
        shown = c.handshake.value
        print("GET /echo HTTP/1.1" in shown, "<b>x-user</b>: ann" in shown,
              "<b>sec-websocket-key</b>" in shown, "HTTP/1.1 101 Switching Protocols" in shown,
              "Sec-WebSocket-Accept" in shown, "✓ matches" in shown)
        # RFC 6455's own example (section 1.3)
        print(wsplay.ui.handshake.expected_accept("dGhlIHNhbXBsZSBub25jZQ=="))
        leave(c)
        # A page on another site is refused by the playground's Origin check, with a body.
        c.path.value, c.headers.value = "/echo", "origin: https://elsewhere.example"
        c.connect_button.click()
        wait_for(c.handshake, "value", lambda v: f"#{c.model.core.id} refused" in v)
        print(c.handshake.value.replace("\\n", " "))
        c.headers.value = ""
        """,
    ).splitlines()
    assert out[0] == "True True True True True True"
    assert out[1] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    refused = out[2]
    assert "HTTP/1.1 403 Forbidden" in refused
    assert "https://elsewhere.example" in refused and "allowed_origins" in refused  # the body
    assert "close code 1006" in refused  # what a browser would see instead


def test_repeat_sends_on_a_beat_stops_and_shows_backpressure(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        connect(c)
        c.mode.value, c.payload.value = "text", "tick"
        c.repeat_every.value, c.repeat_times.value = "20", "5"
        c.repeat_start.click()
        wait_log(c, lambda v: "repeat done" in v)
        log = c.model.log()
        opened = max(i for i, line in enumerate(log) if line.kind == "open")
        print(sum(1 for line in log[opened:] if line.direction == "→" and line.text == "tick"))
        c.repeat_every.value, c.repeat_times.value = "200", "1000"
        c.repeat_start.click()
        c.model.wait_until(lambda log: sum(
            line.direction == "→" and line.text == "tick" for line in log[opened:]) >= 8)
        c.repeat_stop.click()
        wait_for(c.repeat_status, "value", lambda v: "repeat stopped" in v)
        print(c.model.repeating.sent < 1000, c.repeat_status.value)
        c.repeat_times.value = "0"
        c.repeat_start.click()
        print(html.unescape(c.send_error.value))
        leave(c)
        # A handler that reads a message a second, sent 1 MiB as fast as the socket takes.
        connect(c, "/slow")
        c.mode.value, c.bytes_format.value = "bytes", "utf-8"
        c.payload.value = "x" * 2**20
        c.repeat_every.value, c.repeat_times.value = "0", "12"
        c.repeat_start.click()
        state = c.model.repeating
        c.model.wait_until(lambda _: state.ended or state.longest_wait >= 0.05, timeout=60)
        print(c.model.repeating.describe())
        c.model.stop_repeat()
        c.model.drop()
        wait_for(c.status, "value", lambda v: "not connected" in v)
        c.mode.value = "text"
        """,
    ).splitlines()
    assert out[0] == "5"
    assert out[1].startswith("True <small>repeat stopped: ")
    assert "'times' is between 1 and 10000" in out[2]
    assert "(backpressure: the server reads slower than you send)" in out[3]


def test_the_timeline_filters_search_the_whole_timeline(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        second = p.add_client()
        connect(c, "/chat"); connect(second, "/chat")
        c.payload.value = "needle"
        c.send_button.click()
        wait_log(second, lambda v: "needle" in v)
        mine = second.model.core.id
        def shown(**filters):
            p.timeline.filters = filters
            wait_for(p.timeline, "pushed", lambda _: not p.timeline._reset_wanted)
            return list(p.timeline.rows)
        print({r["conn"] for r in shown(connection=mine)} == {mine})
        print({r["kind"] for r in shown(kind="close")} <= {"close"})
        print([r["label"] for r in shown(text="NEEDLE", direction="out")])
        print({r["dir"] for r in shown(direction="in")})
        p.timeline.filters = {}
        leave(c); leave(second)
        """,
    ).splitlines()
    assert out[0] == "True"
    assert out[1] == "True"
    # The broadcast's two copies, one per lane (the page draws them as one fan-out).
    assert out[2] == "['text needle (6 B)', 'text needle (6 B)']"
    assert out[3] == "{'in'}"


def test_counters_are_the_connections_and_close_from_server_picks_the_panels_own(
    kernel: Kernel,
) -> None:
    out = cell(
        kernel,
        """
        connect(c)
        c.payload.value = "one"
        c.send_button.click()
        wait_for(c.status, "value", lambda v: "received 1" in v)
        leave(c)
        connect(c)                                    # a new connection counts from zero
        print(c.status.value.split("</span>")[1])
        mine = c.model.core.id
        cells = pg.connect_sync("/echo")              # a newer connection, a cell's own
        wait_for(p.server_close_target, "options", lambda o: any(i == cells.id for _, i in o))
        print(p.server_close_target.value == mine, dict(
            (i, label) for label, i in p.server_close_target.options)[mine])
        cells.close(); leave(c)
        """,
    ).splitlines()
    assert out[0].endswith("sent 0 · received 0</small>")
    assert out[1].startswith("True #") and out[1].endswith("/echo (Client 1)")


def test_a_client_is_removed_with_its_button_and_its_connection_closes(kernel: Kernel) -> None:
    out = cell(
        kernel,
        """
        extra = p.add_client()
        connect(extra)
        ours = extra.model.core.id
        extra.remove_button.click()
        print(extra in p.clients, extra in p.clients_box.children, extra.comm is None)
        closed = server_close(ours)
        print(closed.code, closed.reason)
        again = p.add_client()                  # names stay unique after a removal
        print(len({view.title_text for view in p.clients}) == len(p.clients), again.title_text)
        p.remove_client(again); p.remove_client(again)   # twice: nothing the second time
        print(again in p.clients, c in p.clients)
        """,
    ).splitlines()
    assert out[0] == "False False True"
    assert out[1] == "1001 the client was removed from the panel"
    assert out[2].startswith("True Client ")
    assert out[3] == "False True"


def test_a_client_removed_while_connecting_closes_once_the_handler_accepts(
    kernel: Kernel,
) -> None:
    out = cell(
        kernel,
        """
        gate = threading.Event()

        @ws("/gated")
        async def gated(websocket: WebSocket):
            await asyncio.to_thread(gate.wait, 10)  # accepts only when the cell says so
            await websocket.accept()
            try:
                while True:
                    await websocket.receive_text()
            except WebSocketDisconnectError:
                pass

        slow = p.add_client()
        slow.path.value = "/gated"
        slow.connect_button.click()
        late = slow.model.core.id
        slow.remove_button.click()                  # still in its handshake
        gate.set()
        closed = server_close(late)
        print(closed.code, closed.reason, closed.by)
        print([c.id for c in pg.connections if c.id == late])
        """,
    ).splitlines()
    assert out[0] == "1001 the client was removed from the panel client"
    assert out[1] == "[]"
