"""Notebook 08's exercise, checked for real: two uvicorn workers and a private Redis server.

The wrong solutions are top-level functions, as a learner's cells would define them: the
checker writes each to an app file, serves it with two workers and drives real clients.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import psutil
import redis.asyncio as redis

from tests.kernel import Kernel
from tests.test_exercises import first_failure, load_solution
from wsplay import WebSocket, WebSocketDisconnectError
from wsplay.exercises import check, describe

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
hub = redis.from_url(REDIS_URL, decode_responses=True)
nowhere = redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)  # nothing listens


def test_redis_server_is_installed() -> None:
    assert shutil.which("redis-server"), (
        "redis-server is missing: apt-get install -y redis-server (.ci/run installs it)"
    )


# The wrong handlers below differ from the published solution in how they use Redis, not in
# how they relay a channel to their client: they use its `forward` (which the checker's export
# copies into the app file, as the solution's module cannot be imported by a worker).
forward = load_solution("08_redis_rooms.py").forward


async def rooms_one_channel(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe("chat")  # one channel for every room
        await pubsub.get_message(timeout=5)
        relay = asyncio.create_task(forward(pubsub, websocket))
        await hub.publish("chat", f"{user} joined")
        try:
            while True:
                await hub.publish("chat", f"{user}: {await websocket.receive_text()}")
        except WebSocketDisconnectError:
            pass
        finally:
            relay.cancel()
            await hub.publish("chat", f"{user} left")


async def rooms_wrong_address(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    async with nowhere.pubsub() as pubsub:
        await pubsub.subscribe(f"room:{room}")
        await websocket.send_text("unreachable")


async def rooms_never_leave(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe(f"room:{room}")
        await pubsub.get_message(timeout=5)
        relay = asyncio.create_task(forward(pubsub, websocket))
        await hub.publish(f"room:{room}", f"{user} joined")
        try:
            while True:
                await hub.publish(f"room:{room}", f"{user}: {await websocket.receive_text()}")
        except WebSocketDisconnectError:
            relay.cancel()


async def rooms_join_before_subscribe(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    await hub.publish(f"room:{room}", f"{user} joined")  # nobody of this room hears it yet
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe(f"room:{room}")
        await pubsub.get_message(timeout=5)
        relay = asyncio.create_task(forward(pubsub, websocket))
        try:
            while True:
                await hub.publish(f"room:{room}", f"{user}: {await websocket.receive_text()}")
        except WebSocketDisconnectError:
            pass
        finally:
            relay.cancel()
            await hub.publish(f"room:{room}", f"{user} left")


async def rooms_also_sends_directly(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe(f"room:{room}")
        await pubsub.get_message(timeout=5)
        relay = asyncio.create_task(forward(pubsub, websocket))
        await hub.publish(f"room:{room}", f"{user} joined")
        try:
            while True:
                text = f"{user}: {await websocket.receive_text()}"
                await websocket.send_text(text)  # the channel brings it back as well
                await hub.publish(f"room:{room}", text)
        except WebSocketDisconnectError:
            pass
        finally:
            relay.cancel()
            await hub.publish(f"room:{room}", f"{user} left")


def make_rooms_handler():
    channel_prefix = "room:"

    async def rooms_from_a_factory(websocket: WebSocket, room: str, user: str):
        await websocket.accept()
        await hub.publish(channel_prefix + room, f"{user} joined")

    return rooms_from_a_factory


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_describe_names_redis_and_the_workers() -> None:
    text = describe("redis-rooms")
    assert "notebook 08" in text and "REDIS_URL" in text and "worker" in text


def test_the_in_memory_chat_of_notebook_05_fails_across_workers() -> None:
    before = children()
    report = check("redis-rooms", load_solution("05_rooms.py").room_chat, timeout=1)
    line = first_failure(report)
    assert line.startswith("✗ alice, on worker 1, receives 'bob joined' too")
    assert "got nothing within 1 s" in line
    assert "each worker has its own memory" in line
    assert "✓ bob joins room a on worker 2: bob receives 'bob joined'" in str(report)
    assert children() <= before, "the check left a worker or Redis running"


def test_one_channel_for_every_room_is_told_to_use_one_per_room() -> None:
    line = first_failure(check("redis-rooms", rooms_one_channel))
    assert "alice says 'hi'" in line
    assert "'dave joined'" in line
    assert "one channel per room" in line


def test_a_hard_coded_redis_address_shows_the_workers_error_and_the_fix() -> None:
    line = first_failure(check("redis-rooms", rooms_wrong_address))
    assert "alice joins room a" in line
    assert "a close 1011 (Internal Error)" in line
    assert "Worker 1 logged ConnectionError" in line and "127.0.0.1:1" in line
    assert 'os.environ["REDIS_URL"]' in line


def test_a_departure_never_announced_is_caught() -> None:
    line = first_failure(check("redis-rooms", rooms_never_leave, timeout=1))
    assert line.startswith("✗ alice and carol receive 'bob left'")
    assert 'publish f"{user} left"' in line


def test_publishing_the_join_before_subscribing_is_caught() -> None:
    line = first_failure(check("redis-rooms", rooms_join_before_subscribe, timeout=1))
    assert line.startswith("✗ alice joins room a: alice receives 'alice joined'")
    assert "published before the subscription is not delivered" in line


def test_sending_directly_as_well_as_through_redis_is_caught() -> None:
    line = first_failure(check("redis-rooms", rooms_also_sends_directly))
    assert "bob says 'hello'" in line
    assert "got text 'alice: hi'" in line or "'alice: hi'" in line
    assert "That came twice" in line


def test_a_handler_made_inside_a_function_cannot_be_exported() -> None:
    report = check("redis-rooms", make_rooms_handler())
    line = first_failure(report)
    assert line.startswith("✗ write your handler and what it uses to an app file")
    assert "made inside another function and uses channel_prefix" in line
    assert "at the top level" in line
    assert len(report.steps) == 1


def test_without_redis_server_the_check_says_how_to_install_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where redis-server is not installed
    report = check("redis-rooms", load_solution("08_redis_rooms.py").room_chat)
    line = first_failure(report)
    assert "start a Redis server" in line
    assert "apt-get install -y redis-server" in line


def test_the_reference_solution_passes_when_typed_in_notebook_cells() -> None:
    """The learner's path: the handler and what it uses come from cells, not a file."""
    solution = (ROOT / "notebooks" / "solutions" / "08_redis_rooms.py").read_text()
    imports, _, rest = solution.partition("REDIS_URL =")
    with Kernel() as kernel:
        kernel.run(imports)
        kernel.run("REDIS_URL =" + rest)  # the handler in a later cell than its imports
        report = kernel.run(
            'from wsplay.exercises import check\nprint(check("redis-rooms", room_chat))'
        ).stdout
    assert "passed, 19/19 steps" in report.splitlines()[0], report
