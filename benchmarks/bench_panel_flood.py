"""A trivial cell's round trip while a handler floods a panel's client, in a real kernel.

Method: a kernel (jupyter_client) runs the playground and a panel. A handler sends
``--messages`` text messages as fast as it can to the panel's client. While it does, this
script executes trivial cells (``1+1``) one after another and times each, from the execute
request to the kernel going idle. Only samples taken while the flood was running count. The
same cells are timed with the server idle before each flood (``--idle-cells``), and the
table shows both and their ratio. While the server works flat out, each of a cell's thread
hops inside ipykernel waits for the GIL: the playground lowers CPython's switch interval to
1 ms while it runs and pauses its thread briefly while the kernel's threads want the GIL
(``--switch-interval`` sets the interpreter's own value before the playground starts; the
playground only ever lowers it). It also reports how many times the client's log was pushed
to the page (the panel throttles to ~20 a second) and how many log lines were kept, and
what the front end was sent during the flood: the comm messages on IOPub (widget updates,
whichever thread sent them), counted and sized as their JSON content, per second of flood.

``--before REV`` runs the same floods, round by round in turn, in a second kernel that
imports wsplay as it was at the git revision ``REV`` (checked out in a temporary worktree,
removed at the end): ``--before be7e7c0`` is the last panel that redrew its log and its
timeline as HTML tables; the front-end table then gives both, and their ratio per round.

    .venv/bin/python benchmarks/bench_panel_flood.py [--messages 10000] [--rounds 3]
    .venv/bin/python benchmarks/bench_panel_flood.py --before be7e7c0 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

RATIO_TARGET = 1.5  # p99 during the flood / idle p99 (the absolute 30 ms was withdrawn)
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import ratio_cell, worktree  # noqa: E402

from tests.kernel import Kernel  # noqa: E402

SETUP = """
import sys, time, wsplay
sys.setswitchinterval({switch_interval})
from wsplay import WebSocket, ws

COUNT = {count}

@ws("/flood")
async def flood(websocket: WebSocket):
    await websocket.accept()
    for index in range(COUNT):
        await websocket.send_text(f"message {{index}}")
    await websocket.close()

p = wsplay.panel()
"""

START_FLOOD = """
view = p.add_client()
redraws = []
# The log is appended in the page ("pushed"); before, it was an HTML table ("value").
drawn = "pushed" if view.log_view.has_trait("pushed") else "value"
view.log_view.observe(lambda change: redraws.append(time.monotonic()), drawn)
view.path.value = "/flood"
flood_started = time.time()
view.connect_button.click()
"""

FLOOD_DONE = "view.model.wait_until(lambda log: any(l.kind == 'close' for l in log), 120)"

SUMMARY = """
import json
log = view.model.log()
opened = flood_started  # the log is bounded: its first lines are gone by now
closed = next(l.time for l in log if l.kind == "close")
print(json.dumps([view.model.received, len(log), len(redraws), opened, closed]))
"""
FLOOD_DEADLINE = 120.0  # seconds one flood may take (its cells are timed until then)
WARM_UP_CELLS = 20


def time_cell(kernel: Kernel) -> tuple[float, float, int, int]:
    """(wall-clock start, seconds, comm messages, their bytes) of one trivial cell.

    The comm messages are every widget update that reached IOPub while the cell ran,
    whichever thread sent it: cells run back to back, so together they cover the flood.
    """
    started_wall = time.time()
    started = time.perf_counter()
    result = kernel.run("1+1")
    took = time.perf_counter() - started
    sizes = [len(json.dumps(content)) for content in result.comm_messages]
    return started_wall, took, len(sizes), sum(sizes)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Figure:
    """One flood as the panel saw it, and what the front end was sent meanwhile."""

    received: int
    kept: int
    redraws: int
    seconds: float
    slowest: float  # the slowest cell during the flood, seconds
    updates: float  # comm messages a second
    front_bytes: float  # their bytes a second


@dataclass
class Variant:
    """The floods of one kernel: its idle cells, its cells during floods, its figures."""

    name: str
    kernel: Kernel
    imported: str  # where the kernel's wsplay came from
    idle: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def start(kernel: Kernel, name: str, args: argparse.Namespace) -> Variant:
    setup = SETUP.format(count=args.messages, switch_interval=args.switch_interval)
    kernel.run(textwrap.dedent(setup))
    for _ in range(WARM_UP_CELLS):  # imports and caches: not counted
        time_cell(kernel)
    return Variant(name, kernel, kernel.value("wsplay.__file__"))


def idle_cells(variant: Variant, count: int) -> None:
    """``count`` cells with the server idle, before each flood: the idle p99 is taken over
    the same stretch of the machine's time as the flood's (a shared VM's tail drifts)."""
    variant.idle += [time_cell(variant.kernel)[1] for _ in range(count)]


def one_flood(variant: Variant) -> None:
    """A flood, cells timed while it runs; its figure appended to the variant's."""
    kernel = variant.kernel
    kernel.run(START_FLOOD)
    samples = []
    deadline = time.monotonic() + FLOOD_DEADLINE
    while time.monotonic() < deadline:
        samples.append(time_cell(kernel))
        if kernel.value("any(l.kind == 'close' for l in view.model.log())"):
            break
    kernel.run(FLOOD_DONE)
    received, kept, redraws, opened, closed = _summary(kernel)
    flooding = [sample for sample in samples if opened <= sample[0] <= closed]
    took = [sample[1] for sample in flooding]
    variant.during += took
    covered = max(sum(took), 1e-9)  # seconds of flood the samples' IOPub covers
    variant.figures.append(
        Figure(
            received,
            kept,
            redraws,
            closed - opened,
            max(took, default=float("nan")),  # a flood shorter than a cell: no sample
            sum(sample[2] for sample in flooding) / covered,
            sum(sample[3] for sample in flooding) / covered,
        )
    )


def p99_ratio(variant: Variant) -> float:
    """A trivial cell's p99 during the floods over its p99 with the server idle."""
    return percentile(variant.during, 0.99) / percentile(variant.idle, 0.99)


def report(args: argparse.Namespace, variants: list[Variant]) -> None:
    print(f"Flood of {args.messages} messages to a panel client, {args.rounds} rounds")
    for variant in variants:
        print(f"- {variant.name}: wsplay from {variant.imported}")
    print()
    print("| wsplay | | trivial cells | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---|---|---|---|---|")
    for variant in variants:
        for when, timed in (("server idle", variant.idle), ("during the flood", variant.during)):
            values = timed or [float("nan")]  # floods shorter than one cell: none timed
            print(
                f"| {variant.name} | {when} | {len(values)} | "
                f"{statistics.median(values) * 1e3:.1f} | "
                f"{percentile(values, 0.99) * 1e3:.1f} | {max(values) * 1e3:.1f} |"
            )
    now = variants[0]
    print()
    for variant in variants:
        print(f"p99 during / idle ({variant.name}): {p99_ratio(variant):.2f}x")
    ratio = p99_ratio(now)
    print(
        "\n| wsplay | round | received | log lines kept | log redraws | flood (s) | "
        "redraws/s | front-end updates/s | front-end KB/s | slowest cell (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for variant in variants:
        for index, figure in enumerate(variant.figures, 1):
            print(
                f"| {variant.name} | {index} | {figure.received} | {figure.kept} | "
                f"{figure.redraws} | {figure.seconds:.2f} | "
                f"{figure.redraws / max(figure.seconds, 1e-9):.1f} | {figure.updates:.1f} | "
                f"{figure.front_bytes / 1e3:.1f} | {figure.slowest * 1e3:.0f} |"
            )
    p99 = percentile(now.during, 0.99)
    print(
        f"\nTarget (issue 21): a trivial cell's p99 during the flood at most "
        f"{RATIO_TARGET:g}x the same kernel's idle p99: "
        f"{'PASS' if ratio <= RATIO_TARGET else 'MISS'} ({ratio:.2f}x: p99 {p99 * 1e3:.1f} ms "
        f"during, {percentile(now.idle, 0.99) * 1e3:.1f} ms idle; max "
        f"{max(now.during) * 1e3:.1f} ms)"
    )
    peak = max(figure.updates for figure in now.figures)
    print(
        f"Front-end updates: at most {peak:.1f} comm messages a second in any round "
        f"(the refresher redraws ~{1 / 0.05:.0f} times a second), "
        f"{max(figure.front_bytes for figure in now.figures) / 1e3:.1f} KB/s at most"
    )
    if len(variants) > 1:
        _before_and_after(now, variants[1])


def _before_and_after(now: Variant, before: Variant) -> None:
    """Bytes to the front end, per second and per message received, now against before."""
    print(f"\n| front end during the flood | {before.name} | {now.name} | {now.name} / before |")
    print("|---|---:|---:|---:|")
    rows = (
        ("KB a second", lambda f: f.front_bytes / 1e3),
        ("bytes per message received", lambda f: f.front_bytes * f.seconds / max(f.received, 1)),
        ("comm messages a second", lambda f: f.updates),
    )
    for label, pick in rows:
        ratios = [
            pick(a) / max(pick(b), 1e-9) for a, b in zip(now.figures, before.figures, strict=True)
        ]
        print(
            f"| {label} | {statistics.median(map(pick, before.figures)):.1f} | "
            f"{statistics.median(map(pick, now.figures)):.1f} | {ratio_cell(ratios)} |"
        )
    print(
        "\nMedians over rounds; the ratio: median (min–max) of the rounds' ratios (round k of "
        "one kernel against round k of the other; the two took turns)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-cells", type=int, default=100, help="before each flood")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=0.005,
        help="sys.setswitchinterval in the kernel (CPython's default is 0.005 s)",
    )
    parser.add_argument("--before", metavar="REV", help="also flood wsplay as it was at REV")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        variants = [start(stack.enter_context(Kernel()), "now", args)]
        if args.before:
            tree = stack.enter_context(worktree(args.before))
            env = {**os.environ, "PYTHONPATH": str(tree)}
            variants.append(start(stack.enter_context(Kernel(env)), args.before, args))
        for _ in range(args.rounds):
            for variant in variants:
                idle_cells(variant, args.idle_cells)
                one_flood(variant)
    report(args, variants)


def _summary(kernel: Kernel) -> list:
    return json.loads(kernel.run(SUMMARY).stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
