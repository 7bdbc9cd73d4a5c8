"""Long reads are parsed in pieces, with a look at the pacer between them (runtime/pacing.py).

Why: one read can bring thousands of small messages; parsed in one go, the server's thread
held the GIL for tens of milliseconds and a cell waited that long (benchmarks/bench_yield.py,
bench_panel_flood.py). These tests check that nothing else changes: every message arrives,
in order, whether the server or the kernel's client reads it, and a protocol error in the
middle of a long read is answered once and recorded with what the client sent.

No kernel: a ``wsplay.Playground`` in this process (real uvicorn on 127.0.0.1), a raw socket
client (tests/rawws.py) and the playground's own client.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.frames import Opcode
from websockets.sync.client import connect

import wsplay
from tests.apps import echo
from tests.rawws import OP_CLOSE, OP_TEXT, RawClient, close_payload, raw_frame
from wsplay import Application, Router, WebSocket
from wsplay.framework.close_codes import CloseCode
from wsplay.framework.exceptions import WebSocketClosedError
from wsplay.runtime import pacing
from wsplay.runtime.clients import wire
from wsplay.runtime.clients.kernel import READ_TURN, ClientCore
from wsplay.runtime.server import protocols
from wsplay.runtime.timeline.kinds import CLOSE

MESSAGES = 3_000  # ~70 KB of small frames: many pieces in one read
HOLD_LIMIT = 5.0  # seconds a holder may keep the loop, at most


class CountingPacer:
    """A pacer always due (or never), counting its looks."""

    def __init__(self, due: bool = True) -> None:
        self.next = 0.0 if due else float("inf")
        self.looks = 0

    def look(self) -> None:
        self.looks += 1


class Parser:
    """A parser on a clock of its own: each byte takes ``cost`` seconds to parse."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cost: float) -> None:
        self.now, self.cost = 0.0, cost
        self.pieces: list[bytes] = []
        monkeypatch.setattr(pacing, "perf_counter", lambda: self.now)

    def __call__(self, piece: bytes | memoryview) -> None:
        self.pieces.append(bytes(piece))
        self.now += len(piece) * self.cost


SMALL_MESSAGES = 100 * pacing.DENSE  # per byte: what a flood of small messages costs
BIG_MESSAGES = pacing.DENSE / 100  # per byte: one big message, parsed in C
LONG_READ = bytes(range(256)) * (3 * pacing.PIECE_BYTES // 256) + b"tail!"


def test_a_short_read_is_handed_on_whole_with_no_look(monkeypatch: pytest.MonkeyPatch) -> None:
    parser, pacer = Parser(monkeypatch, SMALL_MESSAGES), CountingPacer()
    data = b"x" * pacing.PIECE_BYTES
    assert pacing.feed_in_pieces(data, parser, pacer, dense=True) is True
    assert parser.pieces == [data]
    assert pacer.looks == 0


def test_a_dense_read_goes_in_pieces_in_order_with_a_look_after_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser, pacer = Parser(monkeypatch, SMALL_MESSAGES), CountingPacer()
    assert pacing.feed_in_pieces(LONG_READ, parser, pacer, dense=True) is True
    assert b"".join(parser.pieces) == LONG_READ
    assert [len(piece) for piece in parser.pieces] == [pacing.PIECE_BYTES] * 3 + [5]
    assert pacer.looks == 4


def test_a_read_of_big_messages_goes_on_at_once_after_its_first_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each piece is a parser's turn: a big message's read is not cut more than once."""
    parser = Parser(monkeypatch, BIG_MESSAGES)
    assert pacing.feed_in_pieces(LONG_READ, parser, CountingPacer(), dense=True) is False
    assert [len(piece) for piece in parser.pieces] == [pacing.PIECE_BYTES, len(LONG_READ) - 4096]
    assert b"".join(parser.pieces) == LONG_READ


def test_after_a_read_of_big_messages_the_next_goes_whole_until_one_is_dense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = Parser(monkeypatch, SMALL_MESSAGES)
    assert pacing.feed_in_pieces(LONG_READ, parser, CountingPacer(), dense=False) is True
    assert parser.pieces == [LONG_READ]  # once: the next read of this connection is cut
    parser.pieces.clear()
    assert pacing.feed_in_pieces(LONG_READ, parser, CountingPacer(), dense=True) is True
    assert len(parser.pieces) == 4


def test_a_pacer_that_is_not_due_is_not_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    pacer = CountingPacer(due=False)
    pacing.feed_in_pieces(LONG_READ, Parser(monkeypatch, SMALL_MESSAGES), pacer, dense=True)
    assert pacer.looks == 0


# --- the server's protocol, reading a long burst -----------------------------------------
released = threading.Event()


async def hold(websocket: WebSocket) -> None:
    """Holds the server's loop (on purpose, briefly): meanwhile a client's burst piles up
    in the socket, and the loop then reads it in one go."""
    await websocket.accept()
    released.wait(HOLD_LIMIT)
    await websocket.close()


@pytest.fixture(scope="module")
def pg() -> Iterator[wsplay.Playground]:
    router = Router()
    router.add_ws("/echo", echo)
    router.add_ws("/hold", hold)
    router.add_ws("/flood/{int:count}", flood)
    # No watchdog: holding the loop is this test's method, not a learner's mistake.
    playground = wsplay.Playground(Application(router=router), block_threshold=None).start()
    try:
        yield playground
    finally:
        playground.stop()


def record_reads(monkeypatch: pytest.MonkeyPatch, module: object) -> list[int]:
    """The size of every long read ``module`` hands to ``feed_in_pieces`` from now on."""
    sizes: list[int] = []
    real = pacing.feed_in_pieces

    def recorded(data: bytes, consume, pacer, dense) -> bool:  # type: ignore[no-untyped-def]
        sizes.append(len(data))
        return real(data, consume, pacer, dense)

    monkeypatch.setattr(module, "feed_in_pieces", recorded)
    return sizes


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every long read the server's protocol parsed in pieces."""
    return record_reads(monkeypatch, protocols)


def burst_while_held(port: int, client: RawClient, data: bytes) -> None:
    """Send ``data`` while the server's loop is held, so that it reads it at once."""
    released.clear()
    with connect(f"ws://127.0.0.1:{port}/hold", open_timeout=HOLD_LIMIT):
        try:
            client.send(data)
        finally:
            released.set()


def test_the_server_parses_a_long_burst_in_pieces_and_loses_nothing(
    pg: wsplay.Playground, reads: list[int]
) -> None:
    texts = [f"message {index}" for index in range(MESSAGES)]
    with RawClient(pg.port, "/echo") as client:
        burst_while_held(pg.port, client, b"".join(raw_frame(OP_TEXT, t.encode()) for t in texts))
        assert [client.read_text() for _ in texts] == texts
    assert max(reads) > pacing.PIECE_BYTES  # the burst came in one read, parsed in pieces


def test_a_protocol_error_inside_a_long_read_is_answered_once(
    pg: wsplay.Playground, reads: list[int]
) -> None:
    """A close code of 999 between two long runs of messages: 1002, once; what came after
    it is not read; the timeline says what the client sent; and the handler, still reading
    what came before, is told the connection is over when it answers (a disconnect, as
    ASGI says), not hit by uvicorn's RuntimeError for a send after its close."""
    errors = len(pg.errors)
    before = [b"before %d" % index for index in range(500)]
    after = [b"after %d" % index for index in range(500)]
    data = b"".join(
        [*(raw_frame(OP_TEXT, t) for t in before), raw_frame(OP_CLOSE, close_payload(999))]
        + [raw_frame(OP_TEXT, t) for t in after]
    )
    with RawClient(pg.port, "/echo", marker="burst-999") as client:
        burst_while_held(pg.port, client, data)
        frames = []
        while (frame := client.read_frame()) is not None:
            frames.append(frame)
    closes = [frame for frame in frames if frame.opcode is Opcode.CLOSE]
    echoed = [frame.data for frame in frames if frame.opcode is Opcode.TEXT]
    assert len(closes) == 1 and closes[0].data[:2] == (1002).to_bytes(2, "big")
    assert echoed == before[: len(echoed)]  # in order, none of what came after the error
    assert max(reads) > pacing.PIECE_BYTES
    ends = [
        event
        for event in pg.timeline.events(kind=CLOSE)
        if event.side == "server" and event.peer_code == 999
    ]
    assert len(ends) == 1
    assert "broke the WebSocket protocol" in ends[0].note
    assert len(pg.errors) == errors, pg.errors[-1].traceback


# --- the kernel's client, reading a flood ---------------------------------------------
async def flood(websocket: WebSocket, count: int) -> None:
    """Small messages as fast as the server can send them: the client's reads pile up."""
    await websocket.accept()
    for index in range(count):
        await websocket.send_text(f"flood {index}")
    await websocket.close()


def test_the_kernel_client_parses_a_flood_in_pieces_and_its_wire_keeps_up(
    pg: wsplay.Playground, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = record_reads(monkeypatch, wire)
    count = 20_000  # beyond the server's write buffer: the client reads in long reads
    connection = pg.connect_sync(f"/flood/{count}")
    try:
        received = [connection.receive_text() for _ in range(count)]
    finally:
        connection.close()
    assert received == [f"flood {index}" for index in range(count)]
    assert max(sizes) > pacing.PIECE_BYTES
    last = [frame for frame in connection.wire.frames if frame.opcode == OP_TEXT][-1]
    assert last.message == count  # the wire parsed every piece, frame by frame


# --- the panel's reader, with a backlog -------------------------------------------------
def test_a_reader_of_a_backlog_lets_the_loop_turn() -> None:
    """Messages already received are read without a wait: ``read_all`` (the panel's reader)
    gives the loop a turn every READ_TURN, so the server's other connections are served and
    the watchdog's beat goes on (it took the reader for a handler blocking the loop)."""
    backlog = 40  # messages, each handled in 5 ms: 0.2 s, twenty READ_TURNs

    class Backlogged:
        """A client whose messages have all arrived: receive never waits."""

        left = backlog

        async def receive(self, timeout: float | None) -> str:
            if not self.left:
                raise WebSocketClosedError(CloseCode.NORMAL_CLOSURE.value)
            self.left -= 1
            return "queued"

    def handle(data: str | bytes) -> None:
        time.sleep(0.005)  # a log line drawn, say

    async def read_while_ticking() -> list[float]:
        loop = asyncio.get_running_loop()
        ticks: list[float] = []

        def tick() -> None:
            ticks.append(time.perf_counter())
            loop.call_soon(tick)

        loop.call_soon(tick)
        await ClientCore.read_all(Backlogged(), handle)  # type: ignore[arg-type]
        return ticks

    ticks = asyncio.run(read_while_ticking())
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) >= backlog * 0.005 / READ_TURN / 2
    assert max(gaps) < 4 * READ_TURN
