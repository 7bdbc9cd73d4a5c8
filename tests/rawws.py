"""A WebSocket client over a plain socket, for sending what no well-behaved client sends.

The handshake and the parsing of the server's frames are websockets' sans-I/O
``ClientProtocol``; frames that library refuses to build (a reserved opcode, RSV bits, an
unmasked or oversized control frame, a bad close code) are put together by ``raw_frame``.

    with RawClient(port, "/echo", marker="case-1") as client:
        client.send(raw_frame(OP_CLOSE, (999).to_bytes(2, "big")))
        assert client.close_code() == 1002
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Self

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

HOST = "127.0.0.1"
TIMEOUT = 10.0  # every read and write on a socket is bounded by this
MARKER_HEADER = "X-Hostile-Case"  # names a connection, to find it on the timeline

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def raw_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """One frame exactly as asked, valid or not; ``length`` overrides the announced size."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0xF])
    masked = 0x80 if mask else 0
    if size < 126:
        head += bytes([masked | size])
    elif size < 65536:
        head += struct.pack("!BH", masked | 126, size)
    else:
        head += struct.pack("!BQ", masked | 127, size)
    if not mask:
        return head + payload
    key = b"\x1f\x2e\x3d\x4c"
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def connect_raw(port: int, timeout: float = TIMEOUT) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=timeout)


def read_until_closed(
    sock: socket.socket, limit: int = 1 << 20, upgraded: bool = False
) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection (or the timeout).

    Returns the bytes and whether the server closed (EOF or reset) within the timeout;
    with ``upgraded``, stops at a whole ``101 Switching Protocols`` (the connection stays).
    """
    received = b""
    while len(received) < limit:
        if upgraded and received.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in received:
            return received, False
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def http_exchange(port: int, request: bytes) -> tuple[str, str, bool]:
    """Send ``request`` on a new connection; the status line, the body, and whether closed."""
    with connect_raw(port) as sock:
        # The server may answer and close before it has read all of a long request.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer, closed = read_until_closed(sock, upgraded=True)
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), body.decode("utf-8", "replace"), closed


def upgrade_request(
    port: int, path: str = "/echo", headers: dict[str, str] | None = None, **replace: str | None
) -> bytes:
    """A WebSocket upgrade request as websockets' client writes it, with headers changed.

    ``replace`` sets (or, with None, removes) a header: ``Sec_WebSocket_Version="12"``.
    """
    request = ClientProtocol(parse_uri(f"ws://{HOST}:{port}{path}")).connect()
    for name, value in {**(headers or {}), **replace}.items():
        name = name.replace("_", "-")
        if name in request.headers:
            del request.headers[name]
        if value is not None:
            request.headers[name] = value
    return request.serialize()


class RawClient:
    """An open WebSocket connection on a plain socket: send any bytes, read the server's frames."""

    def __init__(
        self,
        port: int,
        path: str = "/echo",
        marker: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.sock = connect_raw(port, timeout)
        try:
            self.protocol = ClientProtocol(parse_uri(f"ws://{HOST}:{port}{path}"))
            request = self.protocol.connect()
            if marker is not None:  # early: the timeline keeps only a handshake's first headers
                request.headers[MARKER_HEADER] = marker
            for name, value in (headers or {}).items():
                request.headers[name] = value
            self.protocol.send_request(request)
            self.sock.sendall(b"".join(self.protocol.data_to_send()))
            self.response = self._handshake()
        except BaseException:
            self.sock.close()
            raise
        self.frames: list[Frame] = []
        self.eof = False

    def _handshake(self) -> Response:
        while True:
            chunk = self.sock.recv(65536)
            self.protocol.receive_data(chunk) if chunk else self.protocol.receive_eof()
            for event in self.protocol.events_received():
                if isinstance(event, Response):
                    if event.status_code != 101:
                        raise ConnectionError(f"handshake refused: HTTP {event.status_code}")
                    return event
            if not chunk:
                raise ConnectionError("the server closed the connection during the handshake")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, frame: Frame) -> None:
        """A valid frame, built and masked by websockets."""
        self.sock.sendall(frame.serialize(mask=True))

    def read_frame(self) -> Frame | None:
        """The server's next frame, or None once the server has closed the TCP connection."""
        while not self.frames and not self.eof:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                self.protocol.receive_data(chunk)
            else:
                self.eof = True
                self.protocol.receive_eof()
            self.frames += [e for e in self.protocol.events_received() if isinstance(e, Frame)]
        return self.frames.pop(0) if self.frames else None

    def read_text(self) -> str:
        frame = self.read_frame()
        assert frame is not None and frame.opcode is Opcode.TEXT, frame
        return frame.data.decode()

    def read_close(self) -> Close | None:
        """The server's close frame (skipping data frames), or None if it just hung up."""
        while (frame := self.read_frame()) is not None:
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.data)
        return None

    def closed_by_server(self) -> bool:
        """True once the server has closed the TCP connection (within the timeout)."""
        while self.read_frame() is not None:
            pass
        return self.eof

    def reset(self) -> None:
        """End with a TCP reset (RST), no close frame: an abrupt departure."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
