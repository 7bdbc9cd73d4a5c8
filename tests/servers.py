"""Run an ASGI app on a real server on 127.0.0.1 for the length of a ``with`` block.

    with serve(app, "uvicorn") as url:      # "ws://127.0.0.1:<port>"
        ...

uvicorn and hypercorn run in a thread of the test process; granian (a Rust server with its
own worker processes) runs as a subprocess on an importable ``module:attribute``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, deadline: float, process: subprocess.Popen | None = None) -> None:
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"The server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"Nothing listened on {HOST}:{port} within {START_TIMEOUT} s")


@contextlib.contextmanager
def serve_uvicorn(app: Any, **options: Any) -> Iterator[str]:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=HOST,
        port=0,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


@contextlib.contextmanager
def serve_hypercorn(app: Any) -> Iterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port = free_port()
    config = Config()
    config.bind = [f"{HOST}:{port}"]
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()

    def main() -> None:
        loop.run_until_complete(serve(app, config, shutdown_trigger=stopped.wait))
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    wait_for_port(port, time.monotonic() + START_TIMEOUT)
    try:
        yield f"ws://{HOST}:{port}"
    finally:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        assert not thread.is_alive(), "hypercorn did not stop"


@contextlib.contextmanager
def serve_granian(target: str, app_dir: Path) -> Iterator[str]:
    """Serve ``module:attribute`` (importable from ``app_dir``) with granian in a subprocess."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--ws",
        target,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(app_dir), *sys.path])}
    process = subprocess.Popen(
        command, cwd=app_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, time.monotonic() + START_TIMEOUT, process)
        yield f"ws://{HOST}:{port}"
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a server process to stop; kill it if it does not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


SERVERS = ("uvicorn", "hypercorn", "granian")
