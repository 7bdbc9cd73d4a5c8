"""The panel's frame view: each logged message with the frames that carried it, and the
handshake's bytes with Sec-WebSocket-Accept worked out.

In a real kernel, a panel client sends and receives through the real server: the page's
rows must say MASK=1 and the mask key for what the client sent (and that key must unmask
the bytes on the wire to the message), MASK=0 and no key for what it received. Without a
kernel, a Wire fed hand-written bytes must group a fragmented message's frames as one
message, a ping between them left out.
"""

from __future__ import annotations

import json

from tests.test_ui_panel_features import cell, kernel  # noqa: F401 - its panel, in a kernel
from tests.test_wire import server_frame
from wsplay.runtime.clients.wire import Wire
from wsplay.ui.frame_view import frame_row

LONG = "x" * 300  # its length takes the 16-bit form


def test_the_frames_of_a_sent_and_a_received_text(kernel) -> None:  # noqa: F811
    out = cell(
        kernel,
        f"""
        import json
        c.path.value = "/echo"
        c.connect_button.click()
        wait_for(c.status, "value", lambda v: "open" in v)
        for text in ("hello", {LONG!r}):
            c.payload.value = text
            c.send_button.click()
        wait_log(c, lambda v: v.count("xxxx") >= 2)
        messages = [r for r in c.log_view.rows if r["kind"] == "text"]
        print(json.dumps([[r["dir"], r["text"], r.get("frames")] for r in messages]))
        """,
    )
    frames = {(direction, text[:5]): found for direction, text, found in json.loads(out)}
    assert sorted(frames) == [("←", "hello"), ("←", "xxxxx"), ("→", "hello"), ("→", "xxxxx")]
    sent, received = frames["→", "hello"], frames["←", "hello"]
    assert len(sent) == len(received) == 1  # one frame each
    (mine,), (theirs,) = sent, received
    assert mine["masked"] == 1 and mine["bits"][1][0] == "1"
    key = bytes.fromhex(mine["mask"])
    assert len(key) == 4 and mine["header"].endswith(mine["mask"])  # the key ends the header
    on_wire = bytes.fromhex(mine["wire"])
    assert bytes(b ^ key[i % 4] for i, b in enumerate(on_wire)) == b"hello"
    assert mine["unmasked"] == b"hello".hex(" ")
    assert (mine["fin"], mine["op"], mine["kind"], mine["len"]) == (1, 1, "text", 5)
    assert theirs["masked"] == 0 and "mask" not in theirs and theirs["bits"][1][0] == "0"
    assert theirs["header"] == "81 05" and theirs["wire"] == b"hello".hex(" ")
    (long_sent,), (long_received,) = frames["→", "xxxxx"], frames["←", "xxxxx"]
    assert long_sent["enc"] == long_received["enc"] == "16-bit"
    assert long_received["header"] == "81 7e 01 2c"  # 126, then 300 in two bytes
    assert long_sent["more"] is True  # only the first bytes are kept


def test_the_handshake_shows_its_bytes_and_the_accept_worked_out(kernel) -> None:  # noqa: F811
    out = cell(
        kernel,
        """
        if not c.model.connected:
            connect(c)
        wait_for(c.handshake, "value", lambda v: "On the wire" in v)
        print(c.model.core.wire.request.decode().split("\\r\\n")[0])
        print(c.handshake.value)
        """,
    )
    first, shown = out.split("\n", 1)
    assert first == "GET /echo HTTP/1.1"
    assert f"{first}<span class='wsp-hs-crlf'>\\r\\n</span>" in shown
    assert "HTTP/1.1 101 Switching Protocols<span class='wsp-hs-crlf'>" in shown
    for step in ("Sec-WebSocket-Accept, worked out:", "key + GUID", "SHA-1", "base64"):
        assert step in shown
    assert "(matches the server&#x27;s answer)" in shown


def test_a_fragmented_message_is_its_frames() -> None:
    wire = Wire()
    wire.received(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    wire.received(
        server_frame(0x1, b"one")
        + server_frame(0x1, b"frag", fin=False)
        + server_frame(0x9, b"ping in between")  # a control frame may come between
        + server_frame(0x0, b"men", fin=False)
        + server_frame(0x0, b"ted")
        + server_frame(0x2, b"\x00\x01")
    )
    rows = [frame_row(frame) for frame in wire.message_frames("received", 2)]
    assert [(r["op"], r["fin"], r["app"]) for r in rows] == [
        (0x1, 0, "'frag'"),
        (0x0, 0, "'men'"),
        (0x0, 1, "'ted'"),
    ]
    assert rows[0]["note"].startswith("not the last fragment")
    assert rows[2]["note"].startswith("the last fragment")
    assert [frame_row(f)["kind"] for f in wire.message_frames("received", 3)] == ["binary"]
    assert wire.message_frames("received", 4) == ()


def test_a_ping_and_a_close_show_their_control_frames(kernel) -> None:  # noqa: F811
    out = cell(
        kernel,
        """
        import json
        if not c.model.connected:
            connect(c)
        c.ping_button.click()
        wait_log(c, lambda v: "pong: round trip" in v)
        c.code.value, c.reason.value = "4000", "bye"
        c.close_button.click()
        wait_log(c, lambda v: "closed by client: 4000" in v)
        rows = [r for r in c.log_view.rows if r["kind"] in ("pong", "close")]
        print(json.dumps([[r["kind"], r.get("frames")] for r in rows]))
        """,
    )
    (pong_kind, pong), (close_kind, close) = json.loads(out)[-2:]
    assert (pong_kind, close_kind) == ("pong", "close")
    assert [(f["dir"], f["kind"], f["masked"]) for f in pong] == [
        ("sent", "ping", 1),
        ("received", "pong", 0),
    ]
    assert pong[0]["wire"] != pong[0]["unmasked"] == pong[1]["wire"]  # the pong echoes it
    assert [(f["dir"], f["kind"], f["masked"], f["app"]) for f in close] == [
        ("sent", "close", 1, "close code 4000, reason 'bye'"),
        ("received", "close", 0, "close code 4000, reason 'bye'"),
    ]
