"""A trivial cell's round trip while a handler floods a panel's client, in a real kernel.

Method: a kernel (jupyter_client) runs the playground and a panel. A handler sends
``--messages`` text messages as fast as it can to the panel's client. While it does, this
script executes trivial cells (``1+1``) one after another and times each, from the
execute request to the kernel going idle. Only samples taken while the flood was running
count. The same cells are timed with the server idle, and the table shows both and their
ratio. While the server works flat out, each of a cell's thread hops inside ipykernel
waits for the GIL: the playground lowers CPython's switch interval to 1 ms while it runs and
pauses its thread briefly every 2 ms of work (``--switch-interval`` sets the interpreter's
own value before the playground starts; the playground only ever lowers it). It also
reports how many times the client's log was pushed to the page (the panel throttles to ~20 a second)
and how many log lines were kept, and what the front end was sent during the flood: the
comm messages on IOPub (widget updates, whichever thread sent them), counted and sized as
their JSON content, per second of flood.

    .venv/bin/python benchmarks/bench_panel_flood.py [--messages 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.kernel import Kernel

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-cells", type=int, default=100)
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=0.005,
        help="sys.setswitchinterval in the kernel (CPython's default is 0.005 s)",
    )
    args = parser.parse_args()

    with Kernel() as kernel:
        kernel.run(
            textwrap.dedent(SETUP.format(count=args.messages, switch_interval=args.switch_interval))
        )
        idle = [time_cell(kernel)[1] for _ in range(args.idle_cells)]
        during: list[float] = []
        figures = []
        deadline = time.monotonic() + 300
        for _ in range(args.rounds):
            kernel.run(START_FLOOD)
            samples = []
            while time.monotonic() < deadline:
                samples.append(time_cell(kernel))
                if kernel.value("any(l.kind == 'close' for l in view.model.log())"):
                    break
            kernel.run(FLOOD_DONE)
            received, kept, redraws, opened, closed = _summary(kernel)
            flooding = [sample for sample in samples if opened <= sample[0] <= closed]
            kept_samples = [sample[1] for sample in flooding]
            during += kept_samples
            covered = sum(kept_samples)  # seconds of flood the samples' IOPub covers
            updates = sum(sample[2] for sample in flooding) / max(covered, 1e-9)
            front_bytes = sum(sample[3] for sample in flooding) / max(covered, 1e-9)
            figures.append(
                (received, kept, redraws, closed - opened, max(kept_samples), updates, front_bytes)
            )

    print(f"Flood of {args.messages} messages to a panel client, {args.rounds} rounds\n")
    print("| | trivial cells | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---|---|---|---|")
    for name, values in (("server idle", idle), ("during the flood", during)):
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1e3:.1f} | "
            f"{percentile(values, 0.99) * 1e3:.1f} | {max(values) * 1e3:.1f} |"
        )
    ratio = percentile(during, 0.99) / percentile(idle, 0.99)
    print(f"\np99 during / idle: {ratio:.2f}x")
    print(
        "\n| round | received | log lines kept | log redraws | flood (s) | redraws/s "
        "| front-end updates/s | front-end KB/s | slowest cell (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, figure in enumerate(figures, 1):
        received, kept, redraws, seconds, slowest, updates, front_bytes = figure
        print(
            f"| {index} | {received} | {kept} | {redraws} | {seconds:.2f} | "
            f"{redraws / max(seconds, 1e-9):.1f} | {updates:.1f} | {front_bytes / 1e3:.1f} | "
            f"{slowest * 1e3:.0f} |"
        )
    worst = max(during)
    p99 = percentile(during, 0.99)
    print(
        f"\nTarget: a trivial cell's p99 under 100 ms during the flood: "
        f"{'PASS' if p99 < 0.1 else 'MISS'} (p99 {p99 * 1e3:.1f} ms, max {worst * 1e3:.1f} ms)"
    )
    peak = max(figure[5] for figure in figures)
    print(
        f"Front-end updates: at most {peak:.1f} comm messages a second in any round "
        f"(the refresher redraws ~{1 / 0.05:.0f} times a second), "
        f"{max(figure[6] for figure in figures) / 1e3:.1f} KB/s at most"
    )


def _summary(kernel: Kernel) -> list:
    return json.loads(kernel.run(SUMMARY).stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
