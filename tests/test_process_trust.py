"""What the notebook's child processes trust: nothing next to the app file, no stranger on
a port. A worker imports the real uvicorn even when a ``uvicorn.py`` lies beside the app; a
worker (or Redis) whose port another program took is an error naming the port, never a
process reported as serving; a stranger answering ``+PONG`` is not wsplay's Redis.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from websockets.sync.client import connect

from tests.test_processes import ECHO_APP, TIMEOUT, children
from wsplay.runtime.deploy.redis_server import RedisServer, redis_server
from wsplay.runtime.deploy.workers import Workers, serve_workers

# Modules uvicorn imports (or tries to) that a folder could shadow.
PLANTED = ("uvicorn", "h11", "httptools", "uvloop", "websockets", "wsproto", "click")


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself has a listening socket on ``port``."""
    return any(
        connection.laddr.port == port and connection.status == psutil.CONN_LISTEN
        for connection in psutil.Process(pid).net_connections("tcp")
    )


@contextlib.contextmanager
def stranger() -> Iterator[int]:
    """Another program listening on a loopback port (it accepts, and says nothing)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


class Pong(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(4096):
            self.request.sendall(b"+PONG\r\n")


@contextlib.contextmanager
def fake_redis() -> Iterator[int]:
    """A program that answers ``+PONG`` to anything, as a Redis server would to PING."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Pong)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def first_then_free(port: int) -> object:
    """A ``free_port`` that first picks ``port`` (taken meanwhile), then really free ones."""
    picks = iter([port])

    def pick(host: str = "127.0.0.1") -> int:
        with socket.socket() as probe:
            probe.bind((host, 0))
            return next(picks, probe.getsockname()[1])

    return pick


def test_modules_next_to_the_app_file_are_not_imported_by_the_worker(tmp_path: Path) -> None:
    for name in PLANTED:
        marker = tmp_path / f"IMPORTED-{name}"
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "greeting.py").write_text("WORD = 'hello from a helper module'\n")
    app = ECHO_APP.replace("import os\n", "import os\nfrom greeting import WORD\n")
    app = app.replace("os.environ.get('GREETING', '')", "WORD")
    (tmp_path / "echo_app.py").write_text(app)
    with serve_workers(tmp_path / "echo_app.py", 1) as workers:
        worker = workers[0]
        with connect(f"{worker.url}/pid", open_timeout=TIMEOUT) as client:
            assert client.recv(timeout=TIMEOUT) == f"{worker.pid} hello from a helper module"
    imported = sorted(path.name for path in tmp_path.glob("IMPORTED-*"))
    assert imported == [], f"the worker imported modules planted next to the app: {imported}"


def test_an_app_file_named_like_a_module_python_has_is_refused(tmp_path: Path) -> None:
    app_file = tmp_path / "json.py"  # loaded as "json", it would replace the real one
    app_file.write_text(ECHO_APP)
    with pytest.raises(ChildProcessError, match=r"rename the app file, e\.g\. json_app\.py"):
        serve_workers(app_file, 1)


def test_a_port_given_and_taken_is_an_error_naming_it(tmp_path: Path) -> None:
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    before = children()
    with stranger() as taken, pytest.raises(ChildProcessError) as failure:
        serve_workers(app_file, 1, ports=[taken])
    message = str(failure.value)
    assert message.startswith(f"Worker 1 (echo_app:app) could not listen on port {taken}")
    assert "another program already uses it" in message
    assert f"cannot listen on 127.0.0.1:{taken}: Address already in use" in message  # its stderr
    assert children() <= before, "the worker of a failed start was left running"


def test_a_free_port_taken_in_a_race_is_not_reported_as_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_file = tmp_path / "echo_app.py"
    app_file.write_text(ECHO_APP)
    with stranger() as taken:
        monkeypatch.setattr("wsplay.runtime.deploy.workers.free_port", first_then_free(taken))
        with Workers(app_file, 2) as workers:
            assert workers.running
            for worker in workers:
                assert worker.port != taken
                assert listens(worker.pid, worker.port), f"{worker!r} does not listen itself"
                with connect(f"{worker.url}/pid", open_timeout=TIMEOUT) as client:
                    assert client.recv(timeout=TIMEOUT).startswith(str(worker.pid))


def test_a_stranger_answering_pong_on_a_given_port_is_not_owned() -> None:
    with fake_redis() as port:
        found = redis_server(port=port)
        assert not found.owned  # used as found, never stopped by wsplay
        with pytest.raises(RuntimeError) as failure:
            RedisServer.launch(port=port)
    message = str(failure.value)
    assert message.startswith(f"Redis could not listen on port {port}: another program")
    assert "Address already in use" in message  # redis-server's own words


def test_a_stranger_taking_the_chosen_port_is_not_owned(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_redis() as port:
        monkeypatch.setattr("wsplay.runtime.deploy.redis_server.free_port", first_then_free(port))
        server = redis_server()
        try:
            assert server.owned and server.port != port
            assert listens(server.pid, server.port), "the server wsplay owns must be its own"
        finally:
            server.stop()
