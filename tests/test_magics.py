"""The %wsplay magic in a real kernel: read-only commands start nothing, moving says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kernel import Kernel


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run("import wsplay\nfrom wsplay import ws, WebSocket\n%load_ext wsplay")
        yield kernel


def test_reading_commands_start_nothing(kernel: Kernel) -> None:
    kernel.run("@ws('/seen')\nasync def seen(websocket: WebSocket):\n    await websocket.accept()")
    assert "/seen" in kernel.run("%wsplay routes").stdout
    assert "not running" in kernel.run("%wsplay status").stdout
    assert "not running" in kernel.run("%wsplay stop").stdout
    assert kernel.value("wsplay.runtime.current() is None") is True


def test_start_and_a_move_are_said(kernel: Kernel) -> None:
    first = kernel.run("%wsplay start").stdout
    assert "running at ws://127.0.0.1:" in first
    url = first.split()[-1]
    moved = kernel.run("%wsplay start --port 0").stdout
    assert f"moved from {url} to ws://127.0.0.1:" in moved and "1001" in moved
    assert "has stopped" in kernel.run("%wsplay stop").stdout


def test_a_wrong_command_says_the_usage(kernel: Kernel) -> None:
    wrong = kernel.run("%wsplay launch", check=False)
    assert wrong.error == ""  # a UsageError is shown as a message, not a traceback
    assert "invalid choice: 'launch'" in wrong.stderr and "Usage: %wsplay" in wrong.stderr
    no_path = kernel.run("%wsplay connect", check=False)
    assert "needs a path" in no_path.stderr
