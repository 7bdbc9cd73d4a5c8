"""Echo benchmark: server CPU per WebSocket message and per handshake, relative to raw ASGI.

    .venv/bin/python benchmarks/bench_echo.py            # the default run, 1.5-3 minutes
    .venv/bin/python benchmarks/bench_echo.py --quick    # a smoke run of ~10 seconds

Method. The same text-echo handler is served by each *variant*, an ASGI app built by a
factory in ``VARIANTS``: a hand-written raw ASGI app (the baseline), Starlette, BlackSheep
and wsplay. Each variant runs in its own server process under the same uvicorn settings
(``ws="websockets-sansio"``, ``lifespan="off"``, ``log_level="warning"``, 127.0.0.1 only).
One load client, in a process of its own, drives the servers one at a time with picows, a
WebSocket client written in Cython, so that the client costs far less than the server.

Each round measures every variant in two phases:

* messages: ``--connections`` open connections each do request/response echoes, one
  message in flight per connection, ``--messages`` echoes in all;
* handshakes: ``--handshake-workers`` loops each open a connection, echo one message and
  close it, ``--handshakes`` connections in all.

Around each phase the server process reports its own CPU time (``time.process_time()``,
user + system, nanosecond resolution), and the client reports its own. The messages
phase's connections are opened before and closed after the measured window. Every phase
is bounded in count and in time: one that passes ``--timeout`` aborts its round; no round
starts that would pass ``--budget`` for the whole run.

Why ratios. The machine is shared and noisy, so absolute microseconds drift from minute
to minute. Rounds interleave the variants (their order rotates each round), and within a
round the load is cut into ``--slices`` that visit every variant in turn. Every variant
is divided by the raw ASGI app *of the same round*; the median of these per-round ratios
is the headline, with their range across rounds beside it. Everything the raw app costs
is uvicorn, the protocol, the event loop and the kernel; what a framework adds shows above
1.00. Two identical raw apps measured this way agree within about 2-3%.

Fair conditions. Each round starts fresh server processes, so nothing peculiar to one
process is carried through all rounds. All servers are pinned to one CPU and the client
to another (``--no-pin`` to let the OS place them): client and server never share a core,
and in our runs the spread between rounds was about half as wide as unpinned. The
processes run with glibc's malloc thresholds fixed (``GLIBC_TUNABLES``): asyncio reads
each socket into a fresh 256 KiB buffer, and under glibc's *dynamic* mmap threshold
whether that costs an mmap, page faults and an munmap per read depends on what the
process happened to allocate earlier. Merely importing one more package made the raw app
25% cheaper per message that way; with fixed thresholds every variant gets the same
allocator.

Add a variant by writing a factory that returns an ASGI app serving the echo on
``ECHO_PATH`` and decorating it with ``@variant("name")``; pick variants with
``--variants``. ``--profile DIR`` runs the servers under cProfile (their timings are then
inflated: read the profiles, not the table).
"""

import argparse
import asyncio
import contextlib
import functools
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # the only address this script ever serves on or connects to
ECHO_PATH = "/echo"
PAYLOAD = "wsplay-bench " * 5  # 65 bytes of text, echoed back unchanged
UVICORN_SETTINGS: dict[str, Any] = {
    "ws": "websockets-sansio",
    "lifespan": "off",
    "log_level": "warning",
}
START_TIMEOUT = 30.0  # seconds a server process may take to start listening
CLOSE_TIMEOUT = 5.0  # seconds a closing connection may take before it is dropped
BASELINE = "raw"
# glibc malloc: a fixed mmap threshold (not the default dynamic one) and a trim threshold
# above it, so that asyncio's 256 KiB read buffer costs the same in every server process.
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"
# (variant, metric, largest acceptable ratio to the baseline), from the issue.
TARGETS = (("wsplay", "message", 1.03), ("wsplay", "handshake", 1.05))

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
AppFactory = Callable[[], ASGIApp]


# --- the variants -------------------------------------------------------------------------
VARIANTS: dict[str, AppFactory] = {}
"""Name -> factory of the ASGI app to benchmark. Factories run in the server process."""


def variant(name: str) -> Callable[[AppFactory], AppFactory]:
    """Register an app factory under ``name`` (the order of registration is the default)."""

    def register(factory: AppFactory) -> AppFactory:
        VARIANTS[name] = factory
        return factory

    return register


@variant("raw")
def raw_asgi_app() -> ASGIApp:
    """The baseline: the echo written against the ASGI messages, with nothing in between."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message["text"]})

    return app


@variant("starlette")
def starlette_app() -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute(ECHO_PATH, echo)])


@variant("blacksheep")
def blacksheep_app() -> ASGIApp:
    from blacksheep import Application, Router, WebSocket, WebSocketDisconnectError

    router = Router()

    @router.ws(ECHO_PATH)
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnectError:
            pass

    return Application(router=router)


@variant("wsplay")
def wsplay_app() -> ASGIApp:
    from wsplay import Application, Router, WebSocket, WebSocketDisconnectError

    router = Router()

    @router.ws(ECHO_PATH)
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnectError:
            pass

    return Application(router=router)


# --- fair conditions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Pinning:
    """The CPU every server runs on and the CPU the client runs on (None: the OS decides)."""

    server: int | None = None
    client: int | None = None


def choose_pinning(enabled: bool) -> Pinning:
    """Servers on the first CPU we may use, the client on the second, if there are two."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        return Pinning()
    return Pinning(server=cpus[0], client=cpus[1])


def pin_to(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def fix_malloc_thresholds() -> None:
    """Give the processes spawned from now on fixed glibc malloc thresholds (see above)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "malloc.mmap_threshold" not in tunables:  # the user's own choice wins
        os.environ["GLIBC_TUNABLES"] = ":".join(filter(None, (tunables, MALLOC_TUNABLES)))


# --- the server processes -----------------------------------------------------------------
def serve(name: str, control: Connection, cpu: int | None, profile_dir: str | None) -> None:
    """Server process: serve variant ``name`` on a free port, answer clock queries."""
    import uvicorn

    pin_to(cpu)
    app = VARIANTS[name]()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, **UVICORN_SETTINGS))
    threading.Thread(target=_answer_control, args=(control, server), daemon=True).start()
    control.send(port)
    if profile_dir is None:
        server.run(sockets=[sock])
        return
    import cProfile

    with cProfile.Profile() as profiler:
        server.run(sockets=[sock])
    profiler.dump_stats(Path(profile_dir) / f"{name}-{os.getpid()}.prof")


@dataclass(frozen=True)
class Clocks:
    """A server process's clocks, in seconds: the CPU time it used, and the time it spent
    ready to run but waiting for a CPU (the machine's other load; 0 off Linux)."""

    cpu: float
    waited: float

    def __sub__(self, other: "Clocks") -> "Clocks":
        return Clocks(self.cpu - other.cpu, self.waited - other.waited)


def _answer_control(control: Connection, server: Any) -> None:
    """Server side of the control pipe: ``"clocks"`` -> Clocks, ``"stop"`` -> exit."""
    while True:
        try:
            request = control.recv()
        except EOFError:
            request = "stop"
        if request == "clocks":
            control.send(Clocks(time.process_time(), _run_queue_wait()))
        elif request == "stop":
            server.should_exit = True
            return


def _run_queue_wait() -> float:
    """Seconds the main thread (uvicorn's event loop) has waited on a run queue so far."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class BenchmarkError(RuntimeError):
    """Something is broken (not merely slow): the run cannot go on."""


def _receive(control: Connection, timeout: float, what: str) -> Any:
    if not control.poll(timeout):
        raise BenchmarkError(f"No answer within {timeout:g} s waiting for {what}.")
    return control.recv()


@dataclass
class ServerHandle:
    """The benchmark's view of one server process."""

    name: str
    process: multiprocessing.process.BaseProcess
    control: Connection
    port: int = 0

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}{ECHO_PATH}"

    def clocks(self) -> Clocks:
        self.control.send("clocks")
        return _receive(self.control, 5.0, f"the {self.name} server's clocks")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@contextlib.contextmanager
def running_servers(
    names: Iterable[str], cpu: int | None, profile_dir: str | None
) -> Iterator[dict[str, ServerHandle]]:
    """One server process per variant, started all at once; stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    started: list[ServerHandle] = []
    try:
        for name in names:
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=serve, args=(name, child_end, cpu, profile_dir), name=f"server-{name}"
            )
            process.start()
            started.append(ServerHandle(name, process, parent_end))
        for server in started:
            server.port = _receive(server.control, START_TIMEOUT, f"the {server.name} server")
        yield {server.name: server for server in started}
    finally:
        for server in started:
            server.stop()


# --- the load client process --------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One measured phase against one server."""

    kind: str  # "messages" or "handshakes"
    url: str
    count: int  # echoes (messages) or connections (handshakes), in total
    concurrency: int  # open connections (messages) or parallel loops (handshakes)
    timeout: float  # seconds, the hard deadline of the phase


@dataclass(frozen=True)
class PhaseResult:
    """What the client reports: how much was done, at what CPU cost to itself, or why not."""

    done: int
    client_cpu: float
    error: str | None = None


def client_main(control: Connection, cpu: int | None) -> None:
    """Client process: run the jobs the parent sends until it sends ``None``."""
    pin_to(cpu)
    asyncio.run(_client_loop(control))


async def _client_loop(control: Connection) -> None:
    loop = asyncio.get_running_loop()
    while (job := await loop.run_in_executor(None, control.recv)) is not None:
        await _run_job(job, control)


async def _run_job(job: Job, control: Connection) -> None:
    """Open the phase's connections, say "ready", await "go", run the load, report, close.

    Whatever goes wrong (a refused handshake, a wrong echo, the deadline) is reported as
    the phase's result; the connections are closed after the report, outside the window.
    """
    loop = asyncio.get_running_loop()
    clients: list[Any] = []
    try:
        async with asyncio.timeout(job.timeout):
            if job.kind == "messages":
                await _open(job.url, job.concurrency, into=clients)
            control.send("ready")
            await loop.run_in_executor(None, control.recv)  # "go": server CPU was sampled
            cpu = time.process_time()
            if job.kind == "messages":
                await _echo_on(clients, job.count)
            else:
                await _handshakes(job.url, job.count, job.concurrency)
        result = PhaseResult(job.count, time.process_time() - cpu)
    except TimeoutError:
        result = PhaseResult(0, 0.0, f"passed its {job.timeout:g} s deadline")
    except Exception as error:
        result = PhaseResult(0, 0.0, f"{type(error).__name__}: {error}")
    control.send(result)
    await asyncio.gather(*(_close(client) for client in clients), return_exceptions=True)


@functools.cache
def _echo_client_class() -> type:
    """picows is imported in the client process only; its listener class is built there."""
    from picows import WSListener, WSMsgType

    text = WSMsgType.TEXT
    expected = PAYLOAD.encode()

    class EchoClient(WSListener):
        """Sends PAYLOAD, waits for it to come back, repeats ``count`` times."""

        def __init__(self) -> None:
            self.transport: Any = None
            self.remaining = 0
            self.done: asyncio.Future[None] | None = None

        def on_ws_connected(self, transport: Any) -> None:
            self.transport = transport

        def echo(self, count: int) -> asyncio.Future[None]:
            self.remaining = count
            self.done = asyncio.get_running_loop().create_future()
            self.transport.send(text, expected)
            return self.done

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is not text or frame.get_payload_as_bytes() != expected:
                self._fail(f"expected the echo of {PAYLOAD!r}, got {frame}")
                return
            self.remaining -= 1
            if self.remaining > 0:
                transport.send(text, expected)
            elif self.done is not None and not self.done.done():
                self.done.set_result(None)

        def on_ws_disconnected(self, transport: Any) -> None:
            if self.remaining > 0:
                self._fail("the server closed the connection mid-phase")

        def _fail(self, reason: str) -> None:
            if self.done is not None and not self.done.done():
                self.done.set_exception(ConnectionError(reason))

    return EchoClient


async def _connect(url: str) -> Any:
    from picows import ws_connect

    _, client = await ws_connect(_echo_client_class(), url)
    return client


async def _open(url: str, count: int, into: list[Any]) -> None:
    """Open ``count`` connections at once; each one lands in ``into`` (to be closed later)."""

    async def one() -> None:
        into.append(await _connect(url))

    await asyncio.gather(*(one() for _ in range(count)))


async def _close(client: Any) -> None:
    """Close handshake, then wait (boundedly) for the server to drop the TCP connection."""
    client.transport.send_close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.transport.wait_disconnected()
    except TimeoutError:
        client.transport.disconnect(graceful=False)


async def _echo_on(clients: list[Any], count: int) -> None:
    shares = _shares(count, len(clients))
    await asyncio.gather(*(client.echo(n) for client, n in zip(clients, shares, strict=True)))


async def _handshakes(url: str, count: int, workers: int) -> None:
    tickets = iter(range(count))  # shared by the loops: together they do exactly `count`

    async def loop() -> None:
        for _ in tickets:
            client = await _connect(url)
            await client.echo(1)
            await _close(client)

    await asyncio.gather(*(loop() for _ in range(workers)))


def _shares(count: int, parts: int) -> list[int]:
    """Split ``count`` into ``parts`` near-equal whole shares: 10, 3 -> [4, 3, 3]."""
    return [count // parts + (index < count % parts) for index in range(parts)]


# --- measuring ----------------------------------------------------------------------------
class RoundAborted(RuntimeError):
    """A phase failed or passed its deadline: the round's numbers are dropped."""


@dataclass(frozen=True)
class Sample:
    """What one or more phases cost: CPU seconds of server and client, wall seconds."""

    count: int  # messages echoed, or handshakes done
    server_cpu: float
    server_waited: float  # ready to run, but another process had the CPU
    client_cpu: float
    wall: float

    def __add__(self, other: "Sample") -> "Sample":
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


@dataclass(frozen=True)
class Measurement:
    """One variant in one round: its messages phase and its handshakes phase."""

    message: Sample
    handshake: Sample

    def __add__(self, other: "Measurement") -> "Measurement":
        return Measurement(self.message + other.message, self.handshake + other.handshake)


Round = dict[str, Measurement]


class Client:
    """The parent's handle on the load client process."""

    def __init__(self, cpu: int | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.control, child_end = context.Pipe()
        self.process = context.Process(target=client_main, args=(child_end, cpu), name="client")
        self.process.start()

    def measure(self, server: ServerHandle, job: Job) -> Sample:
        """Run ``job``, reading the server's clocks just before and just after it."""
        self.control.send(job)
        ready = _receive(self.control, job.timeout + 5, "the client to connect")
        if isinstance(ready, PhaseResult):
            raise RoundAborted(f"{server.name} {job.kind}: {ready.error}")
        before, started = server.clocks(), time.perf_counter()
        self.control.send("go")
        result: PhaseResult = _receive(self.control, job.timeout + 5, "the client's result")
        used, wall = server.clocks() - before, time.perf_counter() - started
        if result.error is not None:
            raise RoundAborted(f"{server.name} {job.kind}: {result.error}")
        return Sample(result.done, used.cpu, used.waited, result.client_cpu, wall)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass(frozen=True)
class Plan:
    """What to run: the variants, each round's load, the limits, where processes run."""

    names: list[str]
    rounds: int
    messages: int  # per round and variant
    connections: int
    handshakes: int  # per round and variant
    handshake_workers: int
    slices: int
    timeout: float  # seconds per phase (slice)
    budget: float  # seconds for the whole run: no round starts that would pass it
    pinning: Pinning
    profile_dir: str | None

    def jobs(self, url: str, scale: float) -> tuple[Job, Job]:
        """The messages job and the handshakes job for ``scale`` of a round's load."""
        messages = max(self.connections, round(self.messages * scale))
        handshakes = max(self.handshake_workers, round(self.handshakes * scale))
        return (
            Job("messages", url, messages, self.connections, self.timeout),
            Job("handshakes", url, handshakes, self.handshake_workers, self.timeout),
        )


def run_rounds(plan: Plan) -> list[Round]:
    """The rounds that completed, each measuring every variant; the order rotates."""
    client = Client(plan.pinning.client)
    completed: list[Round] = []
    deadline, longest = time.monotonic() + plan.budget, 0.0
    try:
        for number in range(plan.rounds):
            if time.monotonic() + longest > deadline:
                print(
                    f"Stopping after {number} rounds: --budget {plan.budget:g} s.", file=sys.stderr
                )
                break
            started, label = time.monotonic(), f"round {number + 1}/{plan.rounds}"
            try:
                completed.append(run_round(client, rotated(plan.names, number), plan))
            except RoundAborted as aborted:
                print(f"{label} aborted: {aborted}", file=sys.stderr)
            else:
                print(f"{label}: {progress(completed[-1])}", file=sys.stderr)
            longest = max(longest, time.monotonic() - started)
    finally:
        client.stop()
    return completed


def run_round(client: Client, order: list[str], plan: Plan) -> Round:
    """Fresh server processes, a warm-up, then the round's load in interleaved slices.

    Fresh processes turn what is peculiar to one process (its memory layout, its hash
    seed) into noise that the medians absorb, instead of a bias carried through all
    rounds. Slices pair the variants closer in time, so that a burst of load from
    elsewhere on the machine falls on all of them rather than on whichever ran during it.
    """
    with running_servers(order, plan.pinning.server, plan.profile_dir) as servers:
        warm_up(client, servers, plan)
        totals: Round = {}
        for slice_ in range(plan.slices):
            for name in rotated(order, slice_):
                measured = measure(client, servers[name], plan, 1 / plan.slices)
                totals[name] = totals[name] + measured if name in totals else measured
    return totals


def measure(client: Client, server: ServerHandle, plan: Plan, scale: float) -> Measurement:
    message_job, handshake_job = plan.jobs(server.url, scale)
    return Measurement(client.measure(server, message_job), client.measure(server, handshake_job))


def warm_up(client: Client, servers: dict[str, ServerHandle], plan: Plan) -> None:
    """A short unrecorded pass so that imports, caches and allocators are warm everywhere.

    It also checks that every variant echoes: one that fails here is broken, not slow.
    """
    for server in servers.values():
        try:
            measure(client, server, plan, scale=0.1)
        except RoundAborted as error:
            raise BenchmarkError(f"Warm-up failed: {error}") from error


def rotated(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


def progress(round_: Round) -> str:
    """One round's ratios, for watching the noise: ``wsplay 1.01/1.03``."""
    ratios = (
        f"{name} {_ratio(round_, name, 'message'):.2f}/{_ratio(round_, name, 'handshake'):.2f}"
        for name in round_
    )
    return ", ".join(ratios) + " (× raw per msg/handshake)"


# --- reporting ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """One variant over all rounds: medians, and per-round ratios to the baseline."""

    message_us: float
    handshake_us: float
    client_us: float
    server_busy: float
    server_starved: float
    client_busy: float
    message_ratios: list[float]
    handshake_ratios: list[float]


def summarize(name: str, rounds: list[Round]) -> Summary:
    mine = [r[name].message for r in rounds]
    return Summary(
        message_us=_median(m.server_us for m in mine),
        handshake_us=_median(r[name].handshake.server_us for r in rounds),
        client_us=_median(m.client_us for m in mine),
        server_busy=_median(m.server_busy for m in mine),
        server_starved=_median(m.server_starved for m in mine),
        client_busy=_median(m.client_busy for m in mine),
        message_ratios=[_ratio(r, name, "message") for r in rounds],
        handshake_ratios=[_ratio(r, name, "handshake") for r in rounds],
    )


def _ratio(round_: Round, name: str, phase: str) -> float:
    """``name``'s server CPU per unit over the baseline's, in the same round."""
    mine: Sample = getattr(round_[name], phase)
    base: Sample = getattr(round_[BASELINE], phase)
    return mine.server_us / base.server_us


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _ratio_cell(ratios: list[float]) -> str:
    if len(ratios) < 2:
        return f"{_median(ratios):.3f}×"
    return f"{_median(ratios):.3f}× ({min(ratios):.2f}–{max(ratios):.2f})"


def format_table(summaries: dict[str, Summary]) -> str:
    lines = [
        "| variant | server µs/msg | msg × raw (range) | server µs/handshake "
        "| handshake × raw (range) | client µs/msg | server busy (msgs) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {name} | {s.message_us:.1f} | {_ratio_cell(s.message_ratios)} "
            f"| {s.handshake_us:.0f} | {_ratio_cell(s.handshake_ratios)} "
            f"| {s.client_us:.1f} | {s.server_busy:.0%} |"
        )
    return "\n".join(lines)


def bottleneck_line(summaries: dict[str, Summary]) -> str:
    """Say which side limited the messages phase, from CPU per message and busy time."""
    client_us = max(s.client_us for s in summaries.values())
    server_us = min(s.message_us for s in summaries.values())
    server_busy = min(s.server_busy for s in summaries.values())
    starved = max(s.server_starved for s in summaries.values())
    client_busy = max(s.client_busy for s in summaries.values())
    if client_us >= server_us or client_busy >= server_busy:
        verdict = "the CLIENT is the bottleneck, so server differences may be understated"
    elif server_busy + starved < 0.8:
        verdict = "neither side is saturated (latency-bound), so read the ratios with care"
    else:
        verdict = "the SERVER is the bottleneck, so the table measures the servers"
    waited = f"; other load kept a server off its CPU up to {starved:.0%}" if starved > 0.05 else ""
    return (
        f"Bottleneck: the client used at most {client_us:.1f} µs of CPU per message (busy "
        f"≤ {client_busy:.0%} of the time), the servers at least {server_us:.1f} µs (busy "
        f"≥ {server_busy:.0%}{waited}): {verdict}."
    )


def target_lines(summaries: dict[str, Summary]) -> list[str]:
    lines = []
    for name, metric, limit in TARGETS:
        if name not in summaries:
            continue
        s = summaries[name]
        ratio = _median(s.message_ratios if metric == "message" else s.handshake_ratios)
        verdict = "PASS" if ratio <= limit else "MISS"
        lines.append(
            f"- {name} per {metric}: {ratio:.3f}× raw (target ≤ {limit:.2f}×): **{verdict}**"
        )
    return lines


def describe_setup(plan: Plan, rounds_done: int) -> str:
    versions = ", ".join(
        f"{package} {version(package)}"
        for package in ("uvicorn", "websockets", "starlette", "blacksheep", "picows")
    )
    rounds = f"{rounds_done}" if rounds_done == plan.rounds else f"{rounds_done} of {plan.rounds}"
    pinned = "pinned" if plan.pinning.server is not None else "unpinned"
    return (
        f"Echo benchmark: {rounds} rounds × {len(plan.names)} variants; per round and "
        f"variant {plan.messages} messages over {plan.connections} connections and "
        f"{plan.handshakes} handshakes ({plan.handshake_workers} at a time), in {plan.slices} "
        f"slices; {len(PAYLOAD)}-byte text.\n"
        f"Servers: uvicorn ws=websockets-sansio, a process per variant on {HOST}. Client: "
        f"picows, one process. Processes {pinned}. Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; {versions}."
    )


def report(plan: Plan, rounds: list[Round]) -> str:
    summaries = {name: summarize(name, rounds) for name in plan.names}
    parts = [
        describe_setup(plan, len(rounds)),
        "",
        format_table(summaries),
        "",
        f"CPU is user+system time; µs columns are medians over {len(rounds)} rounds; ratios "
        "are medians of per-round ratios to raw ASGI (min–max over rounds in brackets).",
        bottleneck_line(summaries),
    ]
    if targets := target_lines(summaries):
        parts += ["", "Targets:", *targets]
    return "\n".join(parts)


# --- command line -------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--variants", default=",".join(VARIANTS), help="comma-separated (raw is always in)")
    add("--rounds", type=int, default=5)
    add("--messages", type=int, default=20_000, help="echoes per round and variant")
    add("--connections", type=int, default=20, help="open connections in the messages phase")
    add("--handshakes", type=int, default=1_000, help="connections per round and variant")
    add("--handshake-workers", type=int, default=4, help="handshakes at a time")
    add("--slices", type=int, default=4, help="interleaved slices of each round's load")
    add("--timeout", type=float, default=30.0, help="seconds a phase may take")
    add("--budget", type=float, default=170.0, help="seconds the whole run may take")
    add("--quick", action="store_true", help="a smoke run of a few seconds")
    add("--no-pin", action="store_true", help="let the OS place the processes")
    add("--profile", metavar="DIR", help="run servers under cProfile: DIR/<variant>-<pid>.prof")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.messages, args.handshakes = 2, 1_000, 50
        args.slices, args.timeout, args.budget = 2, 10.0, 30.0
    return args


def variant_names(spec: str) -> list[str]:
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise SystemExit(f"Unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    return list(dict.fromkeys([BASELINE, *names]))  # every ratio needs its round's baseline


def make_plan(args: argparse.Namespace) -> Plan:
    return Plan(
        names=variant_names(args.variants),
        rounds=args.rounds,
        messages=args.messages,
        connections=args.connections,
        handshakes=args.handshakes,
        handshake_workers=args.handshake_workers,
        slices=args.slices,
        timeout=args.timeout,
        budget=args.budget,
        pinning=choose_pinning(not args.no_pin),
        profile_dir=args.profile,
    )


def main(argv: list[str] | None = None) -> int:
    plan = make_plan(parse_args(argv))
    if plan.profile_dir:
        Path(plan.profile_dir).mkdir(parents=True, exist_ok=True)
    fix_malloc_thresholds()
    started = time.monotonic()
    try:
        rounds = run_rounds(plan)
    except BenchmarkError as error:
        print(error, file=sys.stderr)
        return 2
    if not rounds:
        print("Every round was aborted: no results.", file=sys.stderr)
        return 1
    print(report(plan, rounds))
    print(f"({time.monotonic() - started:.0f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
