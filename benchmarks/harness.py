"""The harness the benchmarks share: server processes, the picows load client, measuring.

``bench_echo.py`` and ``bench_playground.py`` measure different things by one method, and
this module is that method; each script keeps only its apps, its plan and its table.

* Every server runs in a process of its own (uvicorn, or a Playground, on 127.0.0.1 only)
  and answers over a pipe: its port once started, its clocks when asked, "stop".
* One load client, in a process of its own, drives the servers with picows, a WebSocket
  client written in Cython, so that the client costs far less than the server it drives.
* A job opens its connections, says "ready" and waits for "go"; the parent reads the
  server's clocks, says "go", and reads them again when the result comes back. Opening
  and closing connections thus fall outside the measured window. Every job is bounded in
  count and in time (its ``timeout``), and so is every wait on a pipe.
* Fair conditions: the servers on one CPU and the client on another (they never share a
  core), and fixed glibc malloc thresholds (see ``fixed_malloc_thresholds``).
* A round starts fresh server processes, warms each up, then measures them in slices
  that visit every server in turn, the order rotating, so that ratios can be taken
  between servers of the same round (see ``interleaved_round``).

The scripts import it as ``harness`` (Python puts a script's own folder first on
``sys.path``), and the spawned processes find it the same way: they inherit that path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar

REPO = Path(__file__).resolve().parent.parent  # the checkout these scripts belong to
HOST = "127.0.0.1"  # the only address the benchmarks ever serve on or connect to
ECHO_PATH = "/echo"  # every app under test echoes text here (receive_text, send_text)
BYTES_ECHO_PATH = "/echo/bytes"  # ... and binary here (receive_bytes, send_bytes)
PAYLOAD = "wsplay-bench " * 5  # 65 bytes of text: the playground's cells part echoes it
KIB, MIB = 1024, 1024 * 1024
# What a browser page on this machine sends with its handshake: the Origin policy of the
# playground then does its whole check (parse, loopback test), as it does for a real page.
PAGE_ORIGIN = "http://127.0.0.1:8888"
UVICORN_SETTINGS: Mapping[str, Any] = {
    "ws": "websockets-sansio",
    "lifespan": "off",
    "log_level": "warning",
}
START_TIMEOUT = 30.0  # seconds a server process may take to start listening
CLOSE_TIMEOUT = 5.0  # seconds a closing connection may take before it is dropped
ANSWER_TIMEOUT = 5.0  # seconds a server may take to report its clocks
PIPE_SLACK = 5.0  # seconds past a job's own deadline before its client counts as hung
CONNECT_BATCH = 50  # connections opened at once, so the listen backlog never overflows
POLL = 0.02  # seconds between two looks at the stop flag while a stoppable job runs
# glibc malloc: a fixed mmap threshold (not the default dynamic one) and a trim threshold
# above it, so that asyncio's 256 KiB read buffer costs the same in every server process.
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
AppFactory = Callable[[], Any]  # called in the server process: returns the app to serve


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """This repository at ``revision``, checked out in a temporary directory (removed at
    the end): what "before" runs, side by side with the working tree."""
    with tempfile.TemporaryDirectory(prefix="wsplay-before-") as parent:
        path = Path(parent) / "tree"
        git = ["git", "-C", str(REPO)]
        # git's own lines go to stderr with the progress: stdout is the report.
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(path), revision],
            check=True,
            stdout=sys.stderr,
        )
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def import_wsplay_from(tree: str) -> None:
    """In a server process: import ``wsplay`` from ``tree`` (another checkout), not from
    wherever this process found it; fails if it cannot."""
    for name in [name for name in sys.modules if name.split(".")[0] == "wsplay"]:
        del sys.modules[name]
    sys.path.insert(0, tree)
    import wsplay

    if not Path(wsplay.__file__).resolve().is_relative_to(Path(tree).resolve()):
        raise BenchmarkError(f"wsplay came from {wsplay.__file__}, not from {tree}")


class BenchmarkError(RuntimeError):
    """Something is broken (not merely slow): the run, or the part, cannot go on."""


class JobFailed(BenchmarkError):
    """A load job failed or passed its deadline (bench_echo drops the round, and goes on)."""


# --- fair conditions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Pinning:
    """The CPU every server runs on and the CPU the client runs on (None: the OS decides)."""

    server: int | None = None
    client: int | None = None


def choose_pinning(enabled: bool) -> Pinning:
    """Servers on the first CPU we may use, the client on the second, if there are two.

    Client and server then never compete for a core, and in our runs the spread between
    rounds was about half as wide as unpinned.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        return Pinning()
    return Pinning(server=cpus[0], client=cpus[1])


def pin_to(cpu: int | None) -> None:
    """Run the calling process on ``cpu`` only (None: leave it where the OS puts it)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def fixed_malloc_thresholds() -> Iterator[None]:
    """Processes spawned inside the block get fixed glibc malloc thresholds.

    asyncio reads each socket into a fresh 256 KiB buffer; under glibc's *dynamic* mmap
    threshold, whether that costs an mmap, page faults and an munmap per read depends on
    what the process happened to allocate earlier. Merely importing one more package made
    the raw app 25% cheaper per message that way. A user's own setting wins.
    """
    saved = os.environ.get("GLIBC_TUNABLES")
    if saved is None or "malloc.mmap_threshold" not in saved:
        os.environ["GLIBC_TUNABLES"] = ":".join(filter(None, (saved, MALLOC_TUNABLES)))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved


# --- pipes and processes ------------------------------------------------------------------
def receive(control: Connection, timeout: float, what: str) -> Any:
    """The next message on ``control``; a peer silent for ``timeout`` s is broken, not slow."""
    if not control.poll(timeout):
        raise BenchmarkError(f"No answer within {timeout:g} s waiting for {what}.")
    return control.recv()


def stop_process(process: multiprocessing.process.BaseProcess) -> None:
    """Wait (boundedly) for a process told to stop, then kill it if it has not."""
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join()


def spawn(
    target: Callable[..., None], *args: Any, name: str
) -> multiprocessing.process.BaseProcess:
    """A started ``spawn`` process: a fresh interpreter, nothing inherited but the path."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, name=name)
    process.start()
    return process


# --- the server processes -----------------------------------------------------------------
@dataclass(frozen=True)
class Clocks:
    """A server process's clocks, in seconds: the CPU time it used, and the time it spent
    ready to run but waiting for a CPU (the machine's other load; 0 where not known)."""

    cpu: float
    waited: float = 0.0

    def __sub__(self, other: Clocks) -> Clocks:
        return Clocks(self.cpu - other.cpu, self.waited - other.waited)


Runner = Callable[["ServerSpec", Connection, str | None], None]


def run_uvicorn(spec: ServerSpec, control: Connection, profile_dir: str | None) -> None:
    """Serve ``spec.app()`` under uvicorn on a free port until the parent says "stop"."""
    import uvicorn

    app = spec.app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, **spec.settings))

    def stop() -> None:
        server.should_exit = True  # uvicorn's main loop sees it at its next 0.1 s tick

    threading.Thread(target=answer_control, args=(control, stop), daemon=True).start()
    control.send(port)
    run_profiled(lambda: server.run(sockets=[sock]), profile_dir, spec.name)


@dataclass(frozen=True)
class ServerSpec:
    """What one server process serves. It is pickled to that process, so ``app`` and
    ``runner`` must be module-level functions (or ``functools.partial`` of them)."""

    name: str
    app: AppFactory
    settings: Mapping[str, Any] = field(default_factory=lambda: dict(UVICORN_SETTINGS))
    runner: Runner = run_uvicorn  # another runner: e.g. the app inside a Playground


def serve(spec: ServerSpec, control: Connection, cpu: int | None, profile_dir: str | None) -> None:
    """Server process: pinned first, then whatever ``spec.runner`` does until "stop"."""
    pin_to(cpu)
    spec.runner(spec, control, profile_dir)


def run_profiled(run: Callable[[], None], profile_dir: str | None, name: str) -> None:
    """``run()``, under cProfile into ``profile_dir/<name>-<pid>.prof`` if a dir is given."""
    if profile_dir is None:
        run()
        return
    import cProfile

    with cProfile.Profile() as profiler:
        run()
    profiler.dump_stats(Path(profile_dir) / f"{name}-{os.getpid()}.prof")


def answer_control(control: Connection, stop: Callable[[], None]) -> None:
    """Server side of the control pipe: ``"clocks"`` -> Clocks, ``"stop"`` (or EOF) -> stop.

    The server reads its own clocks because ``time.process_time()`` has nanosecond
    resolution, where the kernel's per-process accounting read from outside has 10 ms.
    """
    while True:
        try:
            request = control.recv()
        except EOFError:
            request = "stop"
        if request == "clocks":
            control.send(Clocks(time.process_time(), _run_queue_wait()))
        elif request == "stop":
            stop()
            return


def _run_queue_wait() -> float:
    """Seconds the process's threads have waited on a run queue so far (all of them: a
    Playground serves from a thread of its own)."""
    waited = 0
    for task in Path("/proc/self/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            waited += int(task.read_text().split()[1])
    return waited / 1e9


@dataclass
class ServerHandle:
    """The parent's view of one server process: its URL, clocks and memory."""

    name: str
    process: multiprocessing.process.BaseProcess
    control: Connection
    port: int = 0

    @property
    def url(self) -> str:
        """The text echo's URL."""
        return self.echo_url(binary=False)

    def echo_url(self, binary: bool) -> str:
        return f"ws://{HOST}:{self.port}{BYTES_ECHO_PATH if binary else ECHO_PATH}"

    def clocks(self) -> Clocks:
        """The server's own reading over the pipe: CPU time (ns resolution) and waits."""
        self.control.send("clocks")
        return receive(self.control, ANSWER_TIMEOUT, f"the {self.name} server's clocks")

    def os_clocks(self) -> Clocks:
        """User + system CPU seconds as the kernel accounts them, read from outside with
        psutil: the server does nothing to answer, at 10 ms resolution, with no waits."""
        times = self._stats.cpu_times()
        return Clocks(times.user + times.system)

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return self._stats.memory_info().rss

    @functools.cached_property
    def _stats(self) -> Any:
        import psutil  # only where it is used: not in the processes of the echo benchmark

        return psutil.Process(self.process.pid)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send("stop")
        stop_process(self.process)


@contextlib.contextmanager
def running_servers(
    specs: Sequence[ServerSpec], cpu: int | None = None, profile_dir: str | None = None
) -> Iterator[list[ServerHandle]]:
    """One server process per spec, started all at once, listening; stopped on the way out."""
    started: list[ServerHandle] = []
    try:
        for spec in specs:
            parent_end, child_end = multiprocessing.get_context("spawn").Pipe()
            process = spawn(serve, spec, child_end, cpu, profile_dir, name=f"server-{spec.name}")
            started.append(ServerHandle(spec.name, process, parent_end))
        for server in started:
            server.port = receive(server.control, START_TIMEOUT, f"the {server.name} server")
        yield started
    finally:
        for server in started:
            server.stop()


# --- the load client process --------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What the load client does against one server, within ``timeout`` seconds.

    ``messages``: ``concurrency`` open connections echo ``count`` times in all, one echo in
    flight per connection. ``handshakes``: ``concurrency`` loops each connect, echo once and
    close, ``count`` connections in all. ``idle``: ``concurrency`` connections held open.
    """

    kind: str  # "messages", "handshakes" or "idle"
    url: str
    count: int  # echoes (messages) or connections (handshakes) in all; unused (idle)
    concurrency: int  # connections open at once (messages, idle) or connect loops (handshakes)
    timeout: float  # seconds, the hard deadline of the job
    deflate: bool = False  # offer permessage-deflate, as browsers do (websockets client)
    stoppable: bool = False  # messages: the parent may end it early (LoadClient.finish)
    size: int = len(PAYLOAD)  # bytes per echoed message (handshakes: the one echo's)
    binary: bool = False  # binary frames to BYTES_ECHO_PATH; else text frames to ECHO_PATH
    origin: str | None = None  # an Origin header on every handshake, as a page sends


@dataclass(frozen=True)
class JobResult:
    """What the client reports: how much was done, in what time, at what CPU cost to
    itself, or why not."""

    done: int  # echoes (messages), connections made (handshakes) or held (idle)
    wall: float = 0.0
    client_cpu: float = 0.0  # the load client's own CPU seconds during the job
    error: str | None = None


def client_main(control: Connection, stop: Any, cpu: int | None) -> None:
    """Load client process: run the jobs the parent sends until it sends ``None``."""
    pin_to(cpu)
    asyncio.run(_client_loop(control, stop))


async def _client_loop(control: Connection, stop: Any) -> None:
    loop = asyncio.get_running_loop()
    while (job := await loop.run_in_executor(None, control.recv)) is not None:
        await _run_job(job, control, stop)


async def _run_job(job: Job, control: Connection, stop: Any) -> None:
    """Open the job's connections, say "ready", await "go", run the load, report, close.

    Whatever goes wrong (a refused handshake, a wrong echo, the deadline) is reported as
    the job's result; the connections are closed after the report, outside the window.
    """
    loop = asyncio.get_running_loop()
    clients: list[Any] = []
    try:
        async with asyncio.timeout(job.timeout):
            if job.kind != "handshakes":
                await _open(job, into=clients)
            control.send("ready")
            await loop.run_in_executor(None, control.recv)  # "go": server clocks were read
            began, cpu = time.perf_counter(), time.process_time()
            done = await _load(job, clients, stop)
            result = JobResult(done, time.perf_counter() - began, time.process_time() - cpu)
    except TimeoutError:
        result = JobResult(0, error=f"passed its {job.timeout:g} s deadline")
    except Exception as error:
        result = JobResult(0, error=f"{type(error).__name__}: {error}")
    control.send(result)
    await asyncio.gather(*(_close(client) for client in clients), return_exceptions=True)


async def _load(job: Job, clients: list[Any], stop: Any) -> int:
    """The measured part of ``job``: what it did, counted as ``JobResult.done``."""
    if job.kind == "messages":
        return await _echo(clients, job.count, stop if job.stoppable else None)
    if job.kind == "handshakes":
        await _handshakes(job)
        return job.count
    return len(clients)


def payload(size: int, binary: bool) -> bytes:
    """``size`` bytes to echo: ASCII text (PAYLOAD repeated), or every byte value in turn."""
    unit = bytes(range(256)) if binary else PAYLOAD.encode()
    return (unit * (size // len(unit) + 1))[:size]


@functools.cache
def _echo_client_class() -> type:
    """picows is imported in the client process only; its listener class is built there."""
    from picows import WSListener, WSMsgType

    class EchoClient(WSListener):
        """Sends its payload, waits for it to come back, repeats until done or halted."""

        def __init__(self, expected: bytes, binary: bool) -> None:
            self.expected = expected
            self.msg_type = WSMsgType.BINARY if binary else WSMsgType.TEXT
            self.transport: Any = None
            self.remaining = 0
            self.completed = 0
            self.halted = False
            self.done: asyncio.Future[None] | None = None

        def on_ws_connected(self, transport: Any) -> None:
            self.transport = transport

        def echo(self, count: int) -> asyncio.Future[None]:
            self.remaining = count
            self.done = asyncio.get_running_loop().create_future()
            if count > 0:
                self.transport.send(self.msg_type, self.expected)
            else:
                self.done.set_result(None)
            return self.done

        def halt(self) -> None:
            """Send nothing more; finish when the echo in flight comes back."""
            self.halted = True

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is not self.msg_type or not frame.fin:
                self._fail(f"expected one {self.msg_type.name} frame back, got {frame}")
                return
            if frame.get_payload_as_bytes() != self.expected:
                self._fail(f"the echo of {len(self.expected)} bytes came back changed")
                return
            self.remaining -= 1
            self.completed += 1
            if self.remaining > 0 and not self.halted:
                transport.send(self.msg_type, self.expected)
            elif self.done is not None and not self.done.done():
                self.done.set_result(None)

        def on_ws_disconnected(self, transport: Any) -> None:
            self._fail("the server closed the connection mid-job")

        def _fail(self, reason: str) -> None:
            if self.done is not None and not self.done.done():
                self.done.set_exception(ConnectionError(reason))

    return EchoClient


async def _connect(job: Job) -> Any:
    """A picows EchoClient for ``job``; with ``deflate``, a websockets client offering
    compression (it only holds the connection: the memory part's idle jobs)."""
    headers = [("Origin", job.origin)] if job.origin else None
    if job.deflate:
        from websockets.asyncio.client import connect

        return await connect(
            job.url, compression="deflate", close_timeout=CLOSE_TIMEOUT, additional_headers=headers
        )
    from picows import ws_connect

    expected = payload(job.size, job.binary)
    _, client = await ws_connect(
        lambda: _echo_client_class()(expected, job.binary),
        job.url,
        extra_headers=headers,
        max_frame_size=max(job.size + KIB, 64 * KIB),
    )
    return client


async def _open(job: Job, into: list[Any]) -> None:
    """Open ``job.concurrency`` connections, ``CONNECT_BATCH`` at a time; each lands in
    ``into`` as soon as it is open, so that it is closed later even if another one fails."""

    async def one() -> None:
        into.append(await _connect(job))

    for start in range(0, job.concurrency, CONNECT_BATCH):
        await asyncio.gather(*(one() for _ in range(min(CONNECT_BATCH, job.concurrency - start))))


async def _close(client: Any) -> None:
    """Close handshake, then wait (boundedly) for the server to drop the TCP connection."""
    if not isinstance(client, _echo_client_class()):
        await client.close()  # websockets: bounded by its close_timeout
        return
    from picows import WSCloseCode

    client.halt()
    # 1000 said outright: picows's default close carries the code 0, which RFC 6455 forbids;
    # the server then answers 1002, and every handshake measured the protocol-error path.
    client.transport.send_close(WSCloseCode.OK)
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.transport.wait_disconnected()
    except TimeoutError:
        client.transport.disconnect(graceful=False)


async def _echo(clients: list[Any], count: int, stop: Any | None) -> int:
    """Echo ``count`` times in all over ``clients``, or until the parent sets ``stop``."""
    echoes = asyncio.gather(
        *(c.echo(n) for c, n in zip(clients, shares(count, len(clients)), strict=True))
    )
    watcher = None if stop is None else asyncio.create_task(_halt_on(stop, clients, echoes))
    try:
        await echoes
    finally:
        if watcher is not None:
            watcher.cancel()
    return sum(client.completed for client in clients)


async def _halt_on(stop: Any, clients: list[Any], echoes: asyncio.Future[Any]) -> None:
    """Poll the parent's stop flag (a process-shared Event) while the echoes run."""
    while not echoes.done():
        if stop.is_set():
            for client in clients:
                client.halt()
            return
        await asyncio.sleep(POLL)


async def _handshakes(job: Job) -> None:
    """``job.concurrency`` loops, each connect, echo once, close: ``job.count`` in all."""
    tickets = iter(range(job.count))  # shared by the loops: together they do exactly `count`

    async def loop() -> None:
        for _ in tickets:
            client = await _connect(job)
            await client.echo(1)
            await _close(client)

    await asyncio.gather(*(loop() for _ in range(job.concurrency)))


def shares(count: int, parts: int) -> list[int]:
    """Split ``count`` into ``parts`` near-equal whole shares: 10, 3 -> [4, 3, 3]."""
    return [count // parts + (index < count % parts) for index in range(parts)]


# --- the parent's side of measuring -------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """What one or more jobs cost: CPU seconds of server and client, wall seconds."""

    count: int = 0  # echoes, handshakes or connections: what the job did
    server_cpu: float = 0.0
    server_waited: float = 0.0  # ready to run, but another process had the CPU
    client_cpu: float = 0.0
    wall: float = 0.0

    def __add__(self, other: Sample) -> Sample:
        return Sample(
            self.count + other.count,
            self.server_cpu + other.server_cpu,
            self.server_waited + other.server_waited,
            self.client_cpu + other.client_cpu,
            self.wall + other.wall,
        )

    @property
    def server_us(self) -> float:
        return self.server_cpu / self.count * 1e6

    @property
    def client_us(self) -> float:
        return self.client_cpu / self.count * 1e6

    @property
    def server_busy(self) -> float:
        """Server CPU over wall time: near 1.0, the server was the limit."""
        return self.server_cpu / self.wall

    @property
    def server_starved(self) -> float:
        """Time the server waited for a CPU over wall time: the machine's other load."""
        return self.server_waited / self.wall

    @property
    def client_busy(self) -> float:
        return self.client_cpu / self.wall


class LoadClient:
    """The parent's handle on the load client process."""

    def __init__(self, cpu: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_flag = context.Event()
        self.control, child_end = context.Pipe()
        self.process = spawn(client_main, child_end, self.stop_flag, cpu, name="load-client")

    def begin(self, job: Job, on: str = "") -> None:
        """Send ``job`` and wait until its connections are open (``on``: for errors)."""
        self.stop_flag.clear()
        self.control.send(job)
        ready = receive(self.control, job.timeout + PIPE_SLACK, "the load client to connect")
        if isinstance(ready, JobResult):
            raise JobFailed(f"{job.kind} job on {on or job.url}: {ready.error}")

    def go(self) -> None:
        self.control.send("go")

    def finish(self, job: Job, stop: bool = False, on: str = "") -> JobResult:
        """Wait for the job's result (setting the stop flag first if ``stop``)."""
        if stop:
            self.stop_flag.set()
        result: JobResult = receive(
            self.control, job.timeout + PIPE_SLACK, "the load client's result"
        )
        if result.error is not None:
            raise JobFailed(f"{job.kind} job on {on or job.url}: {result.error}")
        return result

    def measure(
        self,
        server: ServerHandle,
        job: Job,
        clock: Callable[[ServerHandle], Clocks] = ServerHandle.clocks,
    ) -> Sample:
        """Run ``job``, reading the server's ``clock`` just before "go" and just after the
        result: the window holds the load and nothing else."""
        self.begin(job, on=server.name)
        before, started = clock(server), time.perf_counter()
        self.go()
        result = self.finish(job, on=server.name)
        used, wall = clock(server) - before, time.perf_counter() - started
        return Sample(result.done, used.cpu, used.waited, result.client_cpu, wall)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send(None)
        stop_process(self.process)


@contextlib.contextmanager
def load_client(cpu: int | None = None) -> Iterator[LoadClient]:
    """A load client process (on ``cpu`` if given) for the length of the block."""
    client = LoadClient(cpu)
    try:
        yield client
    finally:
        client.close()


class Summable(Protocol):
    def __add__(self, other: Any, /) -> Any: ...


Total = TypeVar("Total", bound=Summable)


def interleaved_round(
    specs: Sequence[ServerSpec],
    slices: int,
    warm_up: Callable[[ServerHandle], object],
    measure: Callable[[ServerHandle, int], Total],
    cpu: int | None = None,
    profile_dir: str | None = None,
    parts: int = 1,
) -> dict[str, Total]:
    """Fresh server processes for ``specs``, each warmed up, then ``slices`` passes; in each
    pass, each of the ``parts`` (a benchmark's scenarios) visits every server in turn
    (``measure(server, part)``), the order rotating by one from pass to pass and from part
    to part. Returns each server's sum.

    Fresh processes turn what is peculiar to one process (its memory layout, its hash
    seed) into noise that medians over rounds absorb, instead of a bias carried through
    all rounds. Slices pair the servers closer in time, so that a burst of load from
    elsewhere on the machine falls on all of them rather than on whichever ran during it.
    The warm-up, unrecorded, warms imports, caches and allocators, and shows a server
    that does not work at all before any figure is taken.
    """
    with running_servers(specs, cpu, profile_dir) as started:
        servers = {server.name: server for server in started}
        for server in started:
            warm_up(server)
        totals: dict[str, Total] = {}
        for slice_ in range(slices):
            for part in range(parts):
                for name in rotated(list(servers), slice_ + part):
                    measured = measure(servers[name], part)
                    totals[name] = totals[name] + measured if name in totals else measured
    return totals


# --- scenarios: the load shapes both benchmarks measure alike ---------------------------
@dataclass(frozen=True)
class Scenario:
    """One load shape: echoes of ``size``-byte messages over ``concurrency`` connections,
    or handshakes (connect, one echo, close) by ``concurrency`` loops; ``count`` of them
    per round and server."""

    key: str  # short name for --scenarios
    title: str  # the table's row
    kind: str  # "messages" or "handshakes"
    count: int
    concurrency: int
    size: int = 32
    binary: bool = False

    def job(self, server: ServerHandle, scale: float, timeout: float) -> Job:
        """The job doing ``scale`` of a round's ``count`` against ``server``."""
        return Job(
            self.kind,
            server.echo_url(self.binary),
            max(self.concurrency, round(self.count * scale)),
            self.concurrency,
            timeout,
            size=self.size,
            binary=self.binary,
            origin=PAGE_ORIGIN if self.kind == "handshakes" else None,
        )

    @property
    def unit(self) -> str:
        return "handshake" if self.kind == "handshakes" else "echo"


SCENARIOS = (
    Scenario("small-1", "echo 32 B text, 1 connection", "messages", 5_000, 1),
    Scenario("small-50", "echo 32 B text, 50 connections", "messages", 10_000, 50),
    Scenario("text-64k", "echo 64 KiB text, 10 connections", "messages", 3_000, 10, 64 * KIB),
    Scenario(
        "bytes-64k", "echo 64 KiB binary, 10 connections", "messages", 3_000, 10, 64 * KIB, True
    ),
    Scenario("text-1m", "echo 1 MiB text, 4 connections", "messages", 400, 4, MIB),
    Scenario("bytes-1m", "echo 1 MiB binary, 4 connections", "messages", 400, 4, MIB, True),
    Scenario("handshakes", "handshake + 1 echo + close, 10 at a time", "handshakes", 500, 10),
)
"""Small messages one at a time and many at once, large text and binary, handshakes."""


def pick_scenarios(keys: str | None, scale: float = 1.0) -> list[Scenario]:
    """The scenarios named in ``keys`` (comma-separated; None: all), counts times ``scale``."""
    known = {scenario.key: scenario for scenario in SCENARIOS}
    wanted = [key.strip() for key in keys.split(",") if key.strip()] if keys else list(known)
    unknown = [key for key in wanted if key not in known]
    if unknown:
        raise SystemExit(f"Unknown scenario(s) {unknown}; known: {', '.join(known)}")
    return [
        replace(known[key], count=max(known[key].concurrency, round(known[key].count * scale)))
        for key in dict.fromkeys(wanted)
    ]


class Tally(dict[str, Sample]):
    """Samples by scenario key; two tallies add up scenario by scenario."""

    def __add__(self, other: Tally) -> Tally:
        summed = Tally(self)
        for key, sample in other.items():
            summed[key] = summed[key] + sample if key in summed else sample
        return summed


def measure_scenarios(
    client: LoadClient,
    server: ServerHandle,
    scenarios: Sequence[Scenario],
    scale: float,
    timeout: float,
) -> Tally:
    """Every scenario, ``scale`` of its round's count, against ``server``: its own clocks."""
    return Tally(
        (scenario.key, client.measure(server, scenario.job(server, scale, timeout)))
        for scenario in scenarios
    )


def rotated(names: Sequence[str], by: int) -> list[str]:
    """``names`` starting at index ``by`` (modulo), wrapping: no server always goes first."""
    by %= len(names)
    return [*names[by:], *names[:by]]


# --- reporting ----------------------------------------------------------------------------
def ratio_cell(ratios: Sequence[float], digits: int = 2) -> str:
    """``1.07×`` or, over several rounds, ``1.07× (1.03–1.12)``: median (min–max).

    The median of per-round ratios is the headline, not a ratio of medians: each round's
    servers ran side by side, so the machine's drift between rounds cancels within one.
    """
    middle = statistics.median(ratios)
    if len(ratios) < 2:
        return f"{middle:.{digits}f}×"
    return f"{middle:.{digits}f}× ({min(ratios):.2f}–{max(ratios):.2f})"


def package_versions(packages: Sequence[str]) -> str:
    """``uvicorn 0.30.1, picows 1.4.0``: what a reader needs to compare two runs."""
    return ", ".join(f"{package} {version(package)}" for package in packages)
