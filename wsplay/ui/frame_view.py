"""A logged message's frames, as the page draws them under the message (client_log.js).

Each frame goes to the page as the fields RFC 6455 §5.2 puts in its header (FIN, RSV1-3,
the opcode, MASK, the 7-bit length and what follows it, the mask key) and the first bytes
of its payload, on the wire and unmasked: the words come from runtime/wire.py, the same a
cell's ``conn.wire.describe()`` prints, so the panel and notebook 03 say one thing.

    frame_row(frame)   # {"fin": 1, "op": 1, "kind": "text", "mask": "1a 2b 3c 4d", ...}
    newest_control(wire, sent=Opcode.PING, received=Opcode.PONG)   # a ping's two frames
"""

from __future__ import annotations

from typing import Any

from ..runtime.clients.wire import Frame, Opcode, Wire, fragment_note, length_note, readable_payload


def frame_row(frame: Frame) -> dict[str, Any]:
    """What the page needs to draw one frame (JSON)."""
    first, second = frame.header[0], frame.header[1]
    row: dict[str, Any] = {
        "dir": frame.direction,
        "fin": int(frame.fin),
        "rsv": [int(bit) for bit in frame.rsv],
        "op": frame.opcode,
        "kind": frame.kind,
        "note": fragment_note(frame).strip(" ()"),
        "masked": int(frame.mask_key is not None),
        "len7": second & 0x7F,
        "len": frame.length,
        "enc": frame.length_encoding,
        "enc_note": length_note(frame).strip(" ()"),
        "bits": [f"{first:08b}", f"{second:08b}"],
        "header": frame.header.hex(" "),
    }
    if frame.mask_key is not None:
        row["mask"] = frame.mask_key.hex(" ")
    if frame.length:
        row["wire"] = frame.payload.hex(" ")
        row["more"] = frame.length > len(frame.payload)
        if frame.mask_key is not None:
            row["unmasked"] = frame.unmasked().hex(" ")
        row["app"] = readable_payload(frame)
    return row


def newest_control(wire: Wire, sent: Opcode, received: Opcode) -> tuple[Frame, ...]:
    """The newest control frame the client sent with opcode ``sent`` and the newest it
    received with ``received``, in the order they crossed: a ping and its pong, the two
    close frames of a closing handshake (one only, or none, if that is all there was)."""
    wanted = {"sent": sent, "received": received}
    found: list[Frame] = []
    for frame in reversed(tuple(wire.frames)):
        if wanted.get(frame.direction) == frame.opcode:
            found.append(frame)
            del wanted[frame.direction]
            if not wanted:
                break
    return tuple(reversed(found))
