"""A real Redis server on loopback for the notebook: found running, or started for it.

    server = wsplay.redis_server()     # starts Debian's redis-server on a free port
    server.url                         # "redis://127.0.0.1:<port>/0"

Redis is what lets two worker processes share one chat: each publishes what its clients
say, and each hears what the others published. The server started here keeps nothing on
disk and listens on 127.0.0.1 only; it stops with ``stop()``, a ``with`` block, or the
kernel.
"""

from __future__ import annotations

import shutil
import socket
import threading
from typing import Any

from .processes import HOST, START_TIMEOUT, ChildProcess, free_port

INSTALL_COMMAND = "sudo apt-get install -y redis-server"
PORT_TRIES = 3


class RedisNotInstalledError(RuntimeError):
    """``redis-server`` is not on this machine; the message has the command to install it."""

    def __init__(self) -> None:
        super().__init__(
            "redis-server is not installed here, so wsplay cannot start a Redis server. "
            f"Install it with:  {INSTALL_COMMAND}  (Debian and Ubuntu; as root, without "
            "sudo. On Binder, binder/apt.txt installs it.) Or pass the port of a Redis "
            "server that already runs: wsplay.redis_server(port=6379)."
        )


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A Redis server on 127.0.0.1: one wsplay started (``owned``), or one found running."""

    def __init__(self, port: int, process: ChildProcess | None = None) -> None:
        self.host = HOST
        self.port = port
        self._process = process

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def owned(self) -> bool:
        """True if wsplay started it (and ``stop()`` stops it)."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return ping(self.host, self.port)

    def stop(self) -> None:
        """Stop the server if wsplay started it; one found running is left alone."""
        if self._process is not None:
            self._process.stop()
            self._process.remove_log()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        who = f"started by wsplay, pid {self.pid}" if self.owned else "found running"
        return f"<RedisServer {self.url} {state}, {who}>"

    @classmethod
    def launch(cls, port: int | None = None, timeout: float = START_TIMEOUT) -> RedisServer:
        """Start a new redis-server on ``port`` (a free one by default)."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisNotInstalledError()
        failure: Exception | None = None
        for _ in range(PORT_TRIES if port is None else 1):
            chosen = port or free_port()
            process = ChildProcess(
                f"redis-server on port {chosen}",
                [
                    executable,
                    *("--bind", HOST, "--port", str(chosen)),
                    *("--save", "", "--appendonly", "no"),  # nothing on disk
                    *("--daemonize", "no", "--loglevel", "warning"),
                ],
            )
            process.cwd = process.log_path.parent
            process.start()
            try:
                process.wait_until(lambda p=chosen: ping(HOST, p), "answering PING", timeout)
            except (ChildProcessError, TimeoutError) as error:
                process.stop()
                failure = error  # e.g. the port was taken meanwhile: try another
                continue
            return cls(chosen, process)
        raise RuntimeError(f"Redis did not start: {failure}") from None


_default: RedisServer | None = None
_lock = threading.Lock()


def redis_server(port: int | None = None) -> RedisServer:
    """The kernel's Redis server: the one started before, or a new one.

    With ``port``, a Redis server already answering there is used as it is (and never
    stopped by wsplay); if none answers, one is started on that port.
    """
    global _default
    with _lock:
        if port is not None and ping(HOST, port):
            return RedisServer(port)
        reusable = _default is not None and _default.owned and _default.running
        if reusable and port in (None, _default.port):
            return _default
        _default = RedisServer.launch(port)
        return _default
