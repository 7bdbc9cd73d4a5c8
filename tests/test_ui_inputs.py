"""What the panel's boxes accept, and what they say when they cannot send."""

from __future__ import annotations

import pytest

from wsplay.ui.inputs import (
    InputError,
    parse_close_code,
    parse_close_reason,
    parse_headers,
    parse_path,
    parse_payload,
    parse_subprotocols,
    show_bytes,
)


@pytest.mark.parametrize(
    ("mode", "text", "fmt", "expected"),
    [
        ("text", "hello", "hex", "hello"),
        ("json", '{"a": 1, "é": [1, 2]}', "hex", '{"a":1,"é":[1,2]}'),
        ("bytes", "68 69", "hex", b"hi"),
        ("bytes", "0x6869", "hex", b"hi"),
        ("bytes", "aGk=", "base64", b"hi"),
        ("bytes", "hé", "utf-8", "hé".encode()),
        ("bytes", "", "hex", b""),
    ],
)
def test_payloads_that_parse(mode: str, text: str, fmt: str, expected: str | bytes) -> None:
    assert parse_payload(mode, text, fmt) == expected


@pytest.mark.parametrize(
    ("mode", "text", "fmt", "words"),
    [
        ("json", "{'a': 1}", "hex", ["Not valid JSON", "double quotes"]),
        ("json", "", "hex", ["Not valid JSON"]),
        ("bytes", "6g", "hex", ["'g' is not a hex digit", "68 69"]),
        ("bytes", "686", "hex", ["odd number of hex digits"]),
        ("bytes", "a?b", "base64", ["do not parse as base64"]),
        ("xml", "<a/>", "hex", ["Unknown message type 'xml'"]),
    ],
)
def test_payloads_that_do_not_parse_say_why(
    mode: str, text: str, fmt: str, words: list[str]
) -> None:
    with pytest.raises(InputError) as error:
        parse_payload(mode, text, fmt)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("text", ["999", "1005", "1006", "1015", "5000", "abc", ""])
def test_close_codes_rfc6455_forbids_are_refused(text: str) -> None:
    with pytest.raises(InputError) as error:
        parse_close_code(text)
    assert "close code" in str(error.value)


def test_allowed_close_codes_and_reason_limit() -> None:
    assert [parse_close_code(c) for c in ("1000", " 4000 ", "3001", "1011")] == [
        1000,
        4000,
        3001,
        1011,
    ]
    assert parse_close_reason("bye") == "bye"
    with pytest.raises(InputError, match="at most 123 bytes"):
        parse_close_reason("x" * 124)


def test_paths_headers_and_subprotocols() -> None:
    assert parse_path(" /echo ") == "/echo"
    with pytest.raises(InputError, match="Type a path"):
        parse_path("  ")
    with pytest.raises(InputError, match="did you mean '/echo'"):
        parse_path("echo")
    assert parse_headers("X-Token: abc; x-user: ann\nx-z: 1") == [
        ("x-token", "abc"),
        ("x-user", "ann"),
        ("x-z", "1"),
    ]
    with pytest.raises(InputError, match="'name: value'"):
        parse_headers("x-token abc")
    assert parse_subprotocols("chat.v2, chat.v1,") == ["chat.v2", "chat.v1"]
    with pytest.raises(InputError, match="has a space"):
        parse_subprotocols("chat v2")


def test_received_bytes_show_as_hex_with_a_printable_preview() -> None:
    assert show_bytes(b"hi\x00") == "68 69 00 | hi·"
    assert show_bytes(bytes(range(40)), limit=4) == "00 01 02 03 … | ···· …"
