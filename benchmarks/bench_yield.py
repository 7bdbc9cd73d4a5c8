"""The server thread's pause for the kernel, side by side: throughput against a cell's latency.

    .venv/bin/python benchmarks/bench_yield.py [--messages 10000] [--rounds 8]

The playground's server shares the kernel's GIL, so it pauses now and then to let the
kernel's own threads run (``wsplay.runtime.server.gil``). This script measures what that
costs and buys with the flood of ``bench_panel_flood.py`` (its handler, its panel client,
its trivial cells: imported from there, so that both measure the same thing), in one real
kernel, under each *policy* of the pause:

* ``adaptive`` (the playground's): pause 1 ms per 1 ms of work, and again while the others
  use the pauses (8 ms at most), only while the kernel's other threads use the CPU
  (``gil.DEMAND``: 5% of the wall time since the last look);
* ``always``: the same pauses whatever happens;
* ``never``: no pause; the kernel's threads get the GIL by CPython's forced switches only.

A name may end in ``@MS``: the GIL switch interval the playground sets, in ms (1 unless
said); and it may carry the pause's own knobs between brackets, in ms but for ``unused`` (a
count): ``adaptive[slice=2,pause=0.5]@0.2`` pauses 0.5 ms per 2 ms of work while the kernel
wants the GIL (``slice``, ``pause``, ``hold``, ``longest`` and ``unused`` are ``gil.SLICE``,
``PAUSE``, ``HOLD``, ``LONGEST`` and ``UNUSED``; the playground's own values unless said).
Every round restarts the playground with each policy in turn (the order rotating) and runs
two floods:

* *with cells*: trivial cells (``1+1``) run one after the other, each timed from the
  execute request to the kernel going idle, as ``bench_panel_flood.py`` does (only those
  that ran while the flood did count): a learner running cells during a flood;
* *at rest*: no cell runs (the panel still redraws): a learner watching the flood.

Per policy: the cells' p50, p99 and max (pooled over rounds); each flood's throughput
(messages the panel's client received per second of flood) and the share of a CPU the
server's thread got (its own CPU time, from ``/proc``, over the flood's wall time), as
medians over rounds and as medians (min–max) of per-round ratios to ``always``. Target
(issue 21): ``adaptive``'s p99 during the flood at most 1.5x the idle p99 (the idle cells
are timed before the rounds here; ``bench_panel_flood.py`` interleaves them, and is the
figure of record).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass, field

import bench_panel_flood as flood
from harness import ratio_cell, rotated

from wsplay.runtime.playground import SWITCH_INTERVAL

# gil.DEMAND as the kernel evaluates it: the default, 0 (always pause), infinity (never).
POLICIES = {"adaptive": "_default_demand", "always": "0.0", "never": "float('inf')"}
BASELINE = "always"
RATIO_TARGET = 1.5  # adaptive's p99 during the flood / the idle p99
FLOOD_DEADLINE = 120.0  # seconds one flood may take
RUN_DEADLINE = 900.0  # seconds for every flood together
AT_REST_POLL = 0.2  # seconds between two looks at a flood that runs with no cells

REMEMBER_DEFAULT = (
    "import json, wsplay.runtime.server.gil as _gil; _default_demand = _gil.DEMAND; "
    "_default_knobs = dict(SLICE=_gil.SLICE, PAUSE=_gil.PAUSE, HOLD=_gil.HOLD, "
    "LONGEST=_gil.LONGEST, UNUSED=_gil.UNUSED)"
)
KNOBS = {
    "slice": "SLICE",
    "pause": "PAUSE",
    "hold": "HOLD",
    "longest": "LONGEST",
    "unused": "UNUSED",  # a count, not milliseconds
}  # a name's [knob=ms] -> gil's
# Restart the kernel's playground with a pause policy and a GIL switch interval.
POLICY = """
import threading, wsplay.runtime.server.gil as _gil
_gil.DEMAND = {demand}
_gil.__dict__.update(_default_knobs, **{knobs!r})
_pg = wsplay.start()
_pg.switch_interval = {interval!r}
_pg.restart()
"""
# The server thread's CPU seconds so far, from the kernel's accounting (all of its threads
# share one process, so process_time() would count the kernel's own work too).
SERVER_CPU = """
_name = f"wsplay-server-{wsplay.start().port}"
_tid = next(t.native_id for t in threading.enumerate() if t.name == _name)
with open(f"/proc/self/task/{_tid}/schedstat") as _f:
    print(json.dumps(int(_f.read().split()[0]) / 1e9))
"""
FLOOD_OVER = "any(l.kind == 'close' for l in view.model.log())"


@dataclass
class Flood:
    """One flood: messages per second, the server thread's share of a CPU, cells timed."""

    rate: float
    share: float
    cells: list[float] = field(default_factory=list)


Round = dict[str, tuple[Flood, Flood]]  # policy -> (with cells, at rest)


def policy_of(name: str) -> tuple[str, float, dict[str, float]] | None:
    """``adaptive[pause=1]@0.2`` -> (its gil.DEMAND, 0.0002 s, {"PAUSE": 0.001}); without
    @, the playground's interval; without [...], the playground's knobs. None: not a name."""
    policy, _, interval = name.partition("@")
    policy, _, bracket = policy.partition("[")
    if policy not in POLICIES or (bracket and not bracket.endswith("]")):
        return None
    try:
        knobs = {}
        for setting in filter(None, bracket.removesuffix("]").split(",")):
            knob, _, value = setting.partition("=")
            name = KNOBS[knob.strip()]
            knobs[name] = int(value) if name == "UNUSED" else float(value) / 1e3
        seconds = float(interval) / 1e3 if interval else SWITCH_INTERVAL
    except (KeyError, ValueError):
        return None
    return POLICIES[policy], seconds, knobs


def last_json(text: str) -> object:
    return json.loads(text.strip().splitlines()[-1])


def one_flood(kernel: flood.Kernel, with_cells: bool, deadline: float) -> Flood:
    """Start a flood, time cells meanwhile (or only wait), and read what it did."""
    cpu_before = float(last_json(kernel.run(SERVER_CPU).stdout))
    kernel.run(flood.START_FLOOD)
    samples = []
    stop = min(deadline, time.monotonic() + FLOOD_DEADLINE)
    while time.monotonic() < stop:
        if with_cells:
            samples.append(flood.time_cell(kernel))
        else:
            time.sleep(AT_REST_POLL)
        if kernel.value(FLOOD_OVER):
            break
    kernel.run(flood.FLOOD_DONE)
    cpu_after = float(last_json(kernel.run(SERVER_CPU).stdout))
    received, _, _, opened, closed = last_json(kernel.run(flood.SUMMARY).stdout)[:5]
    seconds = max(closed - opened, 1e-9)
    cells = [sample[1] for sample in samples if opened <= sample[0] <= closed]
    return Flood(received / seconds, (cpu_after - cpu_before) / seconds, cells)


def run(args: argparse.Namespace, names: list[str]) -> tuple[list[float], list[Round]]:
    """Idle cells, then the rounds (each policy, in rotated order, both floods)."""
    rounds: list[Round] = []
    deadline = time.monotonic() + RUN_DEADLINE
    with flood.Kernel() as kernel:
        setup = flood.SETUP.format(count=args.messages, switch_interval=args.switch_interval)
        kernel.run(textwrap.dedent(setup) + "\n" + REMEMBER_DEFAULT)
        idle = [flood.time_cell(kernel)[1] for _ in range(args.idle_cells)]
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                print(f"Stopping after {number} rounds (time budget).", file=sys.stderr)
                break
            measured: Round = {}
            for name in rotated(names, number):
                demand, interval, knobs = policy_of(name)  # type: ignore[misc]
                kernel.run(POLICY.format(demand=demand, interval=interval, knobs=knobs))
                busy = one_flood(kernel, True, deadline)
                rest = one_flood(kernel, False, deadline)
                measured[name] = (busy, rest)
            rounds.append(measured)
            line = ", ".join(
                f"{n} {measured[n][0].rate:,.0f}/{measured[n][1].rate:,.0f} msg/s" for n in names
            )
            print(f"round {number + 1}/{args.rounds}: {line} (cells/rest)", file=sys.stderr)
    return idle, rounds


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def report(args: argparse.Namespace, names: list[str], idle: list[float], rounds: list[Round]):
    print(
        f"Floods of {args.messages} messages to a panel client in one kernel: {len(rounds)} "
        "rounds, the policies interleaved; trivial cells with the server idle: "
        f"p50 {ms(statistics.median(idle))} ms, p99 {ms(flood.percentile(idle, 0.99))} ms "
        f"({len(idle)} cells)\n"
    )
    print(
        "| policy | cells during the flood | p50 (ms) | p99 (ms) | max (ms) | msg/s, cells "
        "running | × always | msg/s, at rest | × always | server's CPU share, at rest "
        "| × always |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        cells = [took for r in rounds for took in r[name][0].cells] or [float("nan")]

        def column(pick, name=name) -> tuple[float, str]:
            values = [pick(r[name]) for r in rounds]
            ratios = [pick(r[name]) / pick(r[BASELINE]) for r in rounds]
            return statistics.median(values), ratio_cell(ratios)

        busy_rate, busy_ratio = column(lambda pair: pair[0].rate)
        rest_rate, rest_ratio = column(lambda pair: pair[1].rate)
        share, share_ratio = column(lambda pair: pair[1].share)
        print(
            f"| {name} | {len(cells)} | {ms(statistics.median(cells))} | "
            f"{ms(flood.percentile(cells, 0.99))} | {ms(max(cells))} | {busy_rate:,.0f} | "
            f"{busy_ratio} | {rest_rate:,.0f} | {rest_ratio} | {share:.0%} | {share_ratio} |"
        )
    print(
        "\nCells: pooled over rounds. msg/s and CPU share: medians over rounds; × always: "
        "medians (min–max) of per-round ratios to `always` of the same round."
    )
    if "adaptive" in names:
        cells = [took for r in rounds for took in r["adaptive"][0].cells]
        if cells:
            ratio = flood.percentile(cells, 0.99) / flood.percentile(idle, 0.99)
            verdict = "PASS" if ratio <= RATIO_TARGET else "MISS"
            print(
                f"\nTarget: adaptive's p99 during the flood at most {RATIO_TARGET:g}x the idle "
                f"p99: {ratio:.2f}x: **{verdict}**"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--idle-cells", type=int, default=100)
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated")
    parser.add_argument("--switch-interval", type=float, default=0.005, help="as the flood's")
    args = parser.parse_args()
    # Commas part the policies, except those between a policy's brackets.
    names = [name for name in re.split(r",(?![^\[]*\])", args.policies) if name]
    if BASELINE not in names or any(policy_of(name) is None for name in names):
        raise SystemExit(
            f"--policies: some of {', '.join(POLICIES)} (each may carry [slice=MS,pause=MS,"
            f"hold=MS,longest=MS,unused=N] and end in @MS, a switch interval in ms), with "
            f"{BASELINE}"
        )
    idle, rounds = run(args, names)
    if not rounds:
        raise SystemExit("No round completed within the time budget.")
    report(args, names, idle, rounds)


if __name__ == "__main__":
    main()
