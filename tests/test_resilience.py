"""Learners' mistakes, in a real ipykernel: each is named, each is recovered without a restart.

A handler that blocks the loop (``time.sleep``), one that spins without ``await``, one that
never reads, clients that leave, panels re-run a hundred times, large headers, errors that
hold large objects, and the sentences wsplay says about each. The kernel is driven with
jupyter_client; this process talks to the playground over 127.0.0.1 with the real
``websockets`` client (or a raw socket, for a client that never answers a ping).
"""

from __future__ import annotations

import base64
import os
import socket
import textwrap
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.kernel import Kernel

TIMEOUT = 10

SETUP = """
import asyncio, gc, sys, threading, time, wsplay
from wsplay import WebSocket, ws

@ws("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())

@ws("/deaf")
async def deaf(websocket: WebSocket):
    await websocket.accept()
    await asyncio.sleep(3600)

@ws("/never")
async def never(websocket: WebSocket):
    await asyncio.sleep(3600)

@ws("/spin")
async def spin(websocket: WebSocket):
    await websocket.accept()
    n = 0
    while True:
        n += 1
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(SETUP)
        kernel.run("pg = wsplay.start()")
        yield kernel


def cell(kernel: Kernel, code: str, timeout: float = 60):
    return kernel.run(textwrap.dedent(code), timeout=timeout)


def url_of(kernel: Kernel) -> str:
    return kernel.value("pg.url")


class Output:
    """What the notebook has shown since a point: the cells' stderr and stray output."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.start = len(kernel.stray_output)

    def text(self) -> str:
        own = self.kernel.run("pass").stderr
        stray = self.kernel.stray_output[self.start :]
        return own + "".join(
            message["content"].get("text", "")
            for message in stray
            if message["msg_type"] == "stream"
        )

    def wait_for(self, needle: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown += self.text()
            if needle in shown:
                return shown
        raise AssertionError(f"{needle!r} never shown; the notebook showed:\n{shown}")


def wait_until(check: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def kernel_cpu_settles(kernel: Kernel, within: float = 5.0) -> float:
    """The kernel's CPU share over a 1 s window, once it is under 10 % (or the last seen)."""
    process = psutil.Process(kernel.manager.provisioner.process.pid)
    deadline = time.monotonic() + within
    share = 1.0
    while time.monotonic() < deadline:
        before = sum(process.cpu_times()[:2])
        time.sleep(1.0)
        share = sum(process.cpu_times()[:2]) - before
        if share < 0.10:
            break
    return share


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def raw_handshake(port: int, path: str) -> socket.socket:
    """A client socket that sent an upgrade request and will never read or answer again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def paths_open(kernel: Kernel, path: str) -> int:
    return kernel.value(f"len([c for c in pg.connections if c.path == {path!r}])")


# --- a blocked loop is named -------------------------------------------------------------------
def test_a_blocking_handler_is_named_with_its_line_and_fix_while_it_blocks(kernel: Kernel):
    cell(
        kernel,
        """
        @ws("/slow")
        async def slow(websocket: WebSocket):
            await websocket.accept()
            await websocket.receive_text()
            time.sleep(3)
            await websocket.send_text("late")
        """,
    )
    output = Output(kernel)
    with connect(f"{url_of(kernel)}/slow", open_timeout=TIMEOUT) as client:
        client.send("go")
        shown = output.wait_for("is blocking the server's event loop")
        with pytest.raises(TimeoutError):  # told while it still blocks, not after
            client.recv(timeout=0)
        assert client.recv(timeout=TIMEOUT) == "late"
    # The fix first, then which handler, where, and what it costs the others.
    assert "wsplay: Use `await asyncio.sleep(...)` instead of `time.sleep(...)`: " in shown
    assert "the handler for /slow (connection #" in shown
    assert "Cell In[" in shown and "`time.sleep(3)`" in shown
    wait_until(lambda: kernel.value("pg.warnings[-1].over"), what="the episode to end")
    warning = kernel.value(
        "[pg.warnings[-1].path, pg.warnings[-1].blocked_for, pg.warnings[-1].code]"
    )
    assert warning[0] == "/slow" and warning[1] > 2.0 and warning[2] == "time.sleep(3)"
    kinds = kernel.value("[e.kind for e in pg.timeline.events(kind='warning')]")
    assert kinds and set(kinds) == {"warning"}


# --- a stuck handler is stopped ----------------------------------------------------------------
def test_a_spinning_handler_is_stopped_by_itself_and_the_server_serves_again(kernel: Kernel):
    kernel.run("pg = wsplay.start(interrupt_after=2)")
    url = url_of(kernel)
    output = Output(kernel)
    with (
        connect(f"{url}/spin", open_timeout=TIMEOUT) as client,
        pytest.raises(ConnectionClosed) as closed,
    ):
        client.recv(timeout=TIMEOUT)
    assert closed.value.rcvd.code == 1011
    assert "wsplay stopped this handler" in closed.value.rcvd.reason
    with connect(f"{url}/echo", open_timeout=TIMEOUT) as client:
        client.send("again")
        assert client.recv(timeout=TIMEOUT) == "again"
    assert kernel.value("type(pg.errors[-1].exception).__name__") == "HandlerInterrupted"
    shown = output.wait_for("wsplay stopped this handler")
    assert "stops a handler stuck for 2 s" in shown
    assert kernel_cpu_settles(kernel) < 0.10


def test_stop_recovers_a_spinning_handler_without_a_restart(kernel: Kernel):
    kernel.run("pg = wsplay.start(interrupt_after=None)")
    port = kernel.value("pg.port")
    with connect(f"ws://127.0.0.1:{port}/spin", open_timeout=TIMEOUT) as client:
        took = cell(
            kernel,
            """
            started = time.monotonic()
            pg.stop()
            print(time.monotonic() - started)
            """,
        ).stdout
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=TIMEOUT)
    assert float(took) < 15
    assert kernel.value("pg.running") is False
    assert port_is_free(port)
    threads = kernel.value("[t.name for t in threading.enumerate()]")
    assert not [name for name in threads if name.startswith("wsplay")], threads
    assert kernel_cpu_settles(kernel) < 0.10
    kernel.run("pg = wsplay.start()")
    with connect(f"{url_of(kernel)}/echo", open_timeout=TIMEOUT) as client:
        client.send("back")
        assert client.recv(timeout=TIMEOUT) == "back"


def test_restart_and_start_never_hand_back_a_wedged_playground(kernel: Kernel):
    kernel.run("pg = wsplay.start(interrupt_after=None)")
    with connect(f"{url_of(kernel)}/spin", open_timeout=TIMEOUT):
        wait_until(lambda: kernel.value("len(pg.warnings) and not pg.warnings[-1].over"))
        kernel.run("pg = wsplay.start(interrupt_after=None)")  # the same one, unblocked
        with connect(f"{url_of(kernel)}/echo", open_timeout=TIMEOUT) as client:
            client.send("unblocked")
            assert client.recv(timeout=TIMEOUT) == "unblocked"
    with connect(f"{url_of(kernel)}/spin", open_timeout=TIMEOUT):
        wait_until(lambda: kernel.value("len(pg.warnings) and not pg.warnings[-1].over"))
        kernel.run("pg.restart()", timeout=30)
    assert kernel.value("pg.running") is True
    with connect(f"{url_of(kernel)}/echo", open_timeout=TIMEOUT) as client:
        client.send("restarted")
        assert client.recv(timeout=TIMEOUT) == "restarted"
    assert kernel_cpu_settles(kernel) < 0.10
    kernel.run("pg = wsplay.start(interrupt_after=5)")


def test_the_exercise_checker_stops_a_spinning_handler(kernel: Kernel):
    shown = cell(
        kernel,
        """
        from wsplay.exercises import check

        async def greet_spinning(websocket: WebSocket, name: str):
            await websocket.accept()
            while True:
                pass

        report = check("greet", greet_spinning)
        print(report)
        """,
    ).stdout
    assert "HandlerInterrupted" in shown and "without an await" in shown
    assert "Call `await websocket.accept()` first" not in shown
    threads = kernel.value("[t.name for t in threading.enumerate()]")
    assert "wsplay-testclient" not in threads
    assert kernel_cpu_settles(kernel) < 0.10


# --- stop() and pg.connections tell the truth --------------------------------------------------
def test_clients_that_left_a_handler_that_does_not_read(kernel: Kernel):
    kernel.run("pg = wsplay.start()")
    url, port = url_of(kernel), kernel.value("pg.port")
    for _ in range(3):
        with connect(f"{url}/deaf", open_timeout=TIMEOUT):
            pass
    wait_until(lambda: paths_open(kernel, "/deaf") == 0, what="the departed clients to leave")
    with connect(f"{url}/deaf", open_timeout=TIMEOUT) as client:
        wait_until(lambda: paths_open(kernel, "/deaf") == 1)
        kernel.run("kept = [c for c in pg.connections if c.path == '/deaf'][-1]")
        client.close(4001, "later")
    wait_until(lambda: paths_open(kernel, "/deaf") == 0)
    error = kernel.run('kept.close(4000, "bye")', check=False).error
    assert "ConnectionClosedOnServer" in error
    assert "has already ended (closed by client with 4001 (later))" in error
    closes = kernel.value(
        "[(e.by, e.code) for e in pg.timeline.events(connection=kept.id, kind='close')]"
    )
    assert closes == [["client", 4001]]  # and no close that never happened
    kernel.run("pg.stop()")
    assert port_is_free(port)
    kernel.run("pg = wsplay.start()")


def test_connections_the_server_ended_leave_the_list(kernel: Kernel):
    kernel.run("pg = wsplay.start(ping_interval=0.3, ping_timeout=0.3)")
    port = kernel.value("pg.port")
    silent = raw_handshake(port, "/deaf")  # never answers the server's pings
    try:
        assert silent.recv(1024).startswith(b"HTTP/1.1 101")
        wait_until(lambda: paths_open(kernel, "/deaf") == 0, what="the keepalive to end it")
    finally:
        silent.close()
    last = kernel.value("[(e.by, e.code, e.reason) for e in pg.timeline.events(kind='close')][-1]")
    assert last == ["server", 1011, "keepalive ping timeout"]
    reader = raw_handshake(port, "/echo")  # this handler reads: the app is told 1005/1006
    try:
        assert reader.recv(1024).startswith(b"HTTP/1.1 101")
        wait_until(lambda: paths_open(kernel, "/echo") == 0, what="the keepalive to end it")
    finally:
        reader.close()
    last = kernel.value("[(e.by, e.code, e.reason) for e in pg.timeline.events(kind='close')][-1]")
    assert last == ["server", 1011, "keepalive ping timeout"]  # what went out on the wire
    quitters = [raw_handshake(port, "/never") for _ in range(5)]
    wait_until(lambda: paths_open(kernel, "/never") == 5)
    for sock in quitters:
        sock.close()
    wait_until(lambda: paths_open(kernel, "/never") == 0, what="abandoned handshakes to go")
    reasons = kernel.value(
        "[e.reason for e in pg.timeline.events(kind='close') if e.by == 'client'][-5:]"
    )
    assert reasons == ["the client left before the handshake was answered"] * 5
    kernel.run("pg = wsplay.start()")


# --- re-running cells leaks nothing; memory is bounded in bytes ---------------------------------
def test_sixty_runs_of_the_panel_cell_leak_nothing(kernel: Kernel):
    kernel.run("pg = wsplay.start()")
    kernel.run("wsplay.panel()")
    before = kernel.value("threading.active_count()")
    for _ in range(60):
        kernel.run("wsplay.panel()")
    for _ in range(5):  # panels made by hand share the refresher too, and close cleanly
        kernel.run("extra = wsplay.ui.Panel(pg); extra.close()")
    assert kernel.value("threading.active_count()") <= before + 2
    assert kernel.value("wsplay.panel() is wsplay.panel()") is True
    result = cell(
        kernel,
        """
        started = time.monotonic()
        conn = pg.connect_sync("/echo")
        conn.send_text("after")
        assert conn.receive_text() == "after"
        conn.close()
        print(time.monotonic() - started)
        """,
    )
    assert float(result.stdout) < 1.0
    assert len(result.comm_messages) < 40  # one panel's updates, not sixty


def test_large_handshake_headers_are_cut_in_the_timeline(kernel: Kernel):
    kernel.run("pg = wsplay.start()")
    url = url_of(kernel)
    rss = "__import__('psutil').Process().memory_info().rss"
    trim = "gc.collect(); __import__('ctypes').CDLL('libc.so.6').malloc_trim(0)"
    kernel.run(trim)
    before = kernel.value(rss)
    headers = [(f"x-big-{index}", "v" * 4000) for index in range(60)]
    for _ in range(1000):
        with connect(f"{url}/echo", open_timeout=TIMEOUT, additional_headers=headers):
            pass
    kernel.run(trim)
    grown = kernel.value(rss) - before
    assert grown < 150 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"
    kept = kernel.value("pg.timeline.events(kind='handshake')[-1].headers[-1]")
    assert kept[0] == "…" and "characters cut" in kept[1]


def test_errors_keep_their_traceback_text_not_their_frames(kernel: Kernel):
    cell(
        kernel,
        """
        @ws("/heavy")
        async def heavy(websocket: WebSocket):
            ballast = bytearray(20_000_000)
            await websocket.accept()
            raise ValueError(f"failed with {len(ballast)} bytes held")
        """,
    )
    url = url_of(kernel)
    rss = "__import__('psutil').Process().memory_info().rss"
    trim = "gc.collect(); __import__('ctypes').CDLL('libc.so.6').malloc_trim(0)"
    kernel.run("pg.print_errors = False")  # 30 tracebacks need not be printed
    kernel.run(trim)
    before = kernel.value(rss)
    for _ in range(30):
        with (
            connect(f"{url}/heavy", open_timeout=TIMEOUT) as client,
            pytest.raises(ConnectionClosed),
        ):
            client.recv(timeout=TIMEOUT)
    wait_until(lambda: kernel.value("len([e for e in pg.errors if e.path == '/heavy'])") == 30)
    kernel.run(trim)
    grown = kernel.value(rss) - before
    assert grown < 150 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"
    assert "ballast = bytearray" in kernel.value(
        "pg.errors[-1].traceback"
    ) or "raise ValueError" in (kernel.value("pg.errors[-1].traceback"))
    kernel.run("pg.print_errors = True")


# --- every ending has an accurate sentence ------------------------------------------------------
def test_sys_exit_and_keyboard_interrupt_in_a_handler_are_errors_like_any_other(kernel: Kernel):
    cell(
        kernel,
        """
        @ws("/exit")
        async def leaves(websocket: WebSocket):
            await websocket.accept()
            sys.exit(3)

        @ws("/ctrl-c")
        async def interrupted(websocket: WebSocket):
            await websocket.accept()
            raise KeyboardInterrupt
        """,
    )
    url = url_of(kernel)
    output = Output(kernel)
    for path, name in (("/exit", "SystemExit"), ("/ctrl-c", "KeyboardInterrupt")):
        with (
            connect(f"{url}{path}", open_timeout=TIMEOUT) as client,
            pytest.raises(ConnectionClosed) as closed,
        ):
            client.recv(timeout=TIMEOUT)
        assert closed.value.rcvd.code == 1011 and name in closed.value.rcvd.reason
        wait_until(lambda: kernel.value("pg.errors[-1].path") == path)  # noqa: B023
        assert kernel.value("type(pg.errors[-1].exception).__name__") == name
    shown = output.wait_for("ends only this handler")
    assert "Exception in ASGI application" not in shown
    assert kernel.value("pg.running") is True


def test_an_error_after_the_handler_closed_says_what_the_client_really_got(kernel: Kernel):
    cell(
        kernel,
        """
        @ws("/closed-then-fails")
        async def closed_then_fails(websocket: WebSocket):
            await websocket.accept()
            await websocket.close(4000, "done")
            await websocket.send_text("too late")
        """,
    )
    url = url_of(kernel)
    with (
        connect(f"{url}/closed-then-fails", open_timeout=TIMEOUT) as client,
        pytest.raises(ConnectionClosed) as closed,
    ):
        client.recv(timeout=TIMEOUT)
    assert closed.value.rcvd.code == 4000
    wait_until(lambda: kernel.value("pg.errors[-1].path") == "/closed-then-fails")
    outcome = kernel.value("pg.errors[-1].outcome")
    assert outcome == "the connection had already ended (closed by server with 4000)"


def test_connecting_to_a_handler_that_never_accepts_says_so(kernel: Kernel):
    error = kernel.run('await pg.connect("/never", timeout=1)', check=False).error
    assert "TimeoutError" in error
    assert "has not called `await websocket.accept()`" in error
    assert "timed out during opening handshake" not in error


def test_a_host_other_than_loopback_is_warned_about_every_time(kernel: Kernel):
    for _ in range(2):  # 192.0.2.1 (TEST-NET-1) is never this machine's: nothing listens
        result = kernel.run('wsplay.Playground(host="192.0.2.1").start()', check=False)
        assert "NotLoopbackWarning" in result.stderr or "not on 127.0.0.1" in result.stderr
        assert "OSError" in result.error


def test_two_playgrounds_racing_for_one_port_get_port_in_use(kernel: Kernel):
    outcome = cell(
        kernel,
        """
        from wsplay.runtime.server.thread import PortInUseError
        import socket
        probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]
        probe.close()
        results = []
        def race():
            try:
                results.append(wsplay.Playground(port=port).start())
            except PortInUseError:
                results.append("busy")
            except Exception as error:
                results.append(repr(error))
        racers = [threading.Thread(target=race) for _ in range(2)]
        for racer in racers: racer.start()
        for racer in racers: racer.join()
        print(sorted(type(r).__name__ if r != "busy" else r for r in results))
        for r in results:
            if r != "busy": r.stop()
        """,
    ).stdout.strip()
    assert outcome == "['Playground', 'busy']"


def test_a_kernel_paused_as_a_whole_blames_no_handler(kernel: Kernel):
    """A loaded machine can stop the kernel's process for a while: that is nobody's
    handler's fault, and the watchdog must not say it is (it ran late too, and knows)."""
    # The keepalive's defaults: an earlier test's 0.3 s pings would time out across the
    # pause (the server's timer fires on resume before it reads the pong: a real 1011).
    kernel.run("pg = wsplay.start(ping_interval=20.0, ping_timeout=20.0)")
    before = kernel.value("len(pg.warnings)")
    process = psutil.Process(kernel.manager.provisioner.process.pid)
    with connect(f"{url_of(kernel)}/echo", open_timeout=TIMEOUT) as client:
        for _ in range(3):
            client.send("before")
            process.suspend()
            time.sleep(1.0)
            process.resume()
            assert client.recv(timeout=TIMEOUT) == "before"
    assert kernel.value("len(pg.warnings)") == before
