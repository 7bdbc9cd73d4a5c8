"""Serve an app file with several worker processes, as a deployment would, from a cell.

    workers = wsplay.serve_workers("chat_app.py", 2)   # two uvicorn processes
    workers                                            # which pid listens on which port
    alice = await workers[0].connect("/chat/alice")    # a client of worker 1
    bob = await workers[1].connect("/chat/bob")        # a client of worker 2
    workers.stop()

Each worker is a separate ``uvicorn module:app`` process on a port of its own, so which
worker a client lands on is the learner's choice (``uvicorn --workers 2`` shares one port,
and the kernel decides). Memory is not shared between them: that is the point.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..._loop import LoopThread
from ..clients.faces import BlockingConnection, Connection, Connects
from ..clients.kernel import ClientCore
from ..timeline.store import Timeline
from .processes import HOST, LOG_TAIL, START_TIMEOUT, ChildProcess, child_environment, free_port
from .worker_main import PORT_TAKEN

WORKER_MAIN = Path(__file__).with_name("worker_main.py")

MAX_WORKERS = 8
CLIENT_TIMEOUT = 5.0
PORT_TRIES = 3


class PortTakenError(ChildProcessError):
    """A worker could not listen on its port: another program holds it."""

    def __init__(self, process: ChildProcess, port: int, *, chosen: bool) -> None:
        fix = (
            "Give ports that nothing else uses, or leave ports= out so wsplay picks free ones."
            if chosen
            else "Other programs kept taking the free ports wsplay picked: try again."
        )
        super().__init__(
            f"{process.name.capitalize()} could not listen on port {port}: another program "
            f"already uses it. {fix} The end of its output:\n{process.log(LOG_TAIL).rstrip()}"
        )
        self.port = port


def ready_file(process: ChildProcess) -> Path:
    """The file a worker writes once it serves (see worker_main.py)."""
    return process.log_path.with_name("ready")


class Worker(Connects):
    """One worker process: its number, pid and URL, and clients that talk to it."""

    def __init__(self, group: Workers, number: int, process: ChildProcess, port: int) -> None:
        self._group = group
        self.number = number
        self.port = port
        self.url = f"ws://{HOST}:{port}"
        self.process = process
        self.clients: list[Connection | BlockingConnection] = []

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.running

    def log(self, last: int | None = None) -> str:
        """What the worker printed: its errors and tracebacks land here."""
        return self.process.log(last)

    def _connected(self, connection: Connection | BlockingConnection) -> None:
        self.clients.append(connection)

    def _client_core(
        self, path: str, headers: Any, subprotocols: Any, timeout: float | None
    ) -> ClientCore:
        if not self.running:
            raise RuntimeError(
                f"Worker {self.number} is not running (exit code {self.process.returncode}). "
                f"Its output:\n{self.log(2000).rstrip()}"
            )
        return ClientCore(
            base_url=self.url,
            path=path,
            headers=headers,
            subprotocols=subprotocols,
            timeline=self._group.timeline,
            loop=self._group.client_loop(),
            timeout=timeout if timeout is not None else CLIENT_TIMEOUT,
        )

    def __repr__(self) -> str:
        state = "running" if self.running else f"stopped ({self.process.returncode})"
        paths = ", ".join(client.path for client in self.clients if not client.closed)
        return f"worker {self.number}: pid {self.pid}, {self.url}, {state}" + (
            f", clients: {paths}" if paths else ""
        )


class Workers(Sequence[Worker]):
    """Several uvicorn processes serving one app file, each on its own loopback port."""

    def __init__(
        self,
        app_file: str | Path,
        count: int = 2,
        *,
        app: str = "app",
        env: dict[str, str] | None = None,
        ports: Sequence[int] | None = None,
        timeout: float = START_TIMEOUT,
    ) -> None:
        path = Path(app_file).expanduser().resolve()
        if not path.is_file() or path.suffix != ".py":
            raise FileNotFoundError(
                f"No app file {str(app_file)!r}: give the .py file that pg.export wrote "
                "(or any file with an ASGI app in it)."
            )
        if not path.stem.isidentifier():
            raise ValueError(f"uvicorn cannot import {path.name}: name it like chat_app.py.")
        if not isinstance(count, int) or not 1 <= count <= MAX_WORKERS:
            raise ValueError(
                f"count is a number of workers from 1 to {MAX_WORKERS}, got {count!r}."
            )
        if ports is not None and not valid_ports(ports, count):
            raise ValueError(
                f"ports are {count} different port numbers (1024 to 65535), one per worker, "
                f"got {ports!r}."
            )
        self.app_file = path
        self.app = app
        self.target = f"{path.stem}:{app}"
        self._ports = list(ports or [])
        self.env = dict(env or {})
        self.timeout = timeout
        self.timeline = Timeline()
        self._workers: list[Worker] = []
        self._loop: LoopThread | None = None
        self._lock = threading.Lock()
        self._count = count

    def start(self) -> Workers:
        """Start every worker and wait until each one listens (they start side by side)."""
        if self._workers:
            return self
        launched: list[ChildProcess] = []  # every process started, to stop them on failure
        try:
            pending = [self._launch(number, launched) for number in range(1, self._count + 1)]
            for number, (process, port) in enumerate(pending, start=1):
                for attempt in range(1 if self._ports else PORT_TRIES):
                    if self._listening(process, port, last_try=attempt == PORT_TRIES - 1):
                        break
                    process, port = self._launch(number, launched)  # another free port
                self._workers.append(Worker(self, number, process, port))
        except BaseException:
            for process in launched:
                process.stop()
                process.remove_log()
            self._workers.clear()
            raise
        return self

    def _listening(self, process: ChildProcess, port: int, *, last_try: bool) -> bool:
        """Wait until the worker itself serves on ``port``; False if a free port was taken.

        Something answering on the port proves nothing (another program may have taken it
        since it was chosen): the worker writes its ready file once uvicorn serves.
        """
        ready = ready_file(process)
        try:
            process.wait_until(ready.exists, f"listening on port {port}", self.timeout)
        except ChildProcessError:
            if process.returncode != PORT_TAKEN:
                raise
            if self._ports or last_try:
                raise PortTakenError(process, port, chosen=bool(self._ports)) from None
            return False
        return True

    def _launch(self, number: int, launched: list[ChildProcess]) -> tuple[ChildProcess, int]:
        port = self._ports[number - 1] if self._ports else free_port()
        process = ChildProcess(
            f"worker {number} ({self.target})",
            [],  # below: the ready file is in the process's own folder
            cwd=self.app_file.parent,
            env=child_environment(self.env),
        )
        process.command = [
            *(sys.executable, "-P", str(WORKER_MAIN)),  # -P: see worker_main.py
            *(str(self.app_file), self.app, HOST, str(port), str(ready_file(process))),
        ]
        launched.append(process.start())
        return process, port

    def client_loop(self) -> LoopThread:
        """The thread the workers' clients run on (started at the first client)."""
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread("wsplay-worker-clients").start()
            return self._loop

    def stop(self) -> None:
        """Stop every worker (their clients see the connection end) and the clients' loop."""
        for worker in self._workers:
            worker.process.stop()
            worker.process.remove_log()
        with self._lock:
            if self._loop is not None:
                self._loop.stop()
                self._loop = None

    @property
    def running(self) -> bool:
        return bool(self._workers) and all(worker.running for worker in self._workers)

    def __enter__(self) -> Workers:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __getitem__(self, index: int) -> Worker:  # type: ignore[override]
        return self._workers[index]

    def __len__(self) -> int:
        return len(self._workers)

    def __iter__(self) -> Iterator[Worker]:
        return iter(self._workers)

    def __repr__(self) -> str:
        lines = [f"{len(self._workers)} workers serving {self.app_file.name} ({self.target}):"]
        return "\n".join([*lines, *(f"  {worker!r}" for worker in self._workers)])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def valid_ports(ports: Sequence[int], count: int) -> bool:
    numbers = list(ports)
    return len(numbers) == count == len(set(numbers)) and all(
        type(port) is int and 1024 <= port <= 65535 for port in numbers
    )


def serve_workers(
    app_file: str | Path,
    count: int = 2,
    *,
    app: str = "app",
    env: dict[str, str] | None = None,
    ports: Sequence[int] | None = None,
) -> Workers:
    """Serve ``app_file``'s ``app`` with ``count`` uvicorn processes on loopback ports.

    The workers inherit the kernel's environment, with ``env`` on top (e.g. the address
    of a Redis server). ``ports`` pins each worker's port (free ones by default). Stop
    them with ``stop()``; a ``with`` block or the kernel's exit does it too.
    """
    return Workers(app_file, count, app=app, env=env, ports=ports).start()
