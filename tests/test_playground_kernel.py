"""The playground inside a real ipykernel, as a notebook uses it.

Cells run in a kernel started with jupyter_client; this test process talks to the
playground over 127.0.0.1 with the real ``websockets`` client, as another program would.
"""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.kernel import Kernel

TIMEOUT = 10


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run("import asyncio, threading, time, wsplay\nfrom wsplay import WebSocket, ws")
        kernel.run("pg = wsplay.start()")
        yield kernel


@pytest.fixture
def url(kernel: Kernel) -> str:
    kernel.run("pg = wsplay.start()")
    return kernel.value("pg.url")


def define(kernel: Kernel, code: str) -> None:
    kernel.run(textwrap.dedent(code))


def echo_with_tag(kernel: Kernel, tag: str) -> None:
    define(
        kernel,
        f"""
        @ws("/echo")
        async def echo(websocket: WebSocket):
            await websocket.accept()
            while True:
                await websocket.send_text("{tag}:" + await websocket.receive_text())
    """,
    )


def round_trip(client, text: str) -> str:
    client.send(text)
    return client.recv(timeout=TIMEOUT)


def test_a_handler_defined_in_a_cell_is_live(kernel: Kernel, url: str) -> None:
    echo_with_tag(kernel, "v1")
    assert kernel.value("pg.routes") == ["/echo"]
    with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
        assert round_trip(client, "hello") == "v1:hello"


def test_redefinition_keeps_open_connections_on_their_code(kernel: Kernel, url: str) -> None:
    echo_with_tag(kernel, "old")
    with connect(f"{url}/echo", open_timeout=TIMEOUT) as old:
        assert round_trip(old, "a") == "old:a"
        echo_with_tag(kernel, "new")
        with connect(f"{url}/echo", open_timeout=TIMEOUT) as new:
            assert round_trip(new, "b") == "new:b"
        assert round_trip(old, "c") == "old:c"


def test_server_serves_while_a_cell_blocks(kernel: Kernel, url: str, tmp_path) -> None:
    echo_with_tag(kernel, "busy")
    flag = tmp_path / "release"
    blocked = kernel.submit(
        f"import os\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.01)"
    )
    try:
        with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
            assert round_trip(client, "during") == "busy:during"
        # The blocking cell has not finished: the kernel is still busy with it.
        assert kernel.is_running(blocked)
    finally:
        flag.touch()
    kernel.wait(blocked)


def test_kernel_client_with_top_level_await(kernel: Kernel, url: str) -> None:
    echo_with_tag(kernel, "k")
    out = kernel.run(
        textwrap.dedent("""
        conn = await pg.connect("/echo")
        await conn.send_text("hi")
        print(await conn.receive_text())
        await conn.send_json({"a": 1})
        print(await conn.receive_text())
        await conn.close(4000, "done")
        print(conn)
    """)
    ).stdout.splitlines()
    assert out[:2] == ["k:hi", 'k:{"a":1}']
    assert "closed by client (4000)" in out[2]
    sync = kernel.run(
        textwrap.dedent("""
        blocking = pg.connect_sync("/echo")
        blocking.send_text("plain")
        print(blocking.receive_text())
        blocking.close()
    """)
    ).stdout.strip()
    assert sync == "k:plain"


def test_a_crashing_handler_is_reported_in_the_notebook(kernel: Kernel, url: str) -> None:
    define(
        kernel,
        """
        @ws("/boom")
        async def boom(websocket: WebSocket):
            await websocket.accept()
            raise ValueError("kaput")
    """,
    )
    before = kernel.value("len(pg.errors)")
    with (
        connect(f"{url}/boom", open_timeout=TIMEOUT) as client,
        pytest.raises(ConnectionClosed) as closed,
    ):
        client.recv(timeout=TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "kaput")
    assert kernel.value("len(pg.errors)") == before + 1
    assert kernel.value("[pg.errors[-1].path, repr(pg.errors[-1].exception)]") == [
        "/boom",
        "ValueError('kaput')",
    ]
    # The error was shown as output in the notebook, traceback and all.
    shown = kernel.run("pass").stderr + "".join(
        message["content"].get("text", "")
        for message in kernel.stray_output
        if message["msg_type"] == "stream"
    )
    assert "The handler for /boom" in shown and "ValueError: kaput" in shown
    assert "client got close code 1011" in shown


def test_close_from_the_server_side_with_a_plain_call(kernel: Kernel, url: str) -> None:
    echo_with_tag(kernel, "s")
    with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
        assert round_trip(client, "x") == "s:x"
        kernel.run('[c for c in pg.connections if c.path == "/echo"][-1].close(4000, "bye")')
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")


def test_stop_closes_with_1001_frees_the_port_and_starts_again(kernel: Kernel, url: str) -> None:
    echo_with_tag(kernel, "z")
    port = kernel.value("pg.port")
    with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
        assert round_trip(client, "x") == "z:x"
        kernel.run("pg.stop()")
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=TIMEOUT)
    assert closed.value.rcvd.code == 1001
    assert kernel.value("pg.running") is False
    threads = kernel.value("[t.name for t in threading.enumerate()]")
    assert not [name for name in threads if name.startswith("wsplay")], threads
    with socket.socket() as probe:  # the port is free for anyone (as servers bind it)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    kernel.run(f"pg = wsplay.start(port={port})")
    with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=TIMEOUT) as client:
        assert round_trip(client, "again") == "z:again"


def test_a_busy_port_is_a_clear_error(kernel: Kernel) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kernel.run(f"wsplay.Playground(port={port}).start()", check=False)
    assert "PortInUseError" in result.error
    assert f"Port {port} on 127.0.0.1 is already in use" in result.error
    assert "wsplay.start()" in result.error


def test_kernel_exits_by_itself_with_a_playground_running() -> None:
    kernel = Kernel()
    kernel.run("import wsplay\npg = wsplay.start()\nconn = pg.connect_sync('/')", check=False)
    process = kernel.manager.provisioner.process
    kernel.client.shutdown()  # what a front end sends; no SIGTERM, no kill
    try:
        # A server thread that kept the process alive would make this time out.
        assert process.wait(timeout=20) == 0
    finally:
        kernel.shutdown()
