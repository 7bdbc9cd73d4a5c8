"""Echo benchmark: server CPU per WebSocket message and per handshake, relative to raw ASGI.

    .venv/bin/python benchmarks/bench_echo.py            # the default run, 2-4 minutes
    .venv/bin/python benchmarks/bench_echo.py --quick    # a smoke run of ~15 seconds
    .venv/bin/python benchmarks/bench_echo.py --scenarios small-50,handshakes --rounds 9

Method. The same echo handlers (text on ``ECHO_PATH`` with receive_text/send_text, binary
on ``BYTES_ECHO_PATH`` with receive_bytes/send_bytes) are served by each *variant*, an ASGI
app built by a factory in ``VARIANTS``: a hand-written raw ASGI app (the baseline),
Starlette, BlackSheep and wsplay. Each variant runs in its own server process under the same
uvicorn settings (``ws="websockets-sansio"``, ``lifespan="off"``, ``log_level="warning"``,
127.0.0.1 only). One load client, in a process of its own, drives the servers one at a
time with picows, a WebSocket client written in Cython, so that the client costs far less
than the server.

Each round measures every variant in every *scenario* of ``harness.SCENARIOS``: echoes of
32-byte text over 1 connection (one message in flight) and over 50, of 64 KiB and of 1 MiB
text and binary over a few connections, and handshakes (connect with a page's Origin, echo
once, close; 10 at a time). Around each scenario's slice the server process reports its own
CPU time (``time.process_time()``, user + system, nanosecond resolution), and the client
reports its own; connections are opened before and closed after the measured window. Every
job is bounded in count and in time: one that passes ``--timeout`` aborts its round; no
round starts that would pass ``--budget`` for the whole run.

Why ratios. The machine is shared and noisy, so absolute microseconds drift from minute
to minute. Rounds interleave the variants (their order rotates), and within a round each
scenario is cut into ``--slices`` passes that visit every variant in turn, the order
rotating from pass to pass and from scenario to scenario. Every variant is divided by the
raw ASGI app *of the same round*; the median of these per-round ratios is the headline,
with their range across rounds beside it. Everything the raw app costs is uvicorn, the
protocol, the event loop and the kernel; what a framework adds shows above 1.00.

Fair conditions. Each round starts fresh server processes, so nothing peculiar to one
process is carried through all rounds. All servers are pinned to one CPU and the client
to another (``--no-pin`` to let the OS place them). The processes run with glibc's malloc
thresholds fixed (``GLIBC_TUNABLES``): asyncio reads each socket into a fresh 256 KiB
buffer, and under glibc's *dynamic* mmap threshold whether that costs an mmap, page faults
and an munmap per read depends on what the process happened to allocate earlier (the
64 KiB figures swung by up to 1.7x between processes that way).

The server processes, the client, the scenarios and the measuring are ``harness.py``'s,
shared with ``bench_playground.py``; this script holds the variants, the plan and the
report. Add a variant by writing a factory that returns an ASGI app serving both echo paths
and decorating it with ``@variant("name")``; pick variants with ``--variants`` and scenarios
with ``--scenarios``. ``--profile DIR`` runs the servers under cProfile (their timings are
then inflated: read the profiles, not the table).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    BYTES_ECHO_PATH,
    ECHO_PATH,
    HOST,
    AppFactory,
    ASGIApp,
    BenchmarkError,
    JobFailed,
    LoadClient,
    Pinning,
    Receive,
    Scenario,
    Scope,
    Send,
    ServerHandle,
    ServerSpec,
    Tally,
    choose_pinning,
    fixed_malloc_thresholds,
    interleaved_round,
    measure_scenarios,
    package_versions,
    pick_scenarios,
    ratio_cell,
    rotated,
)

BASELINE = "raw"
# (variant, largest acceptable median ratio to the baseline in every scenario), from the
# issue: every message size and the handshakes.
TARGETS = (("wsplay", 1.03),)


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
    """The baseline: the echo written against the ASGI messages, with nothing in between.

    It echoes text as text and bytes as bytes on any path, so it serves both echo paths.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})

    return app


@variant("raw-twin")
def raw_twin_app() -> ASGIApp:
    """The baseline again, in a process of its own: how far two identical servers measure
    apart in this run, the noise floor (not in the default run: ``--variants raw-twin``)."""
    return raw_asgi_app()


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

    async def echo_bytes(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())
        except WebSocketDisconnect:
            pass

    return Starlette(
        routes=[WebSocketRoute(ECHO_PATH, echo), WebSocketRoute(BYTES_ECHO_PATH, echo_bytes)]
    )


def _echo_router(framework: Any) -> Any:
    """Both echo handlers on a router of ``framework`` (blacksheep or wsplay: one API)."""
    router = framework.Router()

    @router.ws(ECHO_PATH)
    async def echo(websocket: framework.WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except framework.WebSocketDisconnectError:
            pass

    @router.ws(BYTES_ECHO_PATH)
    async def echo_bytes(websocket: framework.WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())
        except framework.WebSocketDisconnectError:
            pass

    return framework.Application(router=router)


@variant("blacksheep")
def blacksheep_app() -> ASGIApp:
    import blacksheep

    return _echo_router(blacksheep)


@variant("wsplay")
def wsplay_app() -> ASGIApp:
    import wsplay

    return _echo_router(wsplay)


# --- measuring ----------------------------------------------------------------------------
Round = dict[str, Tally]  # variant -> scenario key -> what it cost in one round


@dataclass(frozen=True)
class Plan:
    """What to run: the variants, the scenarios, the limits, where processes run."""

    names: list[str]
    scenarios: list[Scenario]
    rounds: int
    slices: int
    timeout: float  # seconds per job (one scenario's slice)
    budget: float  # seconds for the whole run: no round starts that would pass it
    pinning: Pinning
    profile_dir: str | None


def run_rounds(plan: Plan) -> list[Round]:
    """The rounds that completed, each measuring every variant; the order rotates.

    A round whose job fails or passes its deadline is dropped and the run goes on: one
    stall on a shared machine should not cost the whole run.
    """
    client = LoadClient(plan.pinning.client)
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
            except JobFailed as aborted:
                print(f"{label} aborted: {aborted}", file=sys.stderr)
            else:
                print(f"{label}: {progress(completed[-1], plan)}", file=sys.stderr)
            longest = max(longest, time.monotonic() - started)
    finally:
        client.close()
    return completed


def run_round(client: LoadClient, order: list[str], plan: Plan) -> Round:
    """Fresh servers for the variants in ``order``, warmed up, then interleaved passes: in
    each, every scenario's slice runs on every server in turn, so that the servers'
    figures of one scenario are taken close together in time."""
    scenarios = plan.scenarios
    return interleaved_round(
        [ServerSpec(name, VARIANTS[name]) for name in order],
        plan.slices,
        warm_up=lambda server: warm_up(client, server, plan),
        measure=lambda server, part: measure_scenarios(
            client, server, [scenarios[part]], 1 / plan.slices, plan.timeout
        ),
        cpu=plan.pinning.server,
        profile_dir=plan.profile_dir,
        parts=len(scenarios),
    )


def warm_up(client: LoadClient, server: ServerHandle, plan: Plan) -> None:
    """A short unrecorded pass (a tenth of a round's load) through every scenario.

    A variant that fails here is broken, not slow: the run stops.
    """
    try:
        measure_scenarios(client, server, plan.scenarios, 0.1, plan.timeout)
    except JobFailed as error:
        raise BenchmarkError(f"Warm-up failed: {error}") from error


def ratio(round_: Round, name: str, key: str) -> float:
    """``name``'s server CPU per unit over the baseline's, in the same round."""
    return round_[name][key].server_us / round_[BASELINE][key].server_us


def progress(round_: Round, plan: Plan) -> str:
    """One round's ratios, for watching the noise: ``wsplay 1.01/1.03/...``."""
    keys = [scenario.key for scenario in plan.scenarios]
    ratios = (
        f"{name} " + "/".join(f"{ratio(round_, name, key):.2f}" for key in keys)
        for name in plan.names
        if name != BASELINE
    )
    return ", ".join(ratios) + f" (× raw: {', '.join(keys)})"


# --- reporting ----------------------------------------------------------------------------
def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def format_table(plan: Plan, rounds: list[Round]) -> str:
    others = [name for name in plan.names if name != BASELINE]
    lines = [
        "| scenario | raw µs/op | "
        + " | ".join(f"{name} × raw (range)" for name in others)
        + " | client µs/op | servers busy |",
        "|---|---:|" + "---:|" * len(others) + "---:|---:|",
    ]
    for scenario in plan.scenarios:
        key = scenario.key
        samples = [r[name][key] for r in rounds for name in plan.names]
        cells = [ratio_cell([ratio(r, name, key) for r in rounds], digits=3) for name in others]
        raw_us = _median(r[BASELINE][key].server_us for r in rounds)
        busy = min(sample.server_busy + sample.server_starved for sample in samples)
        client_us = max(sample.client_us for sample in samples)
        lines.append(
            f"| {scenario.title} | {raw_us:.1f} | "
            + " | ".join(cells)
            + f" | {client_us:.1f} | ≥ {busy:.0%} |"
        )
    return "\n".join(lines)


def bottleneck_line(plan: Plan, rounds: list[Round]) -> str:
    """Say, per scenario, whether the client could have limited the servers."""
    limited = []
    for scenario in plan.scenarios:
        key = scenario.key
        client_us = max(r[name][key].client_us for r in rounds for name in plan.names)
        server_us = min(r[name][key].server_us for r in rounds for name in plan.names)
        if client_us >= server_us:
            limited.append(scenario.title)
    starved = max(
        r[name][key].server_starved for r in rounds for name in plan.names for key in r[name]
    )
    verdict = (
        "the client used less CPU per operation than every server in every scenario, so the "
        "table measures the servers"
        if not limited
        else f"the CLIENT used as much CPU as a server in: {'; '.join(limited)} (understated)"
    )
    waited = (
        f"; other load kept a server off its CPU up to {starved:.0%} of a job"
        if starved > 0.05
        else ""
    )
    return f"Bottleneck: {verdict}{waited}."


def target_lines(plan: Plan, rounds: list[Round]) -> list[str]:
    lines = []
    for name, limit in TARGETS:
        if name not in plan.names:
            continue
        for scenario in plan.scenarios:
            median = _median(ratio(r, name, scenario.key) for r in rounds)
            verdict = "PASS" if median <= limit else "MISS"
            lines.append(
                f"- {name}, {scenario.title}: {median:.3f}× raw per {scenario.unit} "
                f"(target ≤ {limit:.2f}×): **{verdict}**"
            )
    return lines


def describe_setup(plan: Plan, rounds_done: int) -> str:
    versions = package_versions(("uvicorn", "websockets", "starlette", "blacksheep", "picows"))
    rounds = f"{rounds_done}" if rounds_done == plan.rounds else f"{rounds_done} of {plan.rounds}"
    pinned = "pinned" if plan.pinning.server is not None else "unpinned"
    counts = "; ".join(f"{s.key} {s.count}" for s in plan.scenarios)
    return (
        f"Echo benchmark: {rounds} rounds × {len(plan.names)} variants × "
        f"{len(plan.scenarios)} scenarios, each in {plan.slices} interleaved slices; per "
        f"round and variant: {counts} (echoes or handshakes).\n"
        f"Servers: uvicorn ws=websockets-sansio, a process per variant on {HOST}, fixed glibc "
        f"malloc thresholds. Client: picows, one process. Processes {pinned}. Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; {versions}."
    )


def report(plan: Plan, rounds: list[Round]) -> str:
    parts = [
        describe_setup(plan, len(rounds)),
        "",
        format_table(plan, rounds),
        "",
        "µs/op: raw ASGI's server CPU (user+system) per echo (one message in, one out) or "
        f"per handshake, median over {len(rounds)} rounds. Ratios: medians of per-round "
        "ratios of server CPU per operation to raw ASGI's (min–max over rounds in brackets). "
        "Servers busy: the least share of a job's wall time any server was on a CPU or "
        "waiting for one.",
        bottleneck_line(plan, rounds),
    ]
    if targets := target_lines(plan, rounds):
        parts += ["", "Targets:", *targets]
    return "\n".join(parts)


# --- command line -------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--variants",
        default="starlette,blacksheep,wsplay",
        help=f"comma-separated, of {', '.join(VARIANTS)} (raw is always in)",
    )
    add(
        "--scenarios",
        help="comma-separated keys (default: all): "
        + ", ".join(scenario.key for scenario in pick_scenarios(None)),
    )
    add("--scale", type=float, default=1.0, help="multiply every scenario's count")
    add("--rounds", type=int, default=7)
    add("--slices", type=int, default=6, help="interleaved slices of each scenario per round")
    add("--timeout", type=float, default=30.0, help="seconds one job may take")
    add("--budget", type=float, default=900.0, help="seconds the whole run may take")
    add("--quick", action="store_true", help="a smoke run of a few seconds")
    add("--no-pin", action="store_true", help="let the OS place the processes")
    add("--profile", metavar="DIR", help="run servers under cProfile: DIR/<variant>-<pid>.prof")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.scale, args.slices = 2, 0.1, 1
        args.timeout, args.budget = 10.0, 60.0
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
        scenarios=pick_scenarios(args.scenarios, args.scale),
        rounds=args.rounds,
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
    started = time.monotonic()
    try:
        with fixed_malloc_thresholds():  # for the client process too: it starts inside
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
