"""The playground under load, in process: cycles, many connections, many messages.

Every loop is bounded in count and in time; only 127.0.0.1 is a target.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import psutil
from websockets.asyncio.client import connect

from wsplay import Application, Playground, Router, WebSocket

DEADLINE = 90  # seconds any one load may take before the test fails


def _resources() -> tuple[int, set[str]]:
    gc.collect()
    return psutil.Process().num_fds(), {thread.name for thread in threading.enumerate()}


def test_start_stop_cycles_leak_no_thread_or_descriptor(router: Router) -> None:
    playground = Playground(Application(router=router))
    playground.start().stop()  # the first start imports and caches what uvicorn needs
    fds_before, threads_before = _resources()
    for _ in range(100):
        playground.start()
        assert playground.running
        playground.stop()
        assert not playground.running
    fds_after, threads_after = _resources()
    assert threads_after == threads_before
    assert fds_after == fds_before


async def test_a_thousand_concurrent_connections_each_echo(router: Router) -> None:
    playground = Playground(Application(router=router), max_events=20_000).start()
    clients = []
    try:
        async with asyncio.timeout(DEADLINE):
            for _batch in range(10):  # connect in batches so the listen backlog never overflows
                clients += await asyncio.gather(
                    *(connect(f"{playground.url}/echo", open_timeout=30) for _ in range(100))
                )
            assert len(playground.connections) == 1000

            async def talk(index: int, client) -> str:
                await client.send(f"hello {index}")
                return await client.recv()

            replies = await asyncio.gather(*(talk(i, c) for i, c in enumerate(clients)))
            assert replies == [f"hello {index}" for index in range(1000)]
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
        playground.stop()


async def test_a_hundred_thousand_messages_through_one_connection(router: Router) -> None:
    count = 100_000
    handled: list[int] = []
    handler_done = threading.Event()

    @router.ws("/count")
    async def counter(websocket: WebSocket):
        await websocket.accept()
        seen = 0
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
                seen += 1
        finally:
            handled.append(seen)
            handler_done.set()

    playground = Playground(Application(router=router)).start()
    rss_before = psutil.Process().memory_info().rss
    try:
        async with asyncio.timeout(DEADLINE), connect(f"{playground.url}/count") as client:

            async def send_all() -> None:
                for index in range(count):
                    await client.send(str(index))

            async def receive_all() -> int:
                received = 0
                for index in range(count):
                    assert await client.recv() == str(index)  # in order, none missing
                    received += 1
                return received

            _, received = await asyncio.gather(send_all(), receive_all())
            connection = playground.connections[0].id
        assert await asyncio.to_thread(handler_done.wait, 10)
    finally:
        playground.stop()
    assert received == count
    assert handled == [count]
    assert playground.timeline.counts(connection) == {"server": {"in": count, "out": count}}
    # The timeline kept its window, not every event: memory stays bounded.
    assert len(playground.timeline) == playground.timeline.max_events
    assert playground.timeline.recorded >= 2 * count
    assert psutil.Process().memory_info().rss - rss_before < 100 * 2**20
