"""Hostile and broken clients at the protocol level: each gets a prompt, precise answer, the
timeline says what happened, and a well-behaved client is served all along (SPEC §3, §5b).

No kernel: a ``wsplay.Playground`` runs in this process (real uvicorn on 127.0.0.1), the bad
traffic goes over raw sockets (tests/rawws.py), the good client is the real
``websockets.sync.client``. Every socket read is bounded (≤ 10 s) and every socket closed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import http.client
import itertools
import logging
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psutil
import pytest
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

import wsplay
from tests.apps import echo
from tests.rawws import (
    MARKER_HEADER,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    TIMEOUT,
    RawClient,
    close_payload,
    connect_raw,
    http_exchange,
    raw_frame,
    read_until_closed,
    upgrade_request,
)
from wsplay import Application, Router, WebSocket
from wsplay.runtime.timeline.store import Event

T = TypeVar("T")
MAX_SIZE = 16 * 2**20  # uvicorn's default ws_max_size
_cases = itertools.count(1)


async def reader(websocket: WebSocket):
    """Reads forever and never answers: what a ping flood or a reset hits."""
    await websocket.accept()
    while True:
        await websocket.receive()


def make_app() -> Application:
    router = Router()
    router.add_ws("/echo", echo)
    router.add_ws("/reader", reader)
    return Application(router=router)


@pytest.fixture(scope="module")
def pg() -> Iterator[wsplay.Playground]:
    playground = wsplay.Playground(make_app(), handshake_timeout=1).start()
    try:
        yield playground
    finally:
        playground.stop()


@pytest.fixture
def witness(pg: wsplay.Playground) -> Iterator[ClientConnection]:
    """A well-behaved client, connected before the bad one arrives."""
    with connect(f"{pg.url}/echo", open_timeout=TIMEOUT, close_timeout=TIMEOUT) as client:
        yield client


def assert_served(pg: wsplay.Playground, witness: ClientConnection | None = None) -> None:
    """The client that was already there, and a new one, both get their echo."""
    if witness is not None:
        witness.send("still served")
        assert witness.recv(timeout=TIMEOUT) == "still served"
    with connect(f"{pg.url}/echo", open_timeout=TIMEOUT, close_timeout=TIMEOUT) as fresh:
        fresh.send("newcomer served")
        assert fresh.recv(timeout=TIMEOUT) == "newcomer served"


def eventually(find: Callable[[], T | None], what: str, timeout: float = 5.0) -> T:
    deadline = time.monotonic() + timeout
    while (found := find()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return found


def marker() -> str:
    return f"case-{next(_cases)}"


def connection_of(pg: wsplay.Playground, mark: str) -> int | None:
    """The timeline's id for the connection whose handshake carried ``mark``."""
    for event in pg.timeline.events(kind="handshake"):
        if (MARKER_HEADER.lower(), mark) in ((k.lower(), v) for k, v in event.headers):
            return event.connection
    return None


def conversation(pg: wsplay.Playground, mark: str) -> int:
    return eventually(lambda: connection_of(pg, mark), f"the handshake of {mark} on the timeline")


def ending(pg: wsplay.Playground, mark: str, kind: str = "close") -> Event:
    """The one close (or reject) event the timeline has for the connection ``mark``."""
    connection = conversation(pg, mark)
    events = eventually(
        lambda: pg.timeline.events(connection=connection, kind=kind) or None,
        f"a {kind} event for {mark} (#{connection})",
    )
    assert len(events) == 1, events
    return events[0]


def handshakes_since(pg: wsplay.Playground, since: float) -> list[Event]:
    return [e for e in pg.timeline.events(kind="handshake") if e.time >= since]


def many_headers(in_all: int) -> dict[str, str]:
    """Extra headers that bring a handshake request to ``in_all`` header lines."""
    own = upgrade_request(0).count(b"\r\n") - 2  # less the request line and the blank line
    return {f"X-Many-{index}": "v" for index in range(in_all - own)}


# --- handshakes that are not WebSocket handshakes -------------------------------------------------
HTTP_CASES = {
    "garbage instead of HTTP": (lambda port: b"\x16\x03\x01\x00\xa5garbage\r\n\r\n", ("400", "")),
    "wrong Sec-WebSocket-Version": (
        lambda port: upgrade_request(port, Sec_WebSocket_Version="12"),
        ("426", "400"),
    ),
    "missing Sec-WebSocket-Key": (
        lambda port: upgrade_request(port, Sec_WebSocket_Key=None),
        ("400",),
    ),
    "invalid Sec-WebSocket-Key": (
        lambda port: upgrade_request(port, Sec_WebSocket_Key="not-base64-of-16-bytes"),
        ("400",),
    ),
    "plain GET on a WebSocket path": (
        lambda port: b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ("426",),
    ),
    "plain GET on an unknown path": (
        lambda port: b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ("404",),
    ),
    "a header line over 8 KiB": (
        lambda port: upgrade_request(port, X_Big="v" * 9000),
        ("431", "400"),
    ),
    "129 headers": (
        lambda port: upgrade_request(port, **many_headers(129)),
        ("431", "400"),
    ),
}


@pytest.mark.parametrize("case", HTTP_CASES)
def test_a_broken_handshake_gets_a_prompt_http_answer_and_never_reaches_the_app(
    pg: wsplay.Playground, witness: ClientConnection, case: str
):
    request, statuses = HTTP_CASES[case]
    since = time.time()
    started = time.monotonic()
    status, _, closed = http_exchange(pg.port, request(pg.port))
    took = time.monotonic() - started
    code = status.split(" ")[1] if status.startswith("HTTP/1.1 ") else ""
    assert code in statuses, f"{case}: answered {status!r}, expected one of {statuses}"
    assert closed and took < 5, f"{case}: connection closed={closed} after {took:.1f} s"
    assert handshakes_since(pg, since) == []  # the handler never ran for it
    assert_served(pg, witness)


def test_an_unknown_websocket_path_is_refused_with_403(
    pg: wsplay.Playground, witness: ClientConnection
):
    mark = marker()
    request = upgrade_request(pg.port, "/nowhere", {MARKER_HEADER: mark})
    status, _, closed = http_exchange(pg.port, request)
    assert status.startswith("HTTP/1.1 403") and closed
    refused = ending(pg, mark, kind="reject")
    assert refused.code == 403
    assert_served(pg, witness)


# --- the Origin policy ----------------------------------------------------------------------------
ACCEPTED_ORIGINS = [
    None,
    "http://127.0.0.1:5555",
    "http://127.0.0.1:1",
    "http://localhost:8888",
    "http://[::1]:9000",
]
REFUSED_ORIGINS = [
    "https://evil.example",
    "null",
    "http://127.0.0.1.evil.example",  # loopback as a prefix of a name
    "http://localhost.evil.example:8888",
    "http://127.0.0.1@evil.example",  # loopback as user info
    "127.0.0.1:8888",  # malformed: no scheme
    "http://127.0.0.1:99999",  # malformed: no such port
    "http://[::1",  # malformed: unclosed bracket
    "http://localhost:8888/page",  # malformed: an origin has no path
    "http://user@localhost:8888",  # malformed: an origin has no user info
]


@pytest.mark.parametrize("origin", ACCEPTED_ORIGINS)
def test_no_origin_and_loopback_origins_are_accepted(
    pg: wsplay.Playground, witness: ClientConnection, origin: str | None
):
    mark = marker()
    headers = {"Origin": origin} if origin is not None else {}
    with RawClient(pg.port, "/echo", mark, headers) as client:
        client.send_frame(Frame(Opcode.TEXT, b"from " + (origin or "no origin").encode()))
        assert client.read_text() == f"from {origin or 'no origin'}"
        connection = conversation(pg, mark)
        assert pg.timeline.events(connection=connection, kind="accept")
        assert pg.timeline.events(connection=connection, kind="reject") == []
    assert_served(pg, witness)


def assert_origin_refused(playground: wsplay.Playground, origin: str) -> None:
    since = time.time()
    request = upgrade_request(playground.port, "/echo", {"Origin": origin})
    status, body, closed = http_exchange(playground.port, request)
    assert status.startswith("HTTP/1.1 403"), f"Origin {origin!r}: answered {status!r}"
    assert closed
    assert origin in body and "allowed_origins" in body, body
    refused = eventually(
        lambda: (
            [
                e
                for e in playground.timeline.events(kind="reject")
                if e.time >= since and origin in e.reason
            ]
            or None
        ),
        f"a reject event naming {origin!r}",
    )
    assert [e.code for e in refused] == [403]
    accepted = [e for e in playground.timeline.events(kind="accept") if e.time >= since]
    assert accepted == []  # the handler never accepted it


@pytest.mark.parametrize("origin", REFUSED_ORIGINS)
def test_other_origins_are_refused_with_403_naming_the_origin_and_the_fix(
    pg: wsplay.Playground, witness: ClientConnection, origin: str
):
    assert_origin_refused(pg, origin)
    assert_served(pg, witness)


def echoes_with_origin(playground: wsplay.Playground, origin: str) -> None:
    with connect(
        f"{playground.url}/echo", origin=origin, open_timeout=TIMEOUT, close_timeout=TIMEOUT
    ) as client:
        client.send(origin)
        assert client.recv(timeout=TIMEOUT) == origin


def test_allowed_origins_accepts_the_listed_origin_only():
    playground = wsplay.Playground(make_app(), allowed_origins=["https://class.example"])
    playground.start()
    try:
        echoes_with_origin(playground, "https://class.example")
        assert_origin_refused(playground, "https://evil.example")
        assert_served(playground)
    finally:
        playground.stop()


@pytest.mark.parametrize("allowed", ["*", ["*"]], ids=["'*'", "['*']"])
def test_allowed_origins_star_accepts_any_origin(allowed: str | list[str]):
    playground = wsplay.Playground(make_app(), allowed_origins=allowed).start()
    try:
        for origin in ("https://evil.example", "null", "http://localhost:8888"):
            echoes_with_origin(playground, origin)
        assert playground.timeline.events(kind="reject") == []
    finally:
        playground.stop()


def test_two_origin_headers_are_refused(pg: wsplay.Playground, witness: ClientConnection):
    """A browser sends one Origin; a request with a loopback one and another is refused."""
    since = time.time()
    request = upgrade_request(pg.port, "/echo", {"Origin": "http://localhost:8888"})
    request = request.replace(b"\r\n\r\n", b"\r\nOrigin: https://evil.example\r\n\r\n")
    status, _, closed = http_exchange(pg.port, request)
    assert status.startswith(("HTTP/1.1 403", "HTTP/1.1 400")) and closed, status
    assert [e for e in pg.timeline.events(kind="accept") if e.time >= since] == []
    assert_served(pg, witness)


# --- handshakes that never finish -----------------------------------------------------------------
def closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float | None]:
    """What the server sent, and after how long it closed (None: not within ``seconds``)."""
    started = time.monotonic()
    received = b""
    while (left := seconds - (time.monotonic() - started)) > 0:
        sock.settimeout(min(left, TIMEOUT))
        chunk, closed = read_until_closed(sock)
        received += chunk
        if closed:
            return received, time.monotonic() - started
    return received, None


STALLS = {
    "an idle TCP connection": lambda port, mark: b"",
    "half a request line": lambda port, mark: b"GET /echo HT",
    "a request without its blank line": lambda port, mark: upgrade_request(
        port, "/echo", {MARKER_HEADER: mark}
    )[: -len(b"\r\n")],
}


@pytest.mark.parametrize("stall", STALLS)
def test_an_unfinished_handshake_is_closed_after_the_handshake_timeout(
    pg: wsplay.Playground, witness: ClientConnection, stall: str
):
    mark = marker()
    with connect_raw(pg.port) as sock:
        sock.sendall(STALLS[stall](pg.port, mark))
        assert_served(pg, witness)  # meanwhile
        answer, took = closed_within(sock, 5)
    assert took is not None, f"{stall}: still open after 5 s (handshake_timeout=1)"
    assert answer == b"" or answer.startswith((b"HTTP/1.1 408", b"HTTP/1.1 400")), answer
    assert connection_of(pg, mark) is None  # the app never saw it
    assert_served(pg, witness)


def test_a_slowloris_handshake_is_closed_after_the_handshake_timeout(
    pg: wsplay.Playground, witness: ClientConnection
):
    """Dribbling header lines does not keep a handshake alive past the time-out."""
    started = time.monotonic()
    with connect_raw(pg.port) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for index in range(25):  # one header line every 0.2 s, for at most 5 s
            try:
                sock.sendall(f"X-Slow-{index}: drip\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.2)
            _, closed = read_until_closed(sock)
            if closed:
                break
        took = time.monotonic() - started
    assert closed, "still open after 5 s of dribbled headers (handshake_timeout=1)"
    assert took < 4, f"closed only after {took:.1f} s"
    assert_served(pg, witness)


def test_the_default_handshake_timeout_closes_unfinished_handshakes_within_30_s(
    capsys: pytest.CaptureFixture[str],
):
    playground = wsplay.Playground(make_app()).start()
    try:
        with connect_raw(playground.port) as idle, connect_raw(playground.port) as half:
            half.sendall(b"GET /echo HT")
            assert_served(playground)
            _, idle_took = closed_within(idle, 30)
            _, half_took = closed_within(half, 30 - (idle_took or 30))
        assert idle_took is not None, "an idle connection was still open after 30 s"
        assert half_took is not None, "half a request line was still open after 30 s"
        assert_served(playground)
        told = capsys.readouterr().err.count("no complete request within 10 s")
        assert told == 1, f"the notebook was told {told} times"  # once for both
    finally:
        playground.stop()


def test_a_second_request_on_a_kept_alive_connection_that_stalls_is_closed(
    pg: wsplay.Playground, witness: ClientConnection
):
    """The handshake timeout holds for every request, not only a connection's first."""
    with connect_raw(pg.port) as sock:
        sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = http.client.HTTPResponse(sock)
        first.begin()
        first.read()  # the whole body: the connection stays open for the next request
        assert (first.status, first.will_close) == (404, False)
        sock.sendall(b"GET /echo HT")  # and then nothing
        assert_served(pg, witness)  # meanwhile
        _, took = closed_within(sock, 8)
    assert took is not None, "a stalled second request was still open after 8 s"
    assert_served(pg, witness)


# Opens idle connections from another process when told "go", so that only the server's own
# sockets count against this process's descriptor limit.
IDLE_CLIENTS = """
import resource, socket, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()
idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
print("open", flush=True)
sys.stdin.read()
"""


async def pause(websocket: WebSocket):
    """Holds the server's loop for a moment: connections arriving meanwhile queue up."""
    await websocket.accept()
    time.sleep(1.5)  # noqa: ASYNC251 (blocking on purpose)
    await websocket.close()


@contextlib.contextmanager
def descriptor_limit(limit: int) -> Iterator[int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield min(limit, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def accept_failures() -> Iterator[list[str]]:
    """What asyncio says each time accepting a connection fails for want of a descriptor,
    kept here instead of being logged (a thousand lines would bury a failure)."""
    failures: list[str] = []
    asyncio_log = logging.getLogger("asyncio")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "out of system resource" in record.getMessage():
                failures.append(record.getMessage())

    keep, propagate = Keep(), asyncio_log.propagate
    asyncio_log.addHandler(keep)
    asyncio_log.propagate = False
    try:
        yield failures
    finally:
        asyncio_log.removeHandler(keep)
        asyncio_log.propagate = propagate


def test_a_thousand_idle_connections_at_once_do_not_use_up_the_kernels_file_descriptors(
    capsys: pytest.CaptureFixture[str],
):
    """Under the descriptor limit a kernel often has (1024), 1 100 connections that arrive
    together and would each wait 30 s for a request never take this process to its limit
    (a kernel's zmq sockets and files share it), and a well-behaved client is served."""
    app = make_app()
    app.router.add_ws("/pause", pause)
    playground = wsplay.Playground(app, handshake_timeout=30).start()
    try:
        with (
            descriptor_limit(1024) as limit,
            accept_failures() as exhausted,
            subprocess.Popen(
                [sys.executable, "-c", IDLE_CLIENTS, str(playground.port), "1100"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            ) as clients,
        ):
            assert clients.stdin is not None and clients.stdout is not None
            try:
                with connect(f"{playground.url}/pause", open_timeout=TIMEOUT):
                    clients.stdin.write("go\n")  # while the loop is held: they all queue up
                    clients.stdin.flush()
                    assert select.select([clients.stdout], [], [], 30)[0], "never opened"
                    assert clients.stdout.readline() == "open\n"
                eventually(
                    lambda: psutil.Process().num_fds() < limit - 100 or None,
                    "the idle connections to be let go",
                    timeout=TIMEOUT,
                )
                assert_served(playground)
            finally:
                try:
                    clients.communicate(timeout=TIMEOUT)  # closes its stdin: it exits
                except subprocess.TimeoutExpired:
                    clients.kill()
        assert exhausted == [], (
            f"accepting hit the descriptor limit (EMFILE) {len(exhausted)} times"
        )
        told = capsys.readouterr().err.count("too many connections were waiting")
        assert told == 1, f"the notebook was told {told} times"  # once, not once a client
    finally:
        playground.stop()


# --- close frames a client may not send -----------------------------------------------------------
@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 5000])
def test_a_close_frame_with_an_invalid_code_is_answered_with_1002(
    pg: wsplay.Playground, witness: ClientConnection, code: int
):
    mark = marker()
    with RawClient(pg.port, "/echo", mark) as client:
        client.send(raw_frame(OP_CLOSE, close_payload(code, b"bye")))
        answer = client.read_close()
        assert answer is not None and answer.code == 1002, answer
        assert client.closed_by_server()
    closed = ending(pg, mark)
    assert (closed.by, closed.code) == ("server", 1002), closed
    # What went on the wire (the reason websockets sent), and what the client sent, said.
    assert f"client sent {code} (not allowed)" in closed.describe(), closed.describe()
    assert_served(pg, witness)


@pytest.mark.parametrize("code", [1000, 3000, 4999])
def test_a_close_frame_with_a_valid_code_is_echoed(
    pg: wsplay.Playground, witness: ClientConnection, code: int
):
    mark = marker()
    with RawClient(pg.port, "/echo", mark) as client:
        client.send(raw_frame(OP_CLOSE, close_payload(code, b"done")))
        answer = client.read_close()
        assert answer is not None and answer.code == code, answer
    closed = ending(pg, mark)
    assert (closed.by, closed.code, closed.reason) == ("client", code, "done")
    assert_served(pg, witness)


# --- frames that break RFC 6455 -------------------------------------------------------------------
def text_start(data: bytes) -> bytes:
    return raw_frame(OP_TEXT, data, fin=False)


# case: (what the client sends, the close codes it may get, a word the timeline's reason must
# contain so that it says what the client did wrong)
BAD_FRAMES = {
    "unmasked client frame": (raw_frame(OP_TEXT, b"hello", mask=False), (1002,), "mask"),
    "reserved data opcode 0x3": (raw_frame(0x3, b"hello"), (1002,), "opcode"),
    "reserved control opcode 0xB": (raw_frame(0xB, b"hello"), (1002,), "opcode"),
    "RSV1 without an extension": (raw_frame(OP_TEXT, b"hi", rsv=0b100), (1002,), "reserved bit"),
    "RSV2 set": (raw_frame(OP_TEXT, b"hello", rsv=0b010), (1002,), "reserved bit"),
    "RSV3 set": (raw_frame(OP_BINARY, b"hello", rsv=0b001), (1002,), "reserved bit"),
    "invalid UTF-8 in a text frame": (raw_frame(OP_TEXT, b"caf\xc3"), (1007,), "UTF-8"),
    "invalid UTF-8 across fragments": (
        text_start(b"ok \xed") + raw_frame(OP_CONT, b"\xa0\x80"),  # a UTF-16 surrogate
        (1007,),
        "UTF-8",
    ),
    "control frame over 125 bytes": (raw_frame(OP_PING, b"p" * 126), (1002,), "too long"),
    "fragmented control frame": (raw_frame(OP_PING, b"p", fin=False), (1002,), "fragmented"),
    "continuation with no message started": (
        raw_frame(OP_CONT, b"orphan"),
        (1002,),
        "continuation",
    ),
    "new message inside a fragmented one": (
        text_start(b"first") + raw_frame(OP_TEXT, b"second"),
        (1002,),
        "continuation",
    ),
    "frame over the server's max size": (
        raw_frame(OP_BINARY, b"", length=MAX_SIZE + 1),  # the header alone; no payload sent
        (1009,),
        "exceeds",
    ),
    "fragmented message over the max size in all": (
        Frame(Opcode.BINARY, b"x" * 2**20, fin=False).serialize(mask=True)
        + raw_frame(OP_CONT, b"", length=MAX_SIZE),  # 1 MiB sent, then 16 MiB announced
        (1009,),
        "exceeds",
    ),
    "close reason with invalid UTF-8": (
        raw_frame(OP_CLOSE, close_payload(1000, b"bad \xff")),
        (1007, 1002),
        "UTF-8",
    ),
    "close frame with a 1-byte payload": (raw_frame(OP_CLOSE, b"\x03"), (1002,), "too short"),
    "close reason over 123 bytes": (
        raw_frame(OP_CLOSE, close_payload(1000, b"r" * 124)),
        (1002,),
        "too long",
    ),
}


@pytest.mark.parametrize("case", BAD_FRAMES)
def test_a_frame_that_breaks_the_protocol_is_answered_with_its_close_code(
    pg: wsplay.Playground, witness: ClientConnection, case: str
):
    data, codes, named = BAD_FRAMES[case]
    mark = marker()
    with RawClient(pg.port, "/echo", mark) as client:
        client.send(data)
        answer = client.read_close()
        assert answer is not None and answer.code in codes, f"{case}: got {answer}"
        assert client.closed_by_server()
    closed = ending(pg, mark)
    assert (closed.by, closed.code) == ("server", answer.code), closed
    said = closed.describe()  # the reason on the wire, and wsplay's words on it
    assert named.lower() in said.lower(), f"{case}: the timeline says {said!r}"
    assert_served(pg, witness)


@pytest.mark.parametrize(
    "headers",
    [many_headers(128), {"Cookie": "c=" + "v" * 8000}],
    ids=["128 headers in all", "an 8 000-byte cookie"],
)
def test_large_handshakes_within_the_limits_are_accepted(
    pg: wsplay.Playground, witness: ClientConnection, headers: dict[str, str]
):
    with RawClient(pg.port, "/echo", headers=headers) as client:
        client.send_frame(Frame(Opcode.TEXT, b"big but fine"))
        assert client.read_text() == "big but fine"
    assert_served(pg, witness)


# --- what a strict server must still allow --------------------------------------------------------
def test_a_fragmented_text_message_is_reassembled_with_a_ping_between_fragments(
    pg: wsplay.Playground, witness: ClientConnection
):
    mark = marker()
    with RawClient(pg.port, "/echo", mark) as client:
        client.send(text_start(b"hel") + raw_frame(OP_CONT, b"lo w", fin=False))
        client.send(raw_frame(OP_PING, b"between"))  # control frames may come in between
        client.send(raw_frame(OP_CONT, b"orld \xc3", fin=False))  # a character split across frames
        client.send(raw_frame(OP_CONT, b"\xa9"))
        pong = client.read_frame()
        assert pong is not None and (pong.opcode, pong.data) == (Opcode.PONG, b"between")
        assert client.read_text() == "hello world é"
        connection = conversation(pg, mark)
        received = [
            e
            for e in pg.timeline.events(connection=connection, kind="message")
            if e.direction == "in"
        ]
        assert [(e.type, e.size, e.preview) for e in received] == [("text", 13, "hello world é")]
    assert_served(pg, witness)


def test_a_tcp_reset_in_the_middle_of_a_frame_is_drawn_as_dropped(
    pg: wsplay.Playground, witness: ClientConnection
):
    mark = marker()
    client = RawClient(pg.port, "/reader", mark)
    try:
        client.send(raw_frame(OP_BINARY, b"x" * 1000)[:300])  # the header and part of it
        connection = conversation(pg, mark)
        eventually(lambda: connection in [c.id for c in pg.connections] or None, "it to open")
    finally:
        client.reset()
    closed = ending(pg, mark)
    assert (closed.by, closed.code) == ("dropped", 1006), closed
    eventually(lambda: connection not in [c.id for c in pg.connections] or None, "it to go")
    assert_served(pg, witness)


# --- a ping flood ---------------------------------------------------------------------------------
def rss() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return psutil.Process().memory_info().rss


# Enough pings that, if every pong were kept until the client reads it, they would pass the
# 100 MB bound well (10**6 x 127 bytes ~ 121 MiB; measured without a bound, 800 000 pings grew
# RSS by 94 MiB): fewer could not tell a bounded server from an unbounded one. A server that
# stops reading when its pongs pile up ends the flood within a second or two.
FLOOD_PINGS = 1_000_000
FLOOD_SECONDS = 30


PING = raw_frame(OP_PING, b"p" * 125)
# 1 000 pings a batch. The second records 10 000 messages, a whole timeline window: the floods
# come last in this file, so that no later test looks for a handshake the window let go.
FLOODS = {
    "pings only": PING * 1000,
    "pings between data messages the handler reads": (PING * 100 + raw_frame(OP_BINARY, b"m")) * 10,
}


@pytest.mark.parametrize("flood", FLOODS)
def test_a_ping_flood_from_a_client_that_never_reads_does_not_grow_memory_without_bound(
    pg: wsplay.Playground, witness: ClientConnection, flood: str
):
    batch = FLOODS[flood]
    before = rss()
    with RawClient(pg.port, "/reader", marker(), timeout=2) as flooder:
        sent, started = 0, time.monotonic()
        try:
            while sent < FLOOD_PINGS and time.monotonic() - started < FLOOD_SECONDS:
                flooder.send(batch)  # never reads a pong
                sent += 1000
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading (backpressure) or hung up: both bound memory
        assert_served(pg, witness)  # while the flooder is still connected
        grown = rss() - before
    assert grown < 100 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB after {sent} pings"
    assert_served(pg, witness)
