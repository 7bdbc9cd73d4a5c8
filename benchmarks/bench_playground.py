"""Playground benchmark: start/stop, a kernel's latency under load, recording cost, memory.

    .venv/bin/python benchmarks/bench_playground.py            # the default run, ~2 minutes
    .venv/bin/python benchmarks/bench_playground.py --quick    # a smoke run, ~15 s
    .venv/bin/python benchmarks/bench_playground.py --only overhead --profile /tmp/prof

It prints one Markdown table with the four figures the runtime issue asks for (``--only``
picks parts). Every server listens on 127.0.0.1 only; every load is bounded in count and
in time. The load client is picows (a WebSocket client written in Cython, in a process of
its own), so that the client costs far less than the server it drives. The server
processes, the client and the measuring are ``harness.py``'s, shared with ``bench_echo.py``.

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
import functools
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import (
    ECHO_PATH,
    HOST,
    PAYLOAD,
    UVICORN_SETTINGS,
    BenchmarkError,
    Job,
    JobResult,
    LoadClient,
    Sample,
    ServerHandle,
    ServerSpec,
    answer_control,
    choose_pinning,
    fixed_malloc_thresholds,
    interleaved_round,
    load_client,
    package_versions,
    ratio_cell,
    rotated,
    running_servers,
)

REPO = Path(__file__).resolve().parent.parent
# What the playground runs uvicorn with (its ws="auto" is sansio): the variants that parts 3
# and 4 serve under plain uvicorn run as the playground would run them.
PLAYGROUND_SETTINGS = {**UVICORN_SETTINGS, "loop": "asyncio"}
CELL_TIMEOUT = 30.0  # seconds one trivial cell may take
LOAD_CAP = 100_000_000  # the count bound of the flat-out load (its time bound ends it first)
UVICORN_TICK = 0.1  # seconds between two checks of should_exit in uvicorn's main loop
SETTLE = 0.5  # seconds given to a server to settle before its RSS is read
TARGET = 1.15  # recording on / bare app, server CPU per message (from the issue)
PARTS = ("startstop", "cells", "overhead", "memory")
# part 3, in the order of the table; the last two are whole Playgrounds, watchdog off and on
VARIANTS = ("bare", "off", "on", "unwatched", "watched")
WATCHDOG_TARGET = 1.02  # watchdog on / off, server CPU per echo (from the resilience issue)
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


# --- statistics ---------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


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


# --- the server processes -----------------------------------------------------------------
def run_in_playground(
    spec: ServerSpec,
    control: Connection,
    profile_dir: str | None,
    options: dict[str, Any] | None = None,
) -> None:
    """A server process's runner: ``spec.app()`` in a Playground, as a notebook runs it."""
    from wsplay import Playground

    playground = Playground(spec.app(), **(options or {})).start()
    control.send(playground.port)
    answer_control(control, playground.stop)


def server_spec(name: str) -> ServerSpec:
    """``playground``: the echo in a Playground; else a variant under plain uvicorn."""
    if name in (PLAYGROUND, "watched"):
        return ServerSpec(name, echo_app, runner=run_in_playground)
    if name == "unwatched":
        unwatched = functools.partial(run_in_playground, options={"block_threshold": None})
        return ServerSpec(name, echo_app, runner=unwatched)
    return ServerSpec(name, functools.partial(variant_app, name), PLAYGROUND_SETTINGS)


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
        url = f"ws://{HOST}:{port}{ECHO_PATH}"
        job = Job("messages", url, LOAD_CAP, settings.load, settings.timeout, stoppable=True)
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
Round = dict[str, Sample]  # variant -> what its echoes cost in one round


def measure_echoes(
    client: LoadClient, server: ServerHandle, settings: Settings, count: int
) -> Sample:
    """What ``count`` echoes over ``settings.connections`` connections cost ``server``.

    Its CPU time is read from outside with psutil (10 ms resolution: each slice runs for
    seconds), so the server does nothing but serve.
    """
    job = Job("messages", server.url, count, settings.connections, settings.timeout)
    return client.measure(server, job, clock=ServerHandle.os_clocks)


def run_round(
    client: LoadClient, settings: Settings, number: int, cpu: int | None, profile_dir: str | None
) -> Round:
    """Fresh servers, their order rotated by ``number``, each warmed up by a quarter slice."""
    per_slice = max(settings.connections, settings.messages // settings.slices)
    return interleaved_round(
        [server_spec(name) for name in rotated(VARIANTS, number)],
        settings.slices,
        warm_up=lambda server: measure_echoes(client, server, settings, per_slice // 4),
        measure=lambda server: measure_echoes(client, server, settings, per_slice),
        cpu=cpu,
        profile_dir=profile_dir,
    )


def per_echo_ratio(round_: Round, name: str, base: str) -> float:
    """``name``'s server CPU per echo over ``base``'s, in the same round."""
    return round_[name].server_us / round_[base].server_us


def measure_overhead(settings: Settings, pin: bool, profile_dir: str | None) -> list[Round]:
    """``settings.rounds`` rounds; the servers (not the client) get fixed malloc thresholds."""
    pinning = choose_pinning(pin)
    rounds: list[Round] = []
    with load_client(pinning.client) as client:
        for number in range(settings.rounds):
            with fixed_malloc_thresholds():
                round_ = run_round(client, settings, number, pinning.server, profile_dir)
            rounds.append(round_)
            ratios = ", ".join(
                f"{name} {per_echo_ratio(round_, name, 'bare'):.3f}" for name in VARIANTS
            )
            progress = f"overhead round {number + 1}/{settings.rounds}: {ratios} × bare"
            print(progress, file=sys.stderr)
    return rounds


def overhead_rows(settings: Settings, pin: bool, profile_dir: str | None) -> list[Row]:
    rounds = measure_overhead(settings, pin, profile_dir)

    def ratios(name: str, base: str) -> list[float]:
        return [per_echo_ratio(r, name, base) for r in rounds]

    def median_of(name: str, metric: Callable[[Sample], float]) -> float:
        return statistics.median(metric(r[name]) for r in rounds)

    on_bare = ratios("on", "bare")
    verdict = "PASS" if statistics.median(on_bare) <= TARGET else "MISS"
    watched = statistics.median(ratios("watched", "unwatched"))
    watch_verdict = "PASS" if watched <= WATCHDOG_TARGET else "MISS"
    micros = " / ".join(f"{median_of(n, lambda s: s.server_us):.1f}" for n in VARIANTS)
    busy = min(median_of(n, lambda s: s.server_busy) for n in VARIANTS)
    client = max(median_of(n, lambda s: s.client_us) for n in VARIANTS)
    server = min(median_of(n, lambda s: s.server_us) for n in VARIANTS)
    limit = "the server is the bottleneck" if client < server else "the CLIENT is the bottleneck"
    echoes = rounds[0]["bare"].count
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
            "Playground, watchdog on / off, server CPU per echo",
            f"**{ratio_cell(ratios('watched', 'unwatched'))}**, target ≤ "
            f"{WATCHDOG_TARGET:.2f}×: **{watch_verdict}**",
            "whole Playgrounds (recording on), block_threshold=0.25 vs None",
        ),
        Row(
            "Server CPU per echo, bare / off / on / playground unwatched / watched",
            f"{micros} µs",
            f"one message in + one out, user+system, medians; the client spends ≤ "
            f"{client:.1f} µs per echo: {limit}; servers busy ≥ {busy:.0%} of the "
            "wall time (a shared machine: other processes take the rest)",
        ),
    ]


# --- 4. memory per idle connection --------------------------------------------------------
def idle_connection_bytes(client: LoadClient, server: ServerHandle, job: Job) -> float:
    """RSS growth of ``server`` per connection ``job`` holds open, in bytes.

    A few connections of the same kind are opened and closed first: what they leave
    behind (imports, caches, zlib) is not the connections' cost.
    """
    warm = replace(job, concurrency=min(20, job.concurrency))
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
    specs = [server_spec(name) for name, _ in cases]
    with load_client() as client, running_servers(specs) as started:
        kib = {
            case: idle_connection_bytes(
                client,
                server,
                Job("idle", server.url, 0, settings.idle, settings.timeout, deflate=case[1]),
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
    versions = package_versions(("uvicorn", "websockets", "picows"))
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
