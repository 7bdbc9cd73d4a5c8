"""A real Redis server on loopback for the notebook: found running, or started for it.

    server = wsplay.redis_server()     # starts Debian's redis-server on a free port
    server.url                         # "redis://127.0.0.1:<port>/0"

Redis is what lets two worker processes share one chat: each publishes what its clients
say, and each hears what the others published. The server started here keeps nothing on
disk and listens on 127.0.0.1 only; it stops with ``stop()``, a ``with`` block, or the
kernel.
"""

from __future__ import annotations

import contextlib
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


def server_pid(host: str, port: int, timeout: float = 0.5) -> int | None:
    """The ``process_id`` the Redis server on ``host:port`` reports (INFO), or None.

    Something answering ``+PONG`` is not necessarily the server wsplay started: another
    program may hold the port. The pid tells which process answers.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(b"INFO server\r\n")
            reply = read_bulk(connection)
    except (OSError, ValueError):
        return None
    for line in reply.splitlines():
        name, _, value = line.partition(b":")
        if name == b"process_id" and value.strip().isdigit():
            return int(value)
    return None


def read_bulk(connection: socket.socket, limit: int = 64 * 1024) -> bytes:
    """One RESP bulk string (``$<length>\\r\\n<data>\\r\\n``) from ``connection``."""
    data = b""
    while b"\r\n" not in data:
        data += receive(connection, data, limit)
    header, _, data = data.partition(b"\r\n")
    if not header.startswith(b"$") or not header[1:].isdigit() or int(header[1:]) > limit:
        raise ValueError(f"not a bulk string: {header[:40]!r}")
    length = int(header[1:])
    while len(data) < length:
        data += receive(connection, data, limit)
    return data[:length]


def receive(connection: socket.socket, data: bytes, limit: int) -> bytes:
    chunk = connection.recv(4096)
    if not chunk or len(data) > limit:
        raise ValueError("the answer ended early or is too long")
    return chunk


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
        if self._process is not None and not self._process.running:
            return False  # another program may answer on the port now: not this server
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
        """Start a new redis-server on ``port`` (a free one by default).

        It counts as started only when the process it started answers (its pid, from
        INFO): if another program took the port meanwhile, that redis-server exits, and
        another free port is tried (a given ``port`` is an error naming it).
        """
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisNotInstalledError()
        if port is None:
            for _ in range(PORT_TRIES - 1):
                with contextlib.suppress(PortTakenError):
                    return cls(*start(executable, free_port(), timeout))
        try:
            return cls(*start(executable, port or free_port(), timeout))
        except PortTakenError as error:
            fix = "leave port= out so wsplay picks a free one" if port else "try again"
            raise RuntimeError(
                f"Redis could not listen on port {error.port}: another program already uses "
                f"it. Pass the port of a Redis server you started, or {fix}. {error}"
            ) from None


class PortTakenError(RuntimeError):
    """redis-server exited because another program listens on its port."""

    def __init__(self, port: int, failure: Exception) -> None:
        super().__init__(str(failure))
        self.port = port


def start(executable: str, port: int, timeout: float) -> tuple[int, ChildProcess]:
    """A redis-server process on ``port``, once it is the one answering there."""
    process = ChildProcess(
        f"redis-server on port {port}",
        [
            executable,
            *("--bind", HOST, "--port", str(port)),
            *("--save", "", "--appendonly", "no"),  # nothing on disk
            *("--daemonize", "no", "--loglevel", "warning"),
        ],
    )
    process.cwd = process.log_path.parent
    process.start()
    try:
        process.wait_until(lambda: server_pid(HOST, port) == process.pid, "answering", timeout)
    except (ChildProcessError, TimeoutError) as error:
        process.stop()
        process.remove_log()
        if "already in use" in str(error).lower():
            raise PortTakenError(port, error) from None
        raise RuntimeError(f"Redis did not start: {error}") from None
    return port, process


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
