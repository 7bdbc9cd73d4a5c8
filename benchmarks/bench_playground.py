"""Playground benchmark: start/stop, a kernel's latency under load, its overhead, memory.

    .venv/bin/python benchmarks/bench_playground.py            # the default run, ~5 minutes
    .venv/bin/python benchmarks/bench_playground.py --quick    # a smoke run, ~30 s
    .venv/bin/python benchmarks/bench_playground.py --only overhead --profile /tmp/prof
    .venv/bin/python benchmarks/bench_playground.py --only overhead --before a086404

It prints one Markdown table with the figures of the four parts (``--only`` picks parts),
then the overhead part's table, scenario by scenario. Every server listens on 127.0.0.1
only; every load is bounded in count and in time. The load client is picows (a WebSocket
client written in Cython, in a process of its own), so that the client costs far less than
the server it drives. The server processes, the client, the scenarios and the measuring are
``harness.py``'s, shared with ``bench_echo.py``.

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

3. overhead: server CPU time per operation in every scenario of ``harness.SCENARIOS`` (32 B
   text echoes over 1 and 50 connections, 64 KiB and 1 MiB text and binary echoes,
   handshakes with a page's Origin), for the same wsplay echo app (text and binary routes)
   served five ways, each in a process of its own: ``bare`` (plain uvicorn with the
   playground's settings: websockets-sansio, the asyncio loop), ``floor`` (the same app
   inside the least any recording middleware does, ``floor_recorder.py``: what no recorder
   around an ASGI app can shed), ``recorder`` (the same app inside the Recorder, recording,
   with the playground's Origin policy, under plain uvicorn), ``unwatched`` (a whole
   Playground with ``block_threshold=None``) and ``playground`` (a Playground as a notebook
   starts it: recording, the watchdog, the Origin policy, the hardened protocols, the GIL
   sharing). Each server reads its own CPU time (``time.process_time()``, all threads) just
   before and after each slice; connections are opened before and closed after the window.
   Rounds use fresh server processes; in a round each scenario is cut into slices that
   visit every variant in turn, the order rotating, and each variant is divided by ``bare``
   of the same round. The headline is the median of these per-round ratios with their
   range. Target from issue 14: ``playground`` ≤ 1.10 × ``bare`` in every scenario; and the
   watchdog (playground / unwatched) ≤ 1.02. Server and client are pinned to two different
   CPUs when there are two, and the servers get fixed glibc malloc thresholds. The client's
   own CPU per operation is reported to show which side is the bottleneck. ``--profile
   DIR`` profiles each server (a Playground's loop thread) with cProfile. ``--before REV``
   adds a sixth server, the Playground as the repository had it at ``REV`` (from a
   temporary git worktree), and the columns ``before / bare`` and ``now / before``: a
   change's effect, side by side.

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
import contextlib
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
    BYTES_ECHO_PATH,
    ECHO_PATH,
    HOST,
    REPO,
    UVICORN_SETTINGS,
    BenchmarkError,
    Job,
    JobResult,
    LoadClient,
    Scenario,
    ServerHandle,
    ServerSpec,
    Tally,
    answer_control,
    choose_pinning,
    fixed_malloc_thresholds,
    import_wsplay_from,
    interleaved_round,
    load_client,
    measure_scenarios,
    package_versions,
    pick_scenarios,
    ratio_cell,
    rotated,
    running_servers,
    worktree,
)

# What the playground runs uvicorn with (its ws="auto" is sansio): the variants that parts 3
# and 4 serve under plain uvicorn run as the playground would run them.
PLAYGROUND_SETTINGS = {**UVICORN_SETTINGS, "loop": "asyncio", "interface": "asgi3"}
CELL_TIMEOUT = 30.0  # seconds one trivial cell may take
LOAD_CAP = 100_000_000  # the count bound of the flat-out load (its time bound ends it first)
UVICORN_TICK = 0.1  # seconds between two checks of should_exit in uvicorn's main loop
SETTLE = 0.5  # seconds given to a server to settle before its RSS is read
TARGET = 1.10  # playground / bare app, server CPU per operation, every scenario (issue 14)
PARTS = ("startstop", "cells", "overhead", "memory")
PLAYGROUND = "playground"  # a whole Playground (defaults: recording, watchdog, Origin policy)
# part 3, in the order of the table: the bare app under uvicorn, the same app inside the
# Recorder (recording, Origin policy on) under uvicorn, a Playground with no watchdog, and
# the Playground as a notebook runs it.
VARIANTS = ("bare", "floor", "recorder", "unwatched", PLAYGROUND)
BEFORE = "before"  # with --before REV: a Playground as a notebook ran it at REV
WATCHDOG_TARGET = 1.02  # watchdog on / off, server CPU per echo (from the resilience issue)


@dataclass(frozen=True)
class Settings:
    cycles: int  # start/stop cycles
    cells: int  # trivial cells per condition (idle, loaded)
    blocks: int  # idle/loaded alternations the cells are split into
    load: int  # connections echoing flat out during the loaded cells
    block_budget: float  # seconds a block of cells may take at most
    rounds: int  # overhead rounds, fresh server processes each
    scale: float  # times each scenario's count per variant and round (harness.SCENARIOS)
    slices: int  # interleaved slices of each scenario per round
    idle: int  # idle connections for the memory figure
    timeout: float  # seconds any one load job may take at most


DEFAULT = Settings(
    cycles=30,
    cells=200,
    blocks=2,
    load=20,
    block_budget=30.0,
    rounds=7,
    scale=1.0,
    slices=3,
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
    scale=0.1,
    slices=1,
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

    @router.ws(BYTES_ECHO_PATH)
    async def echo_bytes(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_bytes(await websocket.receive_bytes())

    return Application(router=router)


def variant_app(name: str) -> Any:
    """``bare``: the app alone; ``floor``: inside the least a recorder can do
    (floor_recorder.py); ``recorder``: inside the Recorder, recording, with the
    playground's default Origin policy, as a Playground builds it."""
    from floor_recorder import FloorRecorder

    from wsplay.runtime.recording.recorder import Recorder
    from wsplay.runtime.server.origins import Gate
    from wsplay.runtime.timeline.store import Timeline

    app = echo_app()
    if name == "bare":
        return app
    if name == "floor":
        return FloorRecorder(app)
    # loop is only used by ServerConnection.close() (a cell closing a connection).
    return Recorder(app, Timeline(), loop=None, on_error=lambda *_: None, gate=Gate())


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
    if profile_dir is None:
        answer_control(control, playground.stop)
        return
    import cProfile

    profiler = cProfile.Profile()  # it profiles the thread that enables it: the server's
    loop = playground._running.server.loop  # a benchmark may reach inside
    loop.run(_call(profiler.enable), 5)
    try:
        answer_control(control, lambda: loop.run(_call(profiler.disable), 5))
    finally:
        profiler.dump_stats(Path(profile_dir) / f"{spec.name}-{os.getpid()}.prof")
        playground.stop()


async def _call(function: Callable[[], object]) -> None:
    function()


def run_before(tree: str, spec: ServerSpec, control: Connection, profile_dir: str | None) -> None:
    """A server process's runner: ``run_in_playground`` with wsplay as ``tree`` holds it."""
    import_wsplay_from(tree)
    run_in_playground(spec, control, profile_dir)


def server_spec(name: str, tree: str | None = None) -> ServerSpec:
    """``playground``: the echo in a Playground; ``before``: the same, with wsplay from
    ``tree`` (another checkout); else a variant under plain uvicorn."""
    if name == BEFORE and tree is not None:
        return ServerSpec(name, echo_app, runner=functools.partial(run_before, tree))
    if name == PLAYGROUND:
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


# --- 3. the playground's overhead, scenario by scenario --------------------------------
Round = dict[str, Tally]  # variant -> scenario key -> what it cost in one round


def run_round(
    client: LoadClient,
    settings: Settings,
    scenarios: Sequence[Scenario],
    number: int,
    cpu: int | None,
    profile_dir: str | None,
    tree: str | None = None,
) -> Round:
    """Fresh servers, their order rotated by ``number``, each warmed up by a tenth of every
    scenario; then passes that run each scenario's slice on every server in turn. With a
    ``tree``, the Playground as that checkout had it is one more server (``before``)."""
    names = [*VARIANTS, BEFORE] if tree is not None else list(VARIANTS)
    return interleaved_round(
        [server_spec(name, tree) for name in rotated(names, number)],
        settings.slices,
        warm_up=lambda server: measure_scenarios(
            client, server, scenarios, 0.1 / settings.slices, settings.timeout
        ),
        measure=lambda server, part: measure_scenarios(
            client, server, [scenarios[part]], 1 / settings.slices, settings.timeout
        ),
        cpu=cpu,
        profile_dir=profile_dir,
        parts=len(scenarios),
    )


def per_op_ratio(round_: Round, name: str, base: str, key: str) -> float:
    """``name``'s server CPU per operation over ``base``'s, in the same round."""
    return round_[name][key].server_us / round_[base][key].server_us


def measure_overhead(
    settings: Settings,
    scenarios: Sequence[Scenario],
    pin: bool,
    profile_dir: str | None,
    tree: str | None = None,
) -> list[Round]:
    """``settings.rounds`` rounds; the servers (not the client) get fixed malloc thresholds."""
    pinning = choose_pinning(pin)
    rounds: list[Round] = []
    with load_client(pinning.client) as client:
        for number in range(settings.rounds):
            with fixed_malloc_thresholds():
                round_ = run_round(
                    client, settings, scenarios, number, pinning.server, profile_dir, tree
                )
            rounds.append(round_)
            ratios = "/".join(
                f"{per_op_ratio(round_, PLAYGROUND, 'bare', s.key):.2f}" for s in scenarios
            )
            keys = ", ".join(s.key for s in scenarios)
            print(
                f"overhead round {number + 1}/{settings.rounds}: playground × bare {ratios} "
                f"({keys})",
                file=sys.stderr,
            )
    return rounds


def overhead_table(rounds: list[Round], scenarios: Sequence[Scenario]) -> str:
    """Per scenario: the bare app's µs, each layer's ratio, the client's µs, the targets."""
    columns = [
        ("floor", "bare", "floor / bare"),
        ("recorder", "bare", "Recorder / bare"),
        ("unwatched", "bare", "playground, no watchdog / bare"),
        (PLAYGROUND, "bare", "**playground / bare**"),
        (PLAYGROUND, "unwatched", "watchdog on / off"),
    ]
    if BEFORE in rounds[0]:  # --before REV: the same playground as REV had it
        columns += [
            (BEFORE, "bare", "playground before / bare"),
            (PLAYGROUND, BEFORE, "now / before"),
        ]
    lines = [
        "| scenario | bare µs/op | "
        + " | ".join(title for _, _, title in columns)
        + " | client µs/op | servers busy |",
        "|---|---:|" + "---:|" * len(columns) + "---:|---:|",
    ]
    verdicts = []
    for scenario in scenarios:
        key = scenario.key
        samples = [sample[key] for r in rounds for sample in r.values()]
        cells = [
            ratio_cell([per_op_ratio(r, name, base, key) for r in rounds])
            for name, base, _ in columns
        ]
        bare_us = statistics.median(r["bare"][key].server_us for r in rounds)
        client_us = max(sample.client_us for sample in samples)
        busy = min(sample.server_busy + sample.server_starved for sample in samples)
        lines.append(
            f"| {scenario.title} | {bare_us:.1f} | "
            + " | ".join(cells)
            + f" | {client_us:.1f} | ≥ {busy:.0%} |"
        )
        for name, base, limit, what in (
            (PLAYGROUND, "bare", TARGET, "playground / bare"),
            (PLAYGROUND, "unwatched", WATCHDOG_TARGET, "watchdog on / off"),
        ):
            median = statistics.median(per_op_ratio(r, name, base, key) for r in rounds)
            verdict = "PASS" if median <= limit else "MISS"
            verdicts.append(
                f"- {scenario.title}, {what}: {median:.3f}× (target ≤ {limit:.2f}×): **{verdict}**"
            )
    starved = max(
        sample.server_starved for r in rounds for t in r.values() for sample in t.values()
    )
    notes = (
        f"Server CPU (user+system, all threads, the process's own clock) per echo or per "
        f"handshake; medians (min–max) of per-round ratios over {len(rounds)} rounds. Servers "
        f"busy: the least share of a job's wall time any server was on a CPU or waiting for "
        f"one (other load kept a server off its CPU up to {starved:.0%} of a job)."
    )
    return "\n".join([*lines, "", notes, "", "Targets:", *verdicts])


def overhead_rows(
    settings: Settings,
    scenarios: Sequence[Scenario],
    pin: bool,
    profile_dir: str | None,
    tree: str | None = None,
) -> tuple[list[Row], str]:
    rounds = measure_overhead(settings, scenarios, pin, profile_dir, tree)
    worst = max(
        scenarios,
        key=lambda s: statistics.median(per_op_ratio(r, PLAYGROUND, "bare", s.key) for r in rounds),
    )
    worst_ratios = [per_op_ratio(r, PLAYGROUND, "bare", worst.key) for r in rounds]
    verdict = "PASS" if statistics.median(worst_ratios) <= TARGET else "MISS"
    row = Row(
        "Playground / bare app, server CPU per operation, worst scenario",
        f"**{ratio_cell(worst_ratios)}** ({worst.title}), target ≤ {TARGET:.2f}×: **{verdict}**",
        f"{len(rounds)} rounds × {len(scenarios)} scenarios; every scenario in the table below",
    )
    return [row], overhead_table(rounds, scenarios)


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


def describe_setup(elapsed: float) -> str:
    versions = package_versions(("uvicorn", "websockets", "picows"))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"Playground benchmark on {HOST}: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (load average {load}), {versions}; ran {elapsed:.0f} s. "
        "Ratios are the headline: the machine is shared."
    )


Part = tuple[list[Row], str]  # rows of the main table, and a table of the part's own


def run_part(name: str, produce: Callable[[], list[Row] | Part]) -> Part:
    """A part's rows (and table), or one row saying why it failed (the others still run)."""
    print(f"running {name}…", file=sys.stderr)
    try:
        produced = produce()
    except (BenchmarkError, OSError, TimeoutError) as error:
        return [Row(name, f"**failed**: {type(error).__name__}: {error}")], ""
    return produced if isinstance(produced, tuple) else (produced, "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="a smoke run of a few seconds")
    add("--only", choices=PARTS, action="append", help="run this part only")
    add("--rounds", type=int, help=f"overhead rounds (default {DEFAULT.rounds})")
    add("--scale", type=float, help="overhead: multiply every scenario's count")
    add("--scenarios", help="overhead: comma-separated scenario keys (default: all)")
    add("--cells", type=int, help=f"trivial cells per condition (default {DEFAULT.cells})")
    add("--idle", type=int, help=f"idle connections (default {DEFAULT.idle})")
    add("--no-pin", action="store_true", help="let the OS place the processes")
    add("--profile", metavar="DIR", help="cProfile the overhead servers (their loop thread)")
    add("--before", metavar="REV", help="overhead: also the playground as it was at REV")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    settings = QUICK if args.quick else DEFAULT
    overrides = {
        key: getattr(args, key)
        for key in ("rounds", "scale", "cells", "idle")
        if getattr(args, key) is not None
    }
    return replace(settings, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    scenarios = pick_scenarios(args.scenarios, settings.scale)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        tree = str(stack.enter_context(worktree(args.before))) if args.before else None
        return run_parts(args, settings, scenarios, tree)


def run_parts(
    args: argparse.Namespace,
    settings: Settings,
    scenarios: Sequence[Scenario],
    tree: str | None,
) -> int:
    parts: dict[str, Callable[[], list[Row] | Part]] = {
        "startstop": lambda: start_stop_rows(settings),
        "cells": lambda: cell_rows(settings),
        "overhead": lambda: overhead_rows(settings, scenarios, not args.no_pin, args.profile, tree),
        "memory": lambda: memory_rows(settings),
    }
    began = time.perf_counter()
    rows: list[Row] = []
    tables: list[str] = []
    for name in args.only or PARTS:
        part_rows, table = run_part(name, parts[name])
        rows += part_rows
        tables += [table] if table else []
    print(describe_setup(time.perf_counter() - began))
    if tree is not None:
        print(f"\n`before`: the playground as it was at {args.before}, from a worktree at {tree}.")
    print()
    print(format_table(rows))
    for table in tables:
        print()
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
