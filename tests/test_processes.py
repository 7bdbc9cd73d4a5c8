"""The processes a notebook starts beside its kernel: a real redis-server and uvicorn
workers. Each starts within a bounded time, says why when it cannot, and is stopped: by
stop(), by its ``with`` block, and when the kernel exits.
"""

from __future__ import annotations

import shutil
import socket
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from websockets.sync.client import connect

from tests.kernel import Kernel
from wsplay import WebSocketClosedError
from wsplay.runtime.deploy.redis_server import (
    RedisNotInstalledError,
    RedisServer,
    ping,
    redis_server,
)
from wsplay.runtime.deploy.workers import Workers, serve_workers

TIMEOUT = 10
ECHO_APP = """
from wsplay import Application, Router, WebSocket
import os

router = Router()


@router.ws("/pid")
async def pid(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(f"{os.getpid()} {os.environ.get('GREETING', '')}")


@router.ws("/quiet")
async def quiet(websocket: WebSocket):
    await websocket.accept()
    await websocket.receive_text()


app = Application(router=router)
"""


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def gone(pid: int, within: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_redis_server_is_installed() -> None:
    assert shutil.which("redis-server"), (
        "redis-server is missing: apt-get install -y redis-server (.ci/run installs it)"
    )


def test_redis_server_starts_once_answers_and_stops() -> None:
    server = redis_server()
    try:
        assert server.owned and server.running and ping("127.0.0.1", server.port)
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert redis_server() is server  # the kernel's one server
        assert psutil.Process(server.pid).name() == "redis-server"
        listening = {c.laddr for c in psutil.Process(server.pid).net_connections("tcp")}
        assert {address.ip for address in listening} == {"127.0.0.1"}  # loopback only
    finally:
        server.stop()
    assert not server.running and gone(server.pid)
    again = redis_server()  # a stopped one is replaced
    try:
        assert again is not server and again.running
    finally:
        again.stop()


def test_a_redis_server_already_running_is_used_and_left_running() -> None:
    with RedisServer.launch() as theirs:
        found = redis_server(port=theirs.port)
        assert not found.owned and found.url == theirs.url
        found.stop()
        assert theirs.running, "a server wsplay did not start must be left alone"


def test_without_redis_server_the_error_gives_the_command(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisNotInstalledError, match="apt-get install -y redis-server"):
        RedisServer.launch()


def test_workers_are_separate_processes_on_their_own_ports(tmp_path: Path) -> None:
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    before = children()
    with serve_workers(app_file, 2, env={"GREETING": "hello"}) as workers:
        assert len(workers) == 2 and workers.running
        assert len({worker.port for worker in workers}) == 2
        assert len({worker.pid for worker in workers}) == 2
        for worker in workers:
            with connect(f"{worker.url}/pid", open_timeout=TIMEOUT) as client:
                assert client.recv(timeout=TIMEOUT) == f"{worker.pid} hello"
        text = repr(workers)
        assert "2 workers serving echo_app.py" in text
        assert f"worker 1: pid {workers[0].pid}, {workers[0].url}, running" in text
        pids = [worker.pid for worker in workers]
    assert all(gone(pid) for pid in pids)
    assert children() <= before


async def test_a_workers_client_is_a_wsplay_connection(tmp_path: Path) -> None:
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    with Workers(app_file, 1) as workers:
        client = await workers[0].connect("/pid")
        assert (await client.receive_text()).startswith(str(workers[0].pid))
        with pytest.raises(WebSocketClosedError, match="code 1000"):
            await client.receive_text()  # the handler returned
        quiet = await workers[0].connect("/quiet")
        assert "clients: /quiet" in repr(workers[0])
        with pytest.raises(TimeoutError, match=r"Nothing arrived on /quiet within 0\.2 s"):
            await quiet.receive_text(timeout=0.2)


def test_a_broken_app_file_is_reported_with_its_error(tmp_path: Path) -> None:
    app_file = tmp_path / "broken_app.py"
    app_file.write_text("import not_a_module_anywhere\n")
    before = children()
    with pytest.raises(ChildProcessError) as failure:
        serve_workers(app_file, 2)
    message = str(failure.value)
    assert "worker 1 (broken_app:app) exited with code" in message
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in message
    assert children() <= before, "a worker of a failed start was left running"


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No app file 'nope\.py'"):
        Workers("nope.py")
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    with pytest.raises(ValueError, match="count is a number of workers from 1 to 8"):
        Workers(app_file, 0)


def test_a_kernel_that_exits_stops_its_redis_and_workers(tmp_path: Path) -> None:
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    with Kernel() as kernel:
        kernel.run(
            textwrap.dedent(
                f"""
                import wsplay
                server = wsplay.redis_server()
                workers = wsplay.serve_workers({str(app_file)!r}, 2)
                """
            )
        )
        pids = [kernel.value("server.pid"), *kernel.value("[w.pid for w in workers]")]
        ports = [kernel.value("server.port"), *kernel.value("[w.port for w in workers]")]
        assert all(psutil.pid_exists(pid) for pid in pids)
    assert all(gone(pid) for pid in pids), "a child outlived its kernel"
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
