"""What the playground says in the notebook is bounded (SPEC §3, §5b, issue 19.7).

A page (or a script) that tries thousands of origins must not print thousands of paragraphs
into the notebook, and what the playground remembers having said must not grow without end:
a few are said, the rest are counted and the count is said once.
"""

from __future__ import annotations

import re
import textwrap
import time

import wsplay
from tests.apps import echo
from tests.kernel import Kernel
from tests.rawws import http_exchange, upgrade_request
from wsplay import Application

ORIGINS = 500
SUMMARY = re.compile(
    r"… and (\d[\d ]*) more refused origins since \d\d:\d\d:\d\d; see pg\.timeline"
)


def refuse_many(port: int, count: int, first: int = 0) -> None:
    for number in range(first, first + count):
        origin = f"https://site{number}.example"
        status, _, _ = http_exchange(port, upgrade_request(port, "/echo", Origin=origin))
        assert status.split()[1] == "403", status


def test_thousands_of_refused_origins_say_a_few_then_how_many_more(capsys) -> None:
    app = Application()
    app.router.add_ws("/echo", echo)
    playground = wsplay.Playground(app).start()
    try:
        refuse_many(playground.port, ORIGINS)
        refuse_many(playground.port, 3, ORIGINS - 3)  # the last ones again: not counted twice
    finally:
        playground.stop()  # says the count still owed
    said = capsys.readouterr().err
    assert said.count("refused a WebSocket handshake from https://site") == 3
    (count,) = SUMMARY.findall(said)
    assert int(count.replace(" ", "")) == ORIGINS - 3
    assert len(said.encode()) < 3_000  # was ≈ 330 bytes per origin: 165 KB for 500


def test_the_memory_of_what_was_said_is_bounded_and_the_count_said_when_the_window_ends() -> None:
    from wsplay.runtime.notices import Notices

    said: list[str] = []
    now = [0.0]
    notices = Notices(said.append, every=30.0, remembered=4, clock=lambda: now[0])

    def refuse(key: str) -> None:
        notices.say("origin", f"refused {key}", key=key, counted="refused origins")

    for key in "abcde":
        refuse(key)
    assert said == ["refused a"]  # one a window by default; b..e counted
    refuse("e")  # remembered: neither said nor counted twice
    now[0] = 31.0  # the window is over
    refuse("a")  # forgotten (only the newest four are remembered): news again
    assert said[1].startswith("… and 4 more refused origins since ")
    assert said[2:] == ["refused a"]
    notices.flush()
    assert len(said) == 3  # nothing owed


def test_a_kernel_flooded_with_refused_origins_gets_a_bounded_output() -> None:
    with Kernel() as kernel:
        kernel.run(
            textwrap.dedent("""
            import wsplay
            from wsplay import WebSocket, ws

            @ws("/echo")
            async def echo(websocket: WebSocket):
                await websocket.accept()

            pg = wsplay.start()
            """)
        )
        before = len(kernel.stray_output)
        refuse_many(kernel.value("pg.port"), ORIGINS)
        shown = kernel.run("pg.stop()").stderr
        deadline = time.monotonic() + 10
        while not SUMMARY.search(shown) and time.monotonic() < deadline:
            shown += kernel.run("pass").stderr  # output of the server's thread may lag
        shown += "".join(
            message["content"].get("text", "")
            for message in kernel.stray_output[before:]
            if message["msg_type"] == "stream"
        )
    assert shown.count("refused a WebSocket handshake from") == 3
    assert SUMMARY.search(shown), shown[-500:]
    assert len(shown.encode()) < 3_000, f"{len(shown.encode())} bytes of notebook output"
