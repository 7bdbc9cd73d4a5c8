"""The frame view (runtime/wire.py) against bytes captured on a raw socket.

A raw asyncio server on 127.0.0.1 keeps every byte the real ``websockets`` client sends it
and answers with frames written by hand; the client's ``Wire`` must show exactly those
bytes, split into the same frames. Chunk boundaries are the network's choice, so a
property test feeds the same bytes cut at every place.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from wsplay.runtime.clients.wire import GUID, PREVIEW_BYTES, TappedClientConnection, Wire


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server's frame (unmasked), written by hand from RFC 6455 §5.2."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        return bytes([first, length]) + payload
    if length < 65536:
        return bytes([first, 126]) + length.to_bytes(2, "big") + payload
    return bytes([first, 127]) + length.to_bytes(8, "big") + payload


LONG = b"x" * 300  # a 16-bit length
HUGE = b"y" * 70_000  # a 64-bit length
REPLIES = (
    server_frame(0x1, b"hello")
    + server_frame(0x2, LONG)
    + server_frame(0x1, b"frag", fin=False)  # one text message in two frames
    + server_frame(0x0, b"mented")
    + server_frame(0x2, HUGE)
)


async def raw_server(received: bytearray, done: asyncio.Event):
    """Answers the handshake, waits for the client's text, sends REPLIES."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        received.extend(head)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        received.extend(await reader.readexactly(2 + 4 + 5))  # the client's masked "hello"
        writer.write(REPLIES)
        await writer.drain()
        await done.wait()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_the_wire_shows_the_bytes_a_raw_socket_saw() -> None:
    received, done = bytearray(), asyncio.Event()
    server = await raw_server(received, done)
    port = server.sockets[0].getsockname()[1]
    try:
        async with connect(
            f"ws://127.0.0.1:{port}/echo",
            create_connection=TappedClientConnection,
            compression=None,
            max_size=None,
        ) as ws:
            await ws.send("hello")
            replies = [await ws.recv() for _ in range(4)]
            wire = ws.wire
            done.set()
    finally:
        server.close()
        await server.wait_closed()

    assert replies == ["hello", LONG, "fragmented", HUGE]
    head_end = received.index(b"\r\n\r\n") + 4
    assert wire.request == bytes(received[:head_end])
    assert wire.response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")

    sent, *_, closing = [f for f in wire.frames if f.direction == "sent"]
    got = [f for f in wire.frames if f.direction == "received"]
    assert closing.kind == "close" and closing.unmasked()[:2] == (1000).to_bytes(2, "big")
    assert sent.header + sent.payload == received[head_end:]
    assert sent.mask_key == received[head_end + 2 : head_end + 6]
    assert (sent.fin, sent.opcode, sent.length, sent.unmasked()) == (True, 0x1, 5, b"hello")
    assert [(f.fin, f.kind, f.length, f.length_encoding) for f in got] == [
        (True, "text", 5, "7-bit"),
        (True, "binary", 300, "16-bit"),
        (False, "text", 4, "7-bit"),
        (True, "continuation", 6, "7-bit"),
        (True, "binary", 70_000, "64-bit"),
    ]
    # Each header as written on the wire, and at most PREVIEW_BYTES of each payload kept.
    offset = 0
    for frame, payload in zip(got, [b"hello", LONG, b"frag", b"mented", HUGE], strict=True):
        assert frame.header == REPLIES[offset : offset + len(frame.header)]
        assert frame.payload == payload[:PREVIEW_BYTES]
        offset += len(frame.header) + len(payload)
    assert offset == len(REPLIES)

    handshake = wire.describe_handshake()
    assert "matches the server's answer" in handshake
    text = wire.describe()
    assert "byte 0  10000001: FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text)" in text
    assert "(not the last fragment: the message goes on" in text and "'mented'" in text
    assert "16-bit: the real length, 300, is in the next 2 bytes" in text
    assert "64-bit: the real length, 70000, is in the next 8 bytes" in text
    assert "unmasked            68 65 6c 6c 6f" in text


CLIENT_FRAMES = [
    WsFrame(Opcode.TEXT, b"hello"),
    WsFrame(Opcode.BINARY, bytes(range(256)) * 2),
    WsFrame(Opcode.TEXT, b"frag", fin=False),
    WsFrame(Opcode.CONT, b"mented"),
    WsFrame(Opcode.BINARY, b"z" * 66_000),
]
CLIENT_BYTES = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"".join(
    frame.serialize(mask=True, extensions=[]) for frame in CLIENT_FRAMES
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(cuts=st.lists(st.integers(0, len(CLIENT_BYTES)), max_size=12))
def test_frames_are_the_same_however_the_bytes_are_cut(cuts: list[int]) -> None:
    wire = Wire()
    edges = [0, *sorted(cuts), len(CLIENT_BYTES)]
    for start, end in itertools.pairwise(edges):
        wire.sent(CLIENT_BYTES[start:end])
    assert wire.request == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert [(f.fin, f.opcode, f.length, f.unmasked()) for f in wire.frames] == [
        (f.fin, f.opcode, len(f.data), f.data[:PREVIEW_BYTES]) for f in CLIENT_FRAMES
    ]
    assert all(f.mask_key is not None and len(f.mask_key) == 4 for f in wire.frames)


def test_the_kernel_client_keeps_its_wire(router) -> None:
    """``conn.wire`` on a playground's client: the real bytes of its handshake and frames."""
    from wsplay import Application, Playground

    playground = Playground(Application(router=router)).start()
    try:
        conn = playground.connect_sync("/echo")
        conn.send_text("hello")
        assert conn.receive_text() == "hello"
        conn.close()
        wire = conn.wire
    finally:
        playground.stop()

    assert wire.request.startswith(b"GET /echo HTTP/1.1\r\n")
    assert "matches the server's answer" in wire.describe_handshake()
    # The one header wsplay adds is said to be wsplay's, not the protocol's.
    [own] = [line for line in wire.describe_handshake().splitlines() if "x-wsplay" in line]
    assert own.endswith("← wsplay's own: pairs this client with the server's record of it")
    kinds = [(frame.direction, frame.kind) for frame in wire.frames]
    assert kinds == [
        ("sent", "text"),
        ("received", "text"),
        ("sent", "close"),
        ("received", "close"),
    ]
    assert all(f.mask_key is not None for f in wire.frames if f.direction == "sent")
    assert all(f.mask_key is None for f in wire.frames if f.direction == "received")
    assert wire.frames[1].unmasked() == b"hello"


async def test_a_refused_handshake_leaves_its_answer_on_the_wire() -> None:
    """The wire is handed in, so it outlives a connection that never opened."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    wire = Wire()
    try:
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/private",
                create_connection=functools.partial(TappedClientConnection, wire=wire),
            )
    finally:
        server.close()
        await server.wait_closed()
    assert wire.request.startswith(b"GET /private HTTP/1.1\r\n")
    assert wire.response == b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\n"
    assert "← response\n  HTTP/1.1 403 Forbidden" in wire.describe_handshake()
