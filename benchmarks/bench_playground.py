"""Playground benchmark: start/stop, a kernel's latency under load, recording cost, memory.

    .venv/bin/python benchmarks/bench_playground.py            # the default run, ~2 minutes
    .venv/bin/python benchmarks/bench_playground.py --quick    # a smoke run, ~15 s
    .venv/bin/python benchmarks/bench_playground.py --only overhead --profile /tmp/prof

It prints one Markdown table with the four figures the runtime issue asks for (``--only``
picks parts). Every server listens on 127.0.0.1 only; every load is bounded in count and
in time. The load client is picows (a WebSocket client written in Cython, in a process of
its own), so that the client costs far less than the server it drives.

Method, part by part (the counts are those of ``DEFAULT``):

1. startstop: in this process, ``Playground(app).start()`` and ``.stop()`` are timed (wall
   clock) over 30 cycles after one unrecorded warm-up cycle (imports). Between the two,
   a random pause within uvicorn's 0.1 s tick, because ``stop()`` waits for the tick.
   Median and p90.

2. cells: a real ipykernel is started with ``tests/kernel.py`` (jupyter_client, as a
   notebook front end), and a cell in it starts the playground with an ``@ws("/echo")``
   handler, as a user would. Trivial cells (``1+1``) are then executed one after another;
   each is timed from the execute request to the kernel's "idle" status for it. Blocks of
   cells alternate between the server idle and the server echoing flat out (20
   connections, each with one echo in flight, from the load process). Reported: p50 and
   p99 of both conditions (200 cells each) and their ratios: what a busy server costs
   the notebook.

3. overhead: server CPU time per echo (one message in, one out) for the same wsplay echo
   app served three ways by plain uvicorn (the playground's settings: websockets-sansio,
   asyncio loop) in a process of its own: ``bare`` (no Recorder), ``off`` (wrapped in the
   Recorder, ``timeline.enabled = False``) and ``on`` (recording). The parent reads each
   server's user+system CPU time with psutil just before and after each load phase (the
   connections are opened before and closed after the window). Rounds use fresh server
   processes; inside a round the variants are measured in interleaved slices, their order
   rotating, and each variant is divided by ``bare`` of the same round. The headline is the
   median of these per-round ratios (the machine is shared and noisy; absolute µs drift).
   Target from the issue: ``on`` ≤ 1.15 × ``bare``. Server and client are pinned to two
   different CPUs when there are two, and the servers get fixed glibc malloc thresholds,
   so that asyncio's 256 KiB read buffer costs the same in every process. The client's
   own CPU per echo is reported to show which side is the bottleneck.

4. memory: 500 connections are opened (in batches) to a playground running in a process
   of its own and left idle; the server's RSS growth divided by their number is the memory
   per idle connection. The bare app under plain uvicorn is measured the same way for
   comparison, and both again with a client offering permessage-deflate (as browsers do:
   the server then keeps zlib state per connection). Each measurement has a fresh server
   process, warmed up by a few connections of the same kind opened and closed first, so
   that one-time allocations (imports, caches) are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import multiprocessing
import os
import platform
import random
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

HOST = "127.0.0.1"  # the only address this script ever serves on or connects to
ECHO_PATH = "/echo"
PAYLOAD = "wsplay-bench " * 5  # 65 bytes of text, echoed back unchanged
REPO = Path(__file__).resolve().parent.parent
UVICORN_SETTINGS: dict[str, Any] = {  # what the playground runs with (ws="auto" is sansio)
    "ws": "websockets-sansio",
    "loop": "asyncio",
    "lifespan": "off",
    "log_level": "warning",
}
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"
START_TIMEOUT = 30.0  # seconds a process may take to start
CLOSE_TIMEOUT = 5.0  # seconds a closing connection may take before it is dropped
CELL_TIMEOUT = 30.0  # seconds one trivial cell may take
CONNECT_BATCH = 50  # connections opened at once, so the listen backlog never overflows
LOAD_CAP = 100_000_000  # the count bound of the flat-out load (its time bound ends it first)
POLL = 0.02  # seconds between checks of the stop flag in the load client
UVICORN_TICK = 0.1  # seconds between two checks of should_exit in uvicorn's main loop
SETTLE = 0.5  # seconds given to a server to settle before its RSS is read
TARGET = 1.15  # recording on / bare app, server CPU per message (from the issue)
PARTS = ("startstop", "cells", "overhead", "memory")
VARIANTS = ("bare", "off", "on")  # part 3, in the order of the table
PLAYGROUND = "playground"  # part 4: a Playground in a server process


@dataclass(frozen=True)
class Settings:
    cycles: int  # start/stop cycles
    cells: int  # trivial cells per condition (idle, loaded)
    blocks: int  # idle/loaded alternations the cells are split into
    load: int  # connections echoing flat out during the loaded cells
    block_budget: float  # seconds a block of cells may take at most
    rounds: int  # overhead rounds, fresh server processes each
    messages: int  # echoes per variant and round
    slices: int  # interleaved slices per round
    connections: int  # connections the overhead load uses
    idle: int  # idle connections for the memory figure
    timeout: float  # seconds any one load job may take at most


DEFAULT = Settings(
    cycles=30,
    cells=200,
    blocks=2,
    load=20,
    block_budget=30.0,
    rounds=7,
    messages=20_000,
    slices=2,
    connections=20,
    idle=500,
    timeout=60.0,
)
QUICK = Settings(
    cycles=3,
    cells=10,
    blocks=1,
    load=4,
    block_budget=5.0,
    rounds=1,
    messages=2_000,
    slices=1,
    connections=4,
    idle=50,
    timeout=15.0,
)


class BenchmarkError(RuntimeError):
    """Something is broken (not merely slow): the part cannot go on."""


# --- statistics ---------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def ratio_cell(ratios: Sequence[float]) -> str:
    """``1.07×`` or, over several rounds, ``1.07× (1.03–1.12)``: median (min–max)."""
    middle = statistics.median(ratios)
    if len(ratios) < 2:
        return f"{middle:.2f}×"
    return f"{middle:.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    detail: str = ""


# --- the echo app -------------------------------------------------------------------------
def echo_app() -> Any:
    """The wsplay echo every part serves (a handler as the tutorials write it)."""
    from wsplay import Application, Router, WebSocket

    router = Router()

    @router.ws(ECHO_PATH)
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    return Application(router=router)


def variant_app(name: str) -> Any:
    """``bare``: the app alone; ``off``/``on``: wrapped in the Recorder, recording off/on."""
    from wsplay.runtime.recorder import Recorder
    from wsplay.runtime.timeline import Timeline

    app = echo_app()
    if name == "bare":
        return app
    timeline = Timeline()
    timeline.enabled = name == "on"
    # loop is only used by ServerConnection.close() (a cell closing a connection).
    return Recorder(app, timeline, loop=None, on_error=lambda *_: None)


# --- 1. start and stop --------------------------------------------------------------------
def measure_start_stop(cycles: int) -> tuple[list[float], list[float]]:
    """Wall seconds of ``Playground(app).start()`` and of ``.stop()``, one per cycle.

    uvicorn checks ``should_exit`` once per 0.1 s tick; a playground stopped at once after
    its start would always wait a whole tick, so each cycle pauses for a random part of one
    first, as a playground that has run for a while would.
    """
    from wsplay import Playground

    app = echo_app()
    Playground(app).start().stop()  # warm-up: imports and uvicorn's caches
    pauses = random.Random(0)
    starts, stops = [], []
    for _ in range(cycles):
        playground = Playground(app)
        began = time.perf_counter()
        playground.start()
        starts.append(time.perf_counter() - began)
        time.sleep(pauses.uniform(0, UVICORN_TICK))  # a random phase of uvicorn's tick
        began = time.perf_counter()
        playground.stop()
        stops.append(time.perf_counter() - began)
    return starts, stops


def start_stop_rows(settings: Settings) -> list[Row]:
    starts, stops = measure_start_stop(settings.cycles)
    detail = f"{settings.cycles} cycles, in-process, wall clock"
    return [
        Row("Playground start()", _median_p90(starts), detail),
        Row(
            "Playground stop()",
            _median_p90(stops),
            f"{detail}; no open connection; stopped at a random phase of uvicorn's 0.1 s tick",
        ),
    ]


def _median_p90(values: Sequence[float]) -> str:
    return f"median {ms(statistics.median(values))}, p90 {ms(percentile(values, 90))}"


# --- the load client process --------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What the load client does against one server."""

    kind: str  # "echo": echo until count, deadline or stop; "idle": hold connections open
    url: str
    connections: int
    count: int  # echoes in total (echo); unused (idle)
    timeout: float  # seconds, the hard deadline of the job
    deflate: bool = False  # idle only: offer permessage-deflate, as browsers do


@dataclass(frozen=True)
class JobResult:
    done: int  # echoes completed (echo) or connections held (idle)
    wall: float
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
    """Open the connections, say "ready", await "go", run, report, then close them.

    Whatever goes wrong (a refused handshake, a wrong echo, the deadline) is reported as
    the job's result; the connections are closed after the report, outside the window.
    """
    loop = asyncio.get_running_loop()
    clients: list[Any] = []
    try:
        async with asyncio.timeout(job.timeout):
            for start in range(0, job.connections, CONNECT_BATCH):
                batch = min(CONNECT_BATCH, job.connections - start)
                clients += await asyncio.gather(
                    *(_connect(job.url, job.deflate) for _ in range(batch))
                )
            control.send("ready")
            await loop.run_in_executor(None, control.recv)  # "go"
            began, cpu = time.perf_counter(), time.process_time()
            done = await _echo(clients, job.count, stop) if job.kind == "echo" else len(clients)
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            result = JobResult(done, wall, cpu)
    except Exception as error:
        result = JobResult(0, 0.0, error=f"{type(error).__name__}: {error}")
    control.send(result)
    await asyncio.gather(*(_close(client) for client in clients))


@functools.cache
def _echo_client_class() -> type:
    """picows is imported in the client process only; its listener class is built there."""
    from picows import WSListener, WSMsgType

    text = WSMsgType.TEXT
    expected = PAYLOAD.encode()

    class EchoClient(WSListener):
        """Sends PAYLOAD, waits for it to come back, repeats until told or done."""

        def __init__(self) -> None:
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
                self.transport.send(text, expected)
            else:
                self.done.set_result(None)
            return self.done

        def halt(self) -> None:
            """Send nothing more; finish when the echo in flight comes back."""
            self.halted = True

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is not text or frame.get_payload_as_bytes() != expected:
                self._fail(f"expected the echo of {PAYLOAD!r}, got {frame}")
                return
            self.remaining -= 1
            self.completed += 1
            if self.remaining > 0 and not self.halted:
                transport.send(text, expected)
            elif self.done is not None and not self.done.done():
                self.done.set_result(None)

        def on_ws_disconnected(self, transport: Any) -> None:
            self._fail("the server closed the connection")

        def _fail(self, reason: str) -> None:
            if self.done is not None and not self.done.done():
                self.done.set_exception(ConnectionError(reason))

    return EchoClient


async def _connect(url: str, deflate: bool = False) -> Any:
    """A picows EchoClient; with ``deflate``, a websockets client offering compression."""
    if deflate:
        from websockets.asyncio.client import connect

        return await connect(url, compression="deflate", close_timeout=CLOSE_TIMEOUT)
    from picows import ws_connect

    _, client = await ws_connect(_echo_client_class(), url)
    return client


async def _close(client: Any) -> None:
    """Close handshake, then wait (boundedly) for the server to drop the TCP connection."""
    if not isinstance(client, _echo_client_class()):
        await client.close()  # websockets: bounded by its close_timeout
        return
    client.halt()
    client.transport.send_close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.transport.wait_disconnected()
    except TimeoutError:
        client.transport.disconnect(graceful=False)


async def _echo(clients: list[Any], count: int, stop: Any) -> int:
    """Echo ``count`` times in all over ``clients``, or until the parent sets ``stop``."""
    shares = [count // len(clients) + (i < count % len(clients)) for i in range(len(clients))]
    echoes = asyncio.gather(*(c.echo(n) for c, n in zip(clients, shares, strict=True)))
    watcher = asyncio.create_task(_halt_on(stop, clients, echoes))
    try:
        await echoes
    finally:
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


class LoadClient:
    """The parent's handle on a load client process."""

    def __init__(self, cpu: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_flag = context.Event()
        self.control, child_end = context.Pipe()
        self.process = context.Process(
            target=client_main, args=(child_end, self.stop_flag, cpu), name="load-client"
        )
        self.process.start()

    def begin(self, job: Job) -> None:
        """Send ``job`` and wait until its connections are open."""
        self.stop_flag.clear()
        self.control.send(job)
        ready = receive(self.control, job.timeout + 5, "the load client to connect")
        if isinstance(ready, JobResult):
            raise BenchmarkError(f"The load client failed to connect: {ready.error}")

    def go(self) -> None:
        self.control.send("go")

    def finish(self, job: Job, stop: bool = False) -> JobResult:
        """Wait for the job's result (setting the stop flag first if ``stop``)."""
        if stop:
            self.stop_flag.set()
        result: JobResult = receive(self.control, job.timeout + 5, "the load client's result")
        if result.error is not None:
            raise BenchmarkError(f"The load ({job.kind}, {job.url}) failed: {result.error}")
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send(None)
        stop_process(self.process)


@contextlib.contextmanager
def load_client(cpu: int | None = None) -> Iterator[LoadClient]:
    client = LoadClient(cpu)
    try:
        yield client
    finally:
        client.close()


def receive(control: Connection, timeout: float, what: str) -> Any:
    if not control.poll(timeout):
        raise BenchmarkError(f"No answer within {timeout:.0f} s waiting for {what}.")
    return control.recv()


def stop_process(process: multiprocessing.process.BaseProcess) -> None:
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join()


def pin_to(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# --- server processes ---------------------------------------------------------------------
def serve(name: str, control: Connection, cpu: int | None, profile_dir: str | None) -> None:
    """Server process: serve ``name`` on a free port of 127.0.0.1 until the parent says so."""
    pin_to(cpu)
    if name == PLAYGROUND:
        _serve_playground(control)
        return
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(1024)
    server = uvicorn.Server(uvicorn.Config(variant_app(name), **UVICORN_SETTINGS))
    threading.Thread(target=_exit_on_request, args=(control, server), daemon=True).start()
    control.send(sock.getsockname()[1])
    if profile_dir is None:
        server.run(sockets=[sock])
        return
    import cProfile

    with cProfile.Profile() as profiler:
        server.run(sockets=[sock])
    profiler.dump_stats(Path(profile_dir) / f"{name}-{os.getpid()}.prof")


def _serve_playground(control: Connection) -> None:
    from wsplay import Playground

    playground = Playground(echo_app()).start()
    control.send(playground.port)
    with contextlib.suppress(EOFError):
        control.recv()  # "stop"
    playground.stop()


def _exit_on_request(control: Connection, server: Any) -> None:
    with contextlib.suppress(EOFError):
        control.recv()  # "stop"
    server.should_exit = True


@dataclass
class ServerProcess:
    """The parent's view of one server process: its URL, CPU time and memory."""

    name: str
    process: multiprocessing.process.BaseProcess
    control: Connection
    port: int = 0
    stats: psutil.Process | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}{ECHO_PATH}"

    def cpu_time(self) -> float:
        """User + system CPU seconds of the whole process (psutil: 10 ms resolution)."""
        assert self.stats is not None
        times = self.stats.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        assert self.stats is not None
        return self.stats.memory_info().rss

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send("stop")
        stop_process(self.process)


@contextlib.contextmanager
def servers(
    names: Sequence[str], cpu: int | None = None, profile_dir: str | None = None
) -> Iterator[list[ServerProcess]]:
    """One server process per name, started all at once; stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    started: list[ServerProcess] = []
    try:
        for name in names:
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=serve, args=(name, child_end, cpu, profile_dir), name=f"server-{name}"
            )
            process.start()
            started.append(ServerProcess(name, process, parent_end))
        for server in started:
            server.port = receive(server.control, START_TIMEOUT, f"the {server.name} server")
            server.stats = psutil.Process(server.process.pid)
        yield started
    finally:
        for server in started:
            server.stop()


@contextlib.contextmanager
def fixed_malloc_thresholds() -> Iterator[None]:
    """Processes spawned inside the block get fixed glibc malloc thresholds."""
    saved = os.environ.get("GLIBC_TUNABLES")
    if saved is None or "malloc.mmap_threshold" not in saved:  # the user's choice wins
        os.environ["GLIBC_TUNABLES"] = ":".join(filter(None, (saved, MALLOC_TUNABLES)))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved


def two_cpus(enabled: bool) -> tuple[int | None, int | None]:
    """(server CPU, client CPU) when pinning is on and there are two CPUs, else (None, None)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


# --- 2. a trivial cell's round trip in a real kernel --------------------------------------
KERNEL_SETUP = f"""
import wsplay
from wsplay import WebSocket, ws

@ws({ECHO_PATH!r})
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())

pg = wsplay.start()
"""


@dataclass
class CellTimes:
    idle: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    echoes: int = 0  # echoes the load completed while the loaded cells ran
    load_wall: float = 0.0


def time_cells(kernel: Any, count: int, budget: float) -> list[float]:
    """Round trips of up to ``count`` trivial cells, for at most ``budget`` seconds."""
    times: list[float] = []
    deadline = time.monotonic() + budget
    while len(times) < count and time.monotonic() < deadline:
        began = time.perf_counter()
        kernel.run("1+1", timeout=CELL_TIMEOUT)
        times.append(time.perf_counter() - began)
    return times


def time_loaded_cells(
    kernel: Any, client: LoadClient, job: Job, count: int, budget: float
) -> tuple[list[float], JobResult]:
    """Trivial cells while ``client`` runs ``job`` flat out; the load stops after them."""
    client.begin(job)
    client.go()
    try:
        time.sleep(SETTLE)  # let the load reach its pace
        times = time_cells(kernel, count, budget)
    finally:
        result = client.finish(job, stop=True)
    return times, result


def measure_cells(settings: Settings) -> CellTimes:
    """Idle and loaded blocks of trivial cells, alternating, in one real ipykernel."""
    sys.path.insert(0, str(REPO))
    from tests.kernel import Kernel

    if settings.block_budget + 2 * SETTLE >= settings.timeout:
        raise BenchmarkError("The load's timeout must exceed the cells' time budget.")
    measured = CellTimes()
    per_block = max(1, settings.cells // settings.blocks)
    with Kernel() as kernel, load_client() as client:
        kernel.run(KERNEL_SETUP)
        port = kernel.value("pg.port")
        job = Job(
            "echo", f"ws://{HOST}:{port}{ECHO_PATH}", settings.load, LOAD_CAP, settings.timeout
        )
        time_cells(kernel, 5, settings.block_budget)  # warm-up
        for _ in range(settings.blocks):
            measured.idle += time_cells(kernel, per_block, settings.block_budget)
            times, result = time_loaded_cells(kernel, client, job, per_block, settings.block_budget)
            measured.loaded += times
            measured.echoes += result.done
            measured.load_wall += result.wall
        errors = kernel.value("[str(error) for error in pg.errors]")
        if errors:
            raise BenchmarkError(f"The kernel's handler failed: {errors[0]}")
        kernel.run("pg.stop()")
    return measured


def cell_rows(settings: Settings) -> list[Row]:
    measured = measure_cells(settings)
    idle, loaded = measured.idle, measured.loaded
    rate = measured.echoes / measured.load_wall if measured.load_wall else 0.0

    def p50_p99(times: list[float]) -> str:
        return f"p50 {ms(percentile(times, 50))}, p99 {ms(percentile(times, 99))}"

    ratio50 = percentile(loaded, 50) / percentile(idle, 50)
    ratio99 = percentile(loaded, 99) / percentile(idle, 99)
    return [
        Row("Trivial cell round trip, server idle", p50_p99(idle), f"{len(idle)} cells"),
        Row(
            "Trivial cell round trip, server echoing flat out",
            p50_p99(loaded),
            f"{len(loaded)} cells; {settings.load} connections, {rate:,.0f} echoes/s "
            "meanwhile (recording on)",
        ),
        Row("Cell round trip, loaded / idle", f"**p50 {ratio50:.2f}×, p99 {ratio99:.2f}×**"),
    ]


# --- 3. the timeline's overhead -----------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """Server CPU seconds spent during some echoes, their wall time, the client's CPU."""

    cpu: float = 0.0
    echoes: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0

    def __add__(self, other: Sample) -> Sample:
        return Sample(
            self.cpu + other.cpu,
            self.echoes + other.echoes,
            self.wall + other.wall,
            self.client_cpu + other.client_cpu,
        )

    @property
    def per_echo(self) -> float:
        return self.cpu / self.echoes

    @property
    def client_per_echo(self) -> float:
        return self.client_cpu / self.echoes

    @property
    def busy(self) -> float:
        """Server CPU over wall time: near 100 %, the server was the limit."""
        return self.cpu / self.wall


Round = dict[str, Sample]  # variant -> what it cost in one round


def measure_echo(client: LoadClient, server: ServerProcess, job: Job) -> Sample:
    """Server CPU time spent while ``job`` runs, the echoes it completed, their wall time."""
    client.begin(job)
    before = server.cpu_time()
    client.go()
    result = client.finish(job)
    return Sample(server.cpu_time() - before, result.done, result.wall, result.client_cpu)


def run_round(
    client: LoadClient, running: dict[str, ServerProcess], settings: Settings, number: int
) -> Round:
    """Warm every variant up, then measure them in interleaved, rotating slices."""
    per_slice = max(settings.connections, settings.messages // settings.slices)
    for server in running.values():
        warm = Job("echo", server.url, settings.connections, per_slice // 4, settings.timeout)
        measure_echo(client, server, warm)
    totals: Round = {name: Sample() for name in VARIANTS}
    for slice_ in range(settings.slices):
        for name in rotated(VARIANTS, number + slice_):
            server = running[name]
            job = Job("echo", server.url, settings.connections, per_slice, settings.timeout)
            totals[name] += measure_echo(client, server, job)
    return totals


def rotated(names: Sequence[str], by: int) -> list[str]:
    by %= len(names)
    return [*names[by:], *names[:by]]


def measure_overhead(settings: Settings, pin: bool, profile_dir: str | None) -> list[Round]:
    server_cpu, client_cpu = two_cpus(pin)
    rounds: list[Round] = []
    with load_client(client_cpu) as client:
        for number in range(settings.rounds):
            order = rotated(VARIANTS, number)
            with fixed_malloc_thresholds(), servers(order, server_cpu, profile_dir) as started:
                running = {server.name: server for server in started}
                round_ = run_round(client, running, settings, number)
            rounds.append(round_)
            ratios = ", ".join(
                f"{name} {round_[name].per_echo / round_['bare'].per_echo:.3f}" for name in VARIANTS
            )
            progress = f"overhead round {number + 1}/{settings.rounds}: {ratios} × bare"
            print(progress, file=sys.stderr)
    return rounds


def overhead_rows(settings: Settings, pin: bool, profile_dir: str | None) -> list[Row]:
    rounds = measure_overhead(settings, pin, profile_dir)

    def ratios(name: str, base: str) -> list[float]:
        return [r[name].per_echo / r[base].per_echo for r in rounds]

    def median_of(name: str, metric: Callable[[Sample], float]) -> float:
        return statistics.median(metric(r[name]) for r in rounds)

    on_bare = ratios("on", "bare")
    verdict = "PASS" if statistics.median(on_bare) <= TARGET else "MISS"
    micros = " / ".join(f"{median_of(n, lambda s: s.per_echo) * 1e6:.1f}" for n in VARIANTS)
    busy = min(median_of(n, lambda s: s.busy) for n in VARIANTS)
    client = max(median_of(n, lambda s: s.client_per_echo) for n in VARIANTS)
    server = min(median_of(n, lambda s: s.per_echo) for n in VARIANTS)
    limit = "the server is the bottleneck" if client < server else "the CLIENT is the bottleneck"
    echoes = rounds[0]["bare"].echoes
    detail = (
        f"{len(rounds)} rounds × {echoes:,} echoes per variant over {settings.connections} "
        "connections; median (min–max) of per-round ratios"
    )
    return [
        Row(
            "Recording on / bare app, server CPU per echo",
            f"**{ratio_cell(on_bare)}**, target ≤ {TARGET:.2f}×: **{verdict}**",
            detail,
        ),
        Row(
            "Recording off / bare app", ratio_cell(ratios("off", "bare")), "Recorder, not recording"
        ),
        Row("Recording on / recording off", ratio_cell(ratios("on", "off"))),
        Row(
            "Server CPU per echo, bare / off / on",
            f"{micros} µs",
            f"one message in + one out, user+system, medians; the client spends ≤ "
            f"{client * 1e6:.1f} µs per echo: {limit}; servers busy ≥ {busy:.0%} of the "
            "wall time (a shared machine: other processes take the rest)",
        ),
    ]


# --- 4. memory per idle connection --------------------------------------------------------
def idle_connection_bytes(client: LoadClient, server: ServerProcess, job: Job) -> float:
    """RSS growth of ``server`` per connection ``job`` holds open, in bytes.

    A few connections of the same kind are opened and closed first: what they leave
    behind (imports, caches, zlib) is not the connections' cost.
    """
    warm = replace(job, connections=min(20, job.connections))
    client.begin(warm)
    client.go()
    client.finish(warm)
    time.sleep(SETTLE)
    before = server.rss()
    client.begin(job)
    time.sleep(SETTLE)
    after = server.rss()
    client.go()
    held = client.finish(job).done
    return (after - before) / held


def memory_rows(settings: Settings) -> list[Row]:
    """Per idle connection, playground and bare app, without and with permessage-deflate.

    Each measurement gets a fresh server process, so that no connection reuses memory
    that an earlier batch freed.
    """
    cases = [(name, deflate) for name in (PLAYGROUND, "bare") for deflate in (False, True)]
    with load_client() as client, servers([name for name, _ in cases]) as started:
        kib = {
            case: idle_connection_bytes(
                client,
                server,
                Job("idle", server.url, settings.idle, 0, settings.timeout, deflate=case[1]),
            )
            / 1024
            for case, server in zip(cases, started, strict=True)
        }
    detail = (
        f"server RSS growth / {settings.idle} connections, server in its own process; "
        "plain: picows client; deflate: websockets client offering permessage-deflate "
        "(as browsers do)"
    )
    return [
        Row(
            "Memory per idle connection, playground",
            f"**{kib[PLAYGROUND, False]:.1f} KiB** plain, {kib[PLAYGROUND, True]:.1f} KiB deflate",
            detail,
        ),
        Row(
            "Memory per idle connection, bare app on uvicorn",
            f"{kib['bare', False]:.1f} KiB plain, {kib['bare', True]:.1f} KiB deflate",
            "the same without the playground (no Recorder, no timeline)",
        ),
    ]


# --- report and command line --------------------------------------------------------------
def format_table(rows: list[Row]) -> str:
    lines = ["| Figure | Value | Detail |", "|---|---|---|"]
    lines += [f"| {row.figure} | {row.value} | {row.detail} |" for row in rows]
    return "\n".join(lines)


def describe_setup(settings: Settings, elapsed: float) -> str:
    versions = ", ".join(
        f"{package} {version(package)}" for package in ("uvicorn", "websockets", "picows")
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"Playground benchmark on {HOST}: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (load average {load}), {versions}; payload {len(PAYLOAD)} B "
        f"of text; ran {elapsed:.0f} s. Ratios are the headline: the machine is shared."
    )


def run_part(name: str, produce: Callable[[], list[Row]]) -> list[Row]:
    """A part's rows, or one row saying why it failed (the other parts still run)."""
    print(f"running {name}…", file=sys.stderr)
    try:
        return produce()
    except (BenchmarkError, OSError, TimeoutError) as error:
        return [Row(name, f"**failed**: {type(error).__name__}: {error}")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--only", choices=PARTS, action="append", help="run this part only")
    parser.add_argument("--rounds", type=int, help="overhead rounds (default 7)")
    parser.add_argument("--messages", type=int, help="echoes per variant and round")
    parser.add_argument("--cells", type=int, help="trivial cells per condition (default 200)")
    parser.add_argument("--idle", type=int, help="idle connections (default 500)")
    parser.add_argument("--no-pin", action="store_true", help="let the OS place the processes")
    parser.add_argument("--profile", metavar="DIR", help="cProfile the overhead servers")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    settings = QUICK if args.quick else DEFAULT
    overrides = {
        key: getattr(args, key)
        for key in ("rounds", "messages", "cells", "idle")
        if getattr(args, key) is not None
    }
    return replace(settings, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    parts: dict[str, Callable[[], list[Row]]] = {
        "startstop": lambda: start_stop_rows(settings),
        "cells": lambda: cell_rows(settings),
        "overhead": lambda: overhead_rows(settings, not args.no_pin, args.profile),
        "memory": lambda: memory_rows(settings),
    }
    began = time.perf_counter()
    rows: list[Row] = []
    for name in args.only or PARTS:
        rows += run_part(name, parts[name])
    print(describe_setup(settings, time.perf_counter() - began))
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
