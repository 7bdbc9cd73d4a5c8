"""Re-running a cell takes effect, whatever the learner changed: through a real kernel.

Each step is a cell a learner would re-run after an edit (a renamed parameter, a renamed
function, a changed converter, a deleted then redefined handler); the test then connects
from outside with the real ``websockets`` client and reads which code answered.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from tests.kernel import Kernel

TIMEOUT = 10


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run("import wsplay\nfrom wsplay import WebSocket, ws\npg = wsplay.start()")
        yield kernel
        kernel.run("pg.stop()")


def cell(kernel: Kernel, code: str) -> str:
    """Run a cell; what it said on stderr (where wsplay's notices go)."""
    return kernel.run(textwrap.dedent(code)).stderr


def handler_cell(pattern: str, function: str, signature: str, reply: str) -> str:
    return f"""
        @ws({pattern!r})
        async def {function}(websocket: WebSocket, {signature}):
            await websocket.accept()
            await websocket.send_text({reply})
    """


def answer(kernel: Kernel, path: str) -> str:
    with connect(f"{kernel.value('pg.url')}{path}", open_timeout=TIMEOUT) as client:
        return client.recv(timeout=TIMEOUT)


def test_re_run_cells_take_effect_whatever_changed(kernel: Kernel) -> None:
    cell(kernel, handler_cell("/chat/{room}", "chat", "room", "'old:' + room"))
    assert answer(kernel, "/chat/lobby") == "old:lobby"

    said = cell(kernel, handler_cell("/chat/{name}", "chat", "name", "'new:' + name"))
    assert kernel.value("pg.routes") == ["/chat/{name}"]
    assert answer(kernel, "/chat/lobby") == "new:lobby"
    assert said.count("/chat/{name} replaces /chat/{room}") == 1, said

    said = cell(kernel, handler_cell("/chat/{name}", "room_chat", "name", "'renamed:' + name"))
    assert said == "", "re-running the same pattern is the normal case: nothing to say"
    assert answer(kernel, "/chat/lobby") == "renamed:lobby"

    cell(kernel, handler_cell("/items/{int:id}", "item", "id: int", "f'int:{id + 1}'"))
    assert answer(kernel, "/items/5") == "int:6"
    said = cell(kernel, handler_cell("/items/{id}", "item", "id: str", "f'str:{id}'"))
    assert "/items/{id} replaces /items/{int:id}" in said
    assert answer(kernel, "/items/5") == "str:5"
    assert answer(kernel, "/items/abc") == "str:abc"

    cell(kernel, "del item")
    cell(kernel, handler_cell("/items/<id>", "item", "id", "'again:' + id"))
    assert answer(kernel, "/items/5") == "again:5"
    assert kernel.value("pg.routes") == ["/chat/{name}", "/items/<id>"]
