"""The bytes on the wire, frame by frame: what RFC 6455 puts around each message.

Every client tool shows messages; a learner who wants to know what a WebSocket *is* needs
the frames: the FIN bit that ends a message, the opcode that says text or binary, the mask
every client frame carries, the three ways a payload's length is written, and the HTTP
handshake before them, with its ``Sec-WebSocket-Accept`` worked out.

Sans-I/O, as websockets' own core is: a ``Wire`` is fed the bytes one client wrote and
read, in order, and parses them as they come. It keeps the heads of the handshake and the
newest frames, each with at most ``PREVIEW_BYTES`` of its payload, so a 1 GiB message costs
the same few hundred bytes as a short one. ``TappedClientConnection`` feeds it from the
``websockets`` client the kernel's connections use.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection

from ..pacing import NO_PACER, Pacer, feed_in_pieces

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3: the same for every server
PREVIEW_BYTES = 16  # of each frame's payload, kept (and shown in hex)
MAX_FRAMES = 256  # the newest frames kept per connection, both directions
MAX_HEAD_BYTES = 16 * 1024  # a handshake head longer than this is cut

Direction = Literal["sent", "received"]


class Opcode(enum.IntEnum):
    """The four bits of a frame that say what it carries (RFC 6455 §5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


def expected_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``Sec-WebSocket-Key: key``
    (RFC 6455 §4.2.2: base64 of the SHA-1 of the key and the GUID)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as it crossed the wire; ``payload`` is its first bytes, as sent (masked)."""

    direction: Direction
    fin: bool
    rsv: tuple[bool, bool, bool]
    opcode: int
    mask_key: bytes | None
    length: int
    header: bytes  # the whole frame header: 2 to 14 bytes
    payload: bytes  # at most PREVIEW_BYTES, still masked if the frame was
    # Which data message of its direction the frame carries (1, 2, ...: the ``sent`` or
    # ``received`` counter of a client's log), None for a control frame: so a message's
    # frames, a fragmented one's too, are found again (``Wire.message_frames``).
    message: int | None = None

    @property
    def kind(self) -> str:
        try:
            return Opcode(self.opcode).name.lower()
        except ValueError:
            return f"reserved opcode {self.opcode:#x}"

    @property
    def length_encoding(self) -> str:
        """How the payload's length is written: in 7 bits, or 16 or 64 after them."""
        return {2: "7-bit", 4: "16-bit", 10: "64-bit"}[
            len(self.header) - (4 if self.mask_key else 0)
        ]

    def unmasked(self) -> bytes:
        """The payload's first bytes as the application sees them."""
        if self.mask_key is None:
            return self.payload
        key = self.mask_key
        return bytes(byte ^ key[index % 4] for index, byte in enumerate(self.payload))

    def describe(self) -> str:
        """The frame, bit by bit, in words."""
        arrow = "→ sent" if self.direction == "sent" else "← received"
        first, second = self.header[0], self.header[1]
        rsv = " ".join(f"RSV{i}={int(bit)}" for i, bit in enumerate(self.rsv, 1))
        lines = [
            f"{arrow}: {self.kind}{fragment_note(self)}, "
            f"{self.length} byte{'s' if self.length != 1 else ''} of payload",
            f"  header  {_hex(self.header)}  ({len(self.header)} bytes)",
            f"  byte 0  {first:08b}: FIN={int(self.fin)} {rsv} opcode={self.opcode:#x} "
            f"({self.kind})",
            f"  byte 1  {second:08b}: MASK={int(self.mask_key is not None)}, "
            f"length {second & 0x7F}" + length_note(self),
        ]
        if self.mask_key is not None:
            lines.append(f"  mask key  {_hex(self.mask_key)} (a client masks every frame)")
        if self.length:
            cut = " …" if self.length > len(self.payload) else ""
            lines.append(f"  payload on the wire  {_hex(self.payload)}{cut}")
            if self.mask_key is not None:
                lines.append(f"  unmasked            {_hex(self.unmasked())}{cut}")
            lines.append(f"  as the app sees it  {readable_payload(self)}")
        return "\n".join(lines)


def fragment_note(frame: Frame) -> str:
    if not frame.fin:
        return " (not the last fragment: the message goes on in the next frame)"
    if frame.opcode == Opcode.CONTINUATION:
        return " (the last fragment: the message ends here)"
    return ""


def length_note(frame: Frame) -> str:
    if frame.length_encoding == "7-bit":
        return " (7-bit: the length itself)"
    width = 2 if frame.length_encoding == "16-bit" else 8
    return (
        f" ({frame.length_encoding}: the real length, {frame.length}, is in the next {width} bytes)"
    )


def _hex(data: bytes) -> str:
    return data.hex(" ")


def readable_payload(frame: Frame) -> str:
    data = frame.unmasked()
    if frame.opcode == Opcode.CLOSE and len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        return f"close code {code}, reason {data[2:].decode('utf-8', 'replace')!r}"
    if frame.opcode in (Opcode.TEXT, Opcode.CONTINUATION, Opcode.PING, Opcode.PONG):
        return repr(data.decode("utf-8", "replace"))
    return repr(data)


class _Stream:
    """One direction's bytes: an HTTP head, then frames, parsed as they arrive."""

    def __init__(self, direction: Direction, frames: deque[Frame]) -> None:
        self.direction: Direction = direction
        self.head = b""
        self._head_done = False
        self._frames = frames
        self._buffer = bytearray()  # an incomplete header, or the head
        self._pending: tuple[bytes, int, bytes | None] | None = None  # header, length, key
        self._payload = bytearray()
        self._left = 0  # payload bytes of the current frame still to come
        self._messages = 0  # data messages begun in this direction

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)  # read through, never kept: what is kept is copied
        while view:
            if not self._head_done:
                view = self._feed_head(view)
            elif self._pending is None:
                view = self._feed_header(view)
            else:
                view = self._feed_payload(view)

    def _feed_head(self, view: memoryview) -> memoryview:
        self._buffer += view
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:  # not HTTP: keep a bounded start of it
                self.head, self._head_done = bytes(self._buffer[:MAX_HEAD_BYTES]), True
                self._buffer.clear()
            return memoryview(b"")
        rest = bytes(self._buffer[end + 4 :])
        self.head, self._head_done = bytes(self._buffer[: end + 4][:MAX_HEAD_BYTES]), True
        self._buffer.clear()
        return memoryview(rest)

    def _feed_header(self, view: memoryview) -> memoryview:
        wanted = 14 - len(self._buffer)  # no header is longer than 14 bytes
        taken = min(wanted, len(view))
        self._buffer += view[:taken]
        parsed = _parse_header(bytes(self._buffer))
        if parsed is None:  # fewer than 14 bytes so far: all of view was taken
            return view[taken:]
        header, length, key = parsed
        past_header = len(self._buffer) - len(header)  # taken, but payload or a next frame
        self._buffer.clear()
        self._pending, self._left = (header, length, key), length
        self._payload.clear()
        if not length:
            self._finish()
        return view[taken - past_header :]

    def _feed_payload(self, view: memoryview) -> memoryview:
        take = min(self._left, len(view))
        room = PREVIEW_BYTES - len(self._payload)
        if room > 0:
            self._payload += view[: min(take, room)]
        self._left -= take
        if not self._left:
            self._finish()
        return view[take:]

    def _finish(self) -> None:
        assert self._pending is not None
        header, length, key = self._pending
        first = header[0]
        rsv = (bool(first & 0x40), bool(first & 0x20), bool(first & 0x10))
        opcode = first & 0x0F
        if opcode in (Opcode.TEXT, Opcode.BINARY):
            self._messages += 1  # a continuation goes on with the message begun before it
        message = self._messages if opcode <= Opcode.BINARY else None
        self._frames.append(
            Frame(self.direction, bool(first & 0x80), rsv, opcode, key, length, header,
                  bytes(self._payload), message)
        )  # fmt: skip
        self._pending = None


def _parse_header(data: bytes) -> tuple[bytes, int, bytes | None] | None:
    """The header at the start of ``data``, its payload length and mask key; None if
    ``data`` does not hold a whole header yet."""
    if len(data) < 2:
        return None
    masked, length = data[1] & 0x80, data[1] & 0x7F
    size = 2 + {126: 2, 127: 8}.get(length, 0) + (4 if masked else 0)
    if len(data) < size:
        return None
    if length == 126:
        length = int.from_bytes(data[2:4], "big")
    elif length == 127:
        length = int.from_bytes(data[2:10], "big")
    key = data[size - 4 : size] if masked else None
    return data[:size], length, key


class Wire:
    """What one connection's client wrote and read: the handshake's heads and the newest
    ``MAX_FRAMES`` frames, both directions, in the order they crossed."""

    def __init__(self) -> None:
        self.frames: deque[Frame] = deque(maxlen=MAX_FRAMES)
        self._sent = _Stream("sent", self.frames)
        self._received = _Stream("received", self.frames)

    def sent(self, data: bytes) -> None:
        self._sent.feed(data)

    def received(self, data: bytes | memoryview) -> None:
        self._received.feed(data)

    @property
    def request(self) -> bytes:
        """The handshake request's head, as sent (``GET ... HTTP/1.1`` and its headers)."""
        return self._sent.head

    @property
    def response(self) -> bytes:
        """The handshake response's head, as received (``HTTP/1.1 101 ...``)."""
        return self._received.head

    def message_frames(self, direction: Direction, message: int) -> tuple[Frame, ...]:
        """The kept frames of the ``message``-th data message ``direction`` (1 is the
        first): one frame, or a fragmented message's several; () once they are dropped."""
        try:  # the newest first: a log asks at once, so the loop ends after a frame or two
            return _frames_of(reversed(self.frames), direction, message)
        except RuntimeError:  # another thread added a frame meanwhile: read a copy
            return _frames_of(reversed(tuple(self.frames)), direction, message)

    def describe_handshake(self) -> str:
        """Both heads, and the server's ``Sec-WebSocket-Accept`` checked step by step."""
        request, response = self.request.decode("latin-1"), self.response.decode("latin-1")
        lines = ["→ request", *_indent(request), "← response", *_indent(response)]
        return "\n".join(lines + accept_worked_out(request, response))

    def describe(self, last: int | None = None) -> str:
        """Every kept frame (or the ``last`` few), in order, bit by bit."""
        frames = tuple(self.frames)  # the server's thread may add one meanwhile
        return "\n\n".join(frame.describe() for frame in frames[-last if last else 0 :])


def _frames_of(
    newest_first: Iterator[Frame], direction: Direction, message: int
) -> tuple[Frame, ...]:
    found: list[Frame] = []
    for frame in newest_first:
        if frame.direction != direction or frame.message is None:
            continue
        if frame.message < message:
            break
        if frame.message == message:
            found.append(frame)
    return tuple(reversed(found))


def accept_worked_out(request: str, response: str) -> list[str]:
    """The server's ``Sec-WebSocket-Accept`` redone from the request's key, step by step
    (no lines when the request has no key)."""
    key = _header(request, "sec-websocket-key")
    if key is None:
        return []
    answer = _header(response, "sec-websocket-accept")
    digest = hashlib.sha1((key + GUID).encode()).digest()
    expected = expected_accept(key)
    verdict = "matches" if answer == expected else f"does not match {answer!r}"
    return [
        "Sec-WebSocket-Accept, worked out:",
        f"  key + GUID   {key}{GUID}",
        f"  SHA-1        {digest.hex(' ')}",
        f"  base64       {expected}  ({verdict} the server's answer)",
    ]


# Header lines wsplay itself adds, said as such where a learner reads the handshake.
_OWN_HEADERS = {
    "x-wsplay-connection": "wsplay's own: pairs this client with the server's record of it",
}


def _indent(head: str) -> list[str]:
    lines = []
    for line in head.split("\r\n"):
        if line:
            note = _OWN_HEADERS.get(line.partition(":")[0].strip().lower())
            lines.append(f"  {line}" + (f"   ← {note}" if note else ""))
    return lines


def _header(head: str, name: str) -> str | None:
    for line in head.split("\r\n")[1:]:
        field, _, value = line.partition(":")
        if field.strip().lower() == name:
            return value.strip()
    return None


class _TappedTransport:
    """The connection's transport, with each write shown to the wire first."""

    def __init__(self, transport: Any, wire: Wire) -> None:
        self._transport = transport
        self._wire = wire

    def write(self, data: bytes) -> None:
        self._wire.sent(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TappedClientConnection(ClientConnection):
    """The ``websockets`` client connection, feeding a ``Wire`` every byte it writes and
    reads (``connect(..., create_connection=TappedClientConnection)``, or a ``partial`` of
    it with the ``wire`` to feed: a refused handshake's bytes outlive the connection).

    It parses what it reads in pieces, looking at ``pacer`` in between: on the server's
    loop thread, a flood's read of 256 KiB parsed in one go held the GIL for tens of
    milliseconds, and a cell waited that long (see pacing.py).
    """

    def __init__(
        self, *args: Any, wire: Wire | None = None, pacer: Pacer = NO_PACER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.wire = Wire() if wire is None else wire
        self.pacer = pacer
        self.dense_reads = True  # whether the last long read was of small messages

    def connection_made(self, transport: Any) -> None:
        super().connection_made(_TappedTransport(transport, self.wire))

    def data_received(self, data: bytes) -> None:
        self.dense_reads = feed_in_pieces(data, self._piece_received, self.pacer, self.dense_reads)

    def _piece_received(self, piece: bytes | memoryview) -> None:
        self.wire.received(piece)  # both parse every frame: paced alike
        super().data_received(piece)
