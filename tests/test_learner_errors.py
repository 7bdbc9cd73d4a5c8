"""A learner's usual mistakes, in a real kernel: each error leads with the fix, is said once,
shows only the learner's frames, and a route pattern is never sent as a path."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import wsplay
from tests.kernel import Kernel
from tests.panel_kernel import HELPERS

TIMEOUT = 10
WSPLAY_DIR = str(Path(wsplay.__file__).parent)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ACCEPT_FIRST = (
    "Your handler must call `await websocket.accept()` before it receives; "
    "it called `receive_text()` first."
)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run("import time, wsplay\nfrom wsplay import WebSocket, ws\npg = wsplay.start()")
        yield kernel


def run(kernel: Kernel, code: str, check: bool = True):
    result = kernel.run(textwrap.dedent(code), check=check)
    result.error = ANSI.sub("", result.error)
    return result


def said(kernel: Kernel, result) -> str:
    """What the notebook showed for a cell: its stderr, error, and what threads printed."""
    late = kernel.run("pass").stderr
    stray = "".join(
        message["content"].get("text", "")
        for message in kernel.stray_output
        if message["msg_type"] == "stream"
    )
    kernel.stray_output.clear()
    return result.stderr + result.error + late + stray


def define(kernel: Kernel, code: str) -> None:
    run(kernel, code)


# --- 23.1: the fix first, said once ----------------------------------------------------------
def test_forgetting_accept_leads_with_the_fix_and_is_said_once(kernel: Kernel) -> None:
    define(
        kernel,
        """
        @ws("/no-accept")
        async def no_accept(websocket: WebSocket):
            text = await websocket.receive_text()
        """,
    )
    result = run(kernel, 'pg.connect_sync("/no-accept")', check=False)
    message = result.error.strip().splitlines()[-1]
    assert message.startswith(f"HandshakeRejectedError: {ACCEPT_FIRST}"), message
    assert "The handshake was refused: the client got HTTP 403" in message
    assert message.index(ACCEPT_FIRST) < message.index("HTTP 403")
    shown = said(kernel, result)
    assert shown.count(ACCEPT_FIRST) == 1, shown
    assert "Expected state" not in shown  # the details are in pg.errors, not in the notebook
    full = kernel.value("str(pg.errors[-1])")
    assert ACCEPT_FIRST in full and "Expected state: WebSocketState.CONNECTED" in full
    assert "Traceback" in full


def test_a_refusal_seen_by_another_client_is_said_once_in_the_notebook(
    kernel: Kernel,
) -> None:
    define(
        kernel,
        """
        @ws("/send-first")
        async def send_first(websocket: WebSocket):
            await websocket.send_text("hi")
        """,
    )
    url = kernel.value("pg.url")
    before = kernel.value("len(pg.errors)")
    with pytest.raises(InvalidStatus):
        connect(f"{url}/send-first", open_timeout=TIMEOUT)
    waited = run(kernel, f"while len(pg.errors) == {before}: time.sleep(0.01)")
    shown = said(kernel, waited)
    fix = (
        "Your handler must call `await websocket.accept()` before it sends; "
        "it called `send_text()` first."
    )
    notice = shown[shown.index("wsplay: ") :]
    assert notice.startswith(f"wsplay: {fix}\n→ The handshake was refused"), notice
    assert notice.count(fix) == 1 and "Traceback" not in notice
    assert "Cell In[" in notice  # the learner's line is named


@pytest.mark.parametrize(
    ("handler", "first"),
    [
        (
            """
            @ws("/closed-then-receive")
            async def closed_then_receive(websocket: WebSocket):
                await websocket.accept()
                await websocket.close(4000)
                await websocket.receive_text()
            """,
            "Stop using a connection once your handler closes it: it already closed this one "
            "(code 4000), then called `receive_text()`.",
        ),
        (
            """
            @ws("/wrong-frame")
            async def wrong_frame(websocket: WebSocket):
                await websocket.accept()
                await websocket.receive_bytes()
            """,
            "Use receive_text() for text frames, or receive() to take either.",
        ),
    ],
)
def test_other_handler_mistakes_lead_with_the_fix(kernel: Kernel, handler: str, first: str) -> None:
    define(kernel, handler)
    path = re.search(r'@ws\("([^"]+)"\)', handler)[1]
    summary = run(
        kernel,
        f"""
        before = len(pg.errors)
        conn = pg.connect_sync({path!r})
        try:
            conn.send_text("hello")
            conn.receive_text()
        except Exception:
            pass
        while len(pg.errors) == before:
            time.sleep(0.01)
        print(pg.errors[-1].summary())
        """,
    ).stdout.strip()
    assert summary.startswith(first), summary


@pytest.mark.parametrize(
    ("code", "first"),
    [
        (
            '@ws("/chat/{room")\nasync def chat(websocket): ...',
            "Write '/chat/{room}': route '/chat/{room' has an unbalanced '{'",
        ),
        (
            '@ws("/sync")\ndef sync(websocket): ...',
            "Write `async def` in front of sync():",
        ),
        (
            '@ws("/nows")\nasync def nows(conn): ...',
            "Give nows() a parameter named `websocket` (or annotated `WebSocket`):",
        ),
        (
            '@ws("/x/{decimal:n}")\nasync def x(websocket): ...',
            "Use a known parameter type (float, int, path, str, uuid), e.g. '{int:n}':",
        ),
    ],
)
def test_registration_mistakes_lead_with_the_fix(kernel: Kernel, code: str, first: str) -> None:
    error = run(kernel, code, check=False).error
    assert f"\nInvalidRouteError: {first}" in error, error


# --- 23.2: only the learner's frames ---------------------------------------------------------
def test_a_route_typo_shows_the_cell_line_and_no_wsplay_frame(kernel: Kernel) -> None:
    error = run(
        kernel,
        """
        room_count = 1
        @ws("/chat/{room")
        async def chat(websocket):
            await websocket.accept()
        """,
        check=False,
    ).error
    assert '@ws("/chat/{room")' in error  # the learner's line
    assert "Cell In[" in error  # formatted by IPython, as any cell's traceback
    assert "has an unbalanced '{'" in error
    assert WSPLAY_DIR not in error and "routing.py" not in error, error


def test_a_refused_connect_shows_no_frame_of_the_client(kernel: Kernel) -> None:
    define(
        kernel,
        """
        @ws("/refuse")
        async def refuse(websocket: WebSocket):
            await websocket.close()
        """,
    )
    error = run(kernel, 'conn = pg.connect_sync("/refuse")', check=False).error
    assert 'conn = pg.connect_sync("/refuse")' in error
    assert "HandshakeRejectedError" in error
    assert WSPLAY_DIR not in error and "kernel.py" not in error, error
    assert "_loop.py" not in error and "concurrent" not in error, error


# --- 23.4: a pattern is not a path -----------------------------------------------------------
def test_connecting_to_a_route_pattern_is_refused_with_an_example(kernel: Kernel) -> None:
    define(
        kernel,
        """
        @ws("/chat/{user}")
        async def chat_user(websocket: WebSocket, user: str):
            await websocket.accept()
            await websocket.send_text(f"{user} joined")
        """,
    )
    handshakes = kernel.value("len(pg.timeline.events(kind='handshake'))")
    error = run(kernel, 'pg.connect_sync("/chat/{user}")', check=False).error
    message = error.strip().splitlines()[-1]
    assert message == (
        "InvalidPathError: Connect to a path that `/chat/{user}` matches, such as "
        "`/chat/alice`: `/chat/{user}` is a route pattern, not a path (sent as it is, the "
        "handler would receive the parameter's own text as its value)."
    )
    assert WSPLAY_DIR not in error
    assert kernel.value("len(pg.timeline.events(kind='handshake'))") == handshakes  # no I/O
    for pattern, example in [
        ("/items/{int:id}", "/items/1"),
        ("/at/<float:x>", "/at/1.5"),
        ("/chat/:user", "/chat/alice"),
    ]:
        error = run(kernel, f"await pg.connect({pattern!r})", check=False).error
        assert f"such as `{example}`" in error, error
    uuid_error = run(kernel, 'await pg.connect("/u/{uuid:u}?x=1")', check=False).error
    assert re.search(r"such as `/u/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", uuid_error)
    # The example works: the handler gets "alice", not "{user}".
    assert run(kernel, 'print(pg.connect_sync("/chat/alice").receive_text())').stdout == (
        "alice joined\n"
    )


# --- 23.4 in the panel and the magic ---------------------------------------------------------
PANEL_SETUP = (
    HELPERS
    + """
%load_ext wsplay
pg = wsplay.start()
p = wsplay.panel()
c = p.clients[0]

@ws("/chat/{user}")
async def chat_user(websocket: WebSocket, user: str):
    await websocket.accept()
    await websocket.send_text(f"{user} joined")
"""
)


@pytest.fixture(scope="module")
def panel_kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(PANEL_SETUP)
        yield kernel


def test_a_pattern_typed_in_the_path_box_is_refused_with_an_example(
    panel_kernel: Kernel,
) -> None:
    out = run(
        panel_kernel,
        """
        c.path.value = "/chat/{user}"
        c.connect_button.click()
        print(c.connect_error.value)
        print(c.model.core is None, len(pg.timeline.events(kind="handshake")))
        """,
    ).stdout.splitlines()
    assert "`/chat/{user}` is a route pattern, not a path" in out[0]
    assert "such as `/chat/alice`" in out[0]
    assert out[1] == "True 0"  # nothing was sent


def test_wsplay_connect_to_a_pattern_is_refused_with_an_example(panel_kernel: Kernel) -> None:
    out = run(
        panel_kernel,
        """
        view = get_ipython().run_line_magic("wsplay", "connect /items/{int:id}")
        print(view.clients[0].connect_error.value)
        print(view.clients[0].model.core is None)
        """,
    ).stdout.splitlines()
    assert "`/items/{int:id}` is a route pattern, not a path" in out[0]
    assert "such as `/items/1`" in out[0]
    assert out[1] == "True"


def test_the_route_list_fills_the_path_box_with_an_example_selected(
    panel_kernel: Kernel,
) -> None:
    out = run(
        panel_kernel,
        """
        import json
        wait_for(p.routes, "routes", lambda rows: any(r["pattern"] == "/chat/{user}" for r in rows))
        index = [r["pattern"] for r in p.routes.routes].index("/chat/{user}")
        print(json.dumps(p.routes.routes[index]))
        print(json.dumps(list(c.path.options)))
        c.path.value = ""
        p.routes.pick(index, client=0)  # what a click on the route does, from the page
        print(c.path.value)
        c.connect_button.click()
        wait_log(c, lambda text: "alice joined" in text)
        print("joined")
        """,
    ).stdout.splitlines()
    assert json.loads(out[0]) == {
        "pattern": "/chat/{user}",
        "path": "/chat/alice",
        "select": [6, 11],  # "alice", selected in the box by the page, ready to type over
    }
    assert "/chat/alice" in json.loads(out[1]) and "/chat/{user}" not in json.loads(out[1])
    assert out[2:] == ["/chat/alice", "joined"]


def test_invalid_json_shows_the_message_not_the_decoder_inside_wsplay(kernel: Kernel) -> None:
    define(
        kernel,
        """
        @ws("/not-json")
        async def not_json(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("hello")
        """,
    )
    error = run(
        kernel, 'conn = pg.connect_sync("/not-json")\ndata = conn.receive_json()', check=False
    ).error
    assert "data = conn.receive_json()" in error
    assert "InvalidMessageError: Got invalid JSON" in error
    assert "JSONDecodeError" not in error and WSPLAY_DIR not in error, error


def test_a_wrong_frame_read_in_a_cell_leads_with_the_fix(kernel: Kernel) -> None:
    define(
        kernel,
        """
        @ws("/bytes")
        async def sends_bytes(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_bytes(b"\\x01\\x02")
        """,
    )
    error = run(
        kernel, 'conn = pg.connect_sync("/bytes")\ntext = conn.receive_text()', check=False
    ).error
    message = error.strip().splitlines()[-1]
    assert message == (
        "InvalidMessageError: Use receive_bytes() for binary frames, or receive() to take "
        "either. receive_text() expected a text frame but the server sent a binary frame: "
        "b'\\x01\\x02' (2 bytes)."
    )
    assert WSPLAY_DIR not in error


def test_a_path_no_route_matches_leads_with_the_routes_to_use(kernel: Kernel) -> None:
    error = run(kernel, 'pg.connect_sync("/nowhere")', check=False).error
    message = error.strip().splitlines()[-1]
    assert message.startswith(
        "HandshakeRejectedError: Connect to a path one of your routes matches (/no-accept, "
    ), message
    assert message.endswith(
        "The handshake was refused: the client got HTTP 403 (no route matches /nowhere)."
    )
