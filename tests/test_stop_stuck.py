"""``stop()`` tells the truth about a handler stuck inside one long C call.

``time.sleep(N)`` in a handler cannot be interrupted from outside until it returns. stop()
must not wait for it: it returns within its bound, says which handler and which line, frees
the port, and a new ``start()`` serves at once on a fresh thread, while the old thread ends
by itself when the call returns. A real uvicorn, the real ``websockets`` client.
"""

# ruff: noqa: ASYNC251 - a handler that calls time.sleep is the mistake under test
from __future__ import annotations

import inspect
import threading
import time

import pytest
from websockets.sync.client import connect

from tests.apps import echo
from wsplay import Application, Playground, Router, WebSocket

SLEEP = 4.0  # the stuck call; every wait below is bounded by it
STOP_BOUND = 2.0  # stop() returns within this, however long the call still runs
TIMEOUT = 5


def handlers() -> tuple[Router, threading.Event, int]:
    """A router with /echo and /stuck; the event is set once /stuck is in its call."""
    router, entered = Router(), threading.Event()
    router.add_ws("/echo", echo)

    @router.ws("/stuck")
    async def stuck(websocket: WebSocket):
        await websocket.accept()
        entered.set()
        time.sleep(SLEEP)

    lines, first = inspect.getsourcelines(stuck)
    (offset,) = [index for index, line in enumerate(lines) if "time.sleep" in line]
    return router, entered, first + offset


def server_thread(playground: Playground) -> threading.Thread:
    (thread,) = [t for t in threading.enumerate() if t.name == f"wsplay-server-{playground.port}"]
    return thread


def test_stop_names_the_stuck_call_returns_in_time_and_start_serves_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    router, entered, line = handlers()
    playground = Playground(Application(router=router)).start()
    old_thread = server_thread(playground)
    try:
        with connect(f"{playground.url}/stuck", open_timeout=TIMEOUT, close_timeout=1):
            assert entered.wait(TIMEOUT)
            stop_and_start_again(playground, old_thread, line, capsys)
    finally:
        playground.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("wsplay-server")]


def stop_and_start_again(
    playground: Playground,
    old_thread: threading.Thread,
    line: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """stop() while /stuck is in its call, then start() again and echo."""
    began = time.monotonic()
    playground.stop()
    stopping = time.monotonic() - began
    said = capsys.readouterr().err
    assert stopping < STOP_BOUND, f"stop() took {stopping:.1f} s; said: {said}"
    assert old_thread.is_alive(), "the call is still running: the old thread is too"
    assert "The handler for /stuck (connection #1), stuck()," in said, said
    assert f"test_stop_stuck.py, line {line}: `time.sleep(SLEEP)`" in said, said
    assert "until it returns" in said and "wsplay.start()" in said, said

    began = time.monotonic()
    playground.start()
    with connect(f"{playground.url}/echo", open_timeout=TIMEOUT) as fresh:
        fresh.send("hi")
        assert fresh.recv(timeout=TIMEOUT) == "hi"
    restarting = time.monotonic() - began
    assert restarting < 1.0, f"start() and an echo took {restarting:.1f} s"
    assert old_thread.is_alive(), "the new server did not wait for the old one"

    old_thread.join(SLEEP + TIMEOUT)  # the call returns; the old thread ends by itself
    assert not old_thread.is_alive()


def test_the_same_port_is_free_again_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    router, entered, _ = handlers()
    first = Playground(Application(router=router)).start()
    port, old_thread = first.port, server_thread(first)
    with connect(f"{first.url}/stuck", open_timeout=TIMEOUT, close_timeout=1):
        assert entered.wait(TIMEOUT)
        first.stop()
        again = Playground(Application(router=router), port=port).start()
        try:
            with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=TIMEOUT) as fresh:
                fresh.send("same port")
                assert fresh.recv(timeout=TIMEOUT) == "same port"
        finally:
            again.stop()
    assert "stuck()" in capsys.readouterr().err
    old_thread.join(SLEEP + TIMEOUT)
    assert not old_thread.is_alive()
