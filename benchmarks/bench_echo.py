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

The server processes, the client and the measuring are ``harness.py``'s, shared with
``bench_playground.py``; this script holds the variants, the plan and the report.

Add a variant by writing a factory that returns an ASGI app serving the echo on
``ECHO_PATH`` and decorating it with ``@variant("name")``; pick variants with
``--variants``. ``--profile DIR`` runs the servers under cProfile (their timings are then
inflated: read the profiles, not the table).
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

from harness import (
    ECHO_PATH,
    HOST,
    PAYLOAD,
    AppFactory,
    ASGIApp,
    BenchmarkError,
    Job,
    JobFailed,
    LoadClient,
    Pinning,
    Receive,
    Sample,
    Scope,
    Send,
    ServerHandle,
    ServerSpec,
    choose_pinning,
    fixed_malloc_thresholds,
    interleaved_round,
    package_versions,
    ratio_cell,
    rotated,
)

BASELINE = "raw"
# (variant, metric, largest acceptable ratio to the baseline), from the issue.
TARGETS = (("wsplay", "message", 1.03), ("wsplay", "handshake", 1.05))


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


# --- measuring ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Measurement:
    """One variant in one round: its messages phase and its handshakes phase."""

    message: Sample
    handshake: Sample

    def __add__(self, other: "Measurement") -> "Measurement":
        return Measurement(self.message + other.message, self.handshake + other.handshake)


Round = dict[str, Measurement]


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
    """The rounds that completed, each measuring every variant; the order rotates.

    A round whose phase fails or passes its deadline is dropped and the run goes on: one
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
                print(f"{label}: {progress(completed[-1])}", file=sys.stderr)
            longest = max(longest, time.monotonic() - started)
    finally:
        client.close()
    return completed


def run_round(client: LoadClient, order: list[str], plan: Plan) -> Round:
    """Fresh servers for the variants in ``order``, warmed up, then interleaved slices."""
    return interleaved_round(
        [ServerSpec(name, VARIANTS[name]) for name in order],
        plan.slices,
        warm_up=lambda server: warm_up(client, server, plan),
        measure=lambda server: measure(client, server, plan, 1 / plan.slices),
        cpu=plan.pinning.server,
        profile_dir=plan.profile_dir,
    )


def measure(client: LoadClient, server: ServerHandle, plan: Plan, scale: float) -> Measurement:
    """Both phases against ``server``, each read from the server's own clocks."""
    message_job, handshake_job = plan.jobs(server.url, scale)
    return Measurement(client.measure(server, message_job), client.measure(server, handshake_job))


def warm_up(client: LoadClient, server: ServerHandle, plan: Plan) -> None:
    """A short unrecorded pass (a tenth of a round's load) through both phases.

    A variant that fails here is broken, not slow: the run stops.
    """
    try:
        measure(client, server, plan, scale=0.1)
    except JobFailed as error:
        raise BenchmarkError(f"Warm-up failed: {error}") from error


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


def format_table(summaries: dict[str, Summary]) -> str:
    lines = [
        "| variant | server µs/msg | msg × raw (range) | server µs/handshake "
        "| handshake × raw (range) | client µs/msg | server busy (msgs) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {name} | {s.message_us:.1f} | {ratio_cell(s.message_ratios, digits=3)} "
            f"| {s.handshake_us:.0f} | {ratio_cell(s.handshake_ratios, digits=3)} "
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
    versions = package_versions(("uvicorn", "websockets", "starlette", "blacksheep", "picows"))
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
