"""What a learner types into the panel's boxes, checked before anything is sent.

Each parser returns the value to use or raises InputError with a message meant to be shown
next to the box: what is wrong and what to type instead. Nothing here touches a widget.

    parse_payload("json", '{"a": 1}')        # -> '{"a":1}'
    parse_payload("bytes", "68 69", "hex")   # -> b'hi'
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import string

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeaderValue
from websockets.headers import validate_subprotocols

from ..framework.close_codes import check_close_code, check_close_reason

PAYLOAD_MODES = ("text", "bytes", "json")
BYTES_FORMATS = ("hex", "base64", "utf-8")
_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


class InputError(ValueError):
    """A box holds something that cannot be sent; the message says what to type."""


def error_html(error: Exception | str) -> str:
    """A problem as the panel shows it next to the box or button it is about."""
    return f"<span style='color:#b00'>⚠ {html.escape(str(error))}</span>"


def parse_path(text: str) -> str:
    path = text.strip()
    if not path:
        raise InputError("Type a path to connect to, e.g. /echo.")
    if not path.startswith("/"):
        raise InputError(f"A path starts with '/': did you mean '/{path}'?")
    if " " in path:
        raise InputError("A path cannot contain spaces; use %20 or _ instead.")
    return path


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``"x-token: abc; x-user: ann"`` (or one per line) -> ``[("x-token", "abc"), ...]``."""
    headers = []
    for item in text.replace("\n", ";").split(";"):
        if not item.strip():
            continue
        name, colon, value = item.partition(":")
        if not colon or not name.strip():
            raise InputError(
                f"Write each header as 'name: value', separated by ';' - got {item.strip()!r}."
            )
        if any(char in name.strip() for char in ' ()<>@,;\\"/[]?={}'):
            raise InputError(f"{name.strip()!r} is not a valid header name (no spaces).")
        headers.append((name.strip().lower(), value.strip()))
    return headers


def parse_subprotocols(text: str) -> list[str]:
    """``"chat.v2, chat.v1"`` -> ``["chat.v2", "chat.v1"]``, in order of preference."""
    protocols = [item.strip() for item in text.split(",") if item.strip()]
    for protocol in protocols:
        if any(char.isspace() for char in protocol):
            raise InputError(f"Subprotocol {protocol!r} has a space; separate them with ','.")
    return protocols


def parse_payload(mode: str, text: str, bytes_format: str = "hex") -> str | bytes:
    """The message to send for the payload box in ``mode`` (text, bytes or json)."""
    if mode == "text":
        return text
    if mode == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(
                f"Not valid JSON ({error.msg}, line {error.lineno} column {error.colno}). "
                'Strings need double quotes: {"message": "hi"}.'
            ) from None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if mode == "bytes":
        return parse_bytes(text, bytes_format)
    raise InputError(f"Unknown message type {mode!r}: pick one of {', '.join(PAYLOAD_MODES)}.")


def parse_bytes(text: str, bytes_format: str) -> bytes:
    if bytes_format == "utf-8":
        return text.encode()
    if bytes_format == "hex":
        digits = "".join(text.split()).removeprefix("0x")
        try:
            return bytes.fromhex(digits)
        except ValueError:
            bad = next((c for c in digits if c not in string.hexdigits), None)
            why = f"{bad!r} is not a hex digit" if bad else "an odd number of hex digits"
            raise InputError(
                f"These bytes do not parse as hex: {why}. Write two digits per byte, "
                "e.g. '68 69' for b'hi', or switch the format to utf-8."
            ) from None
    if bytes_format == "base64":
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except binascii.Error:
            raise InputError(
                "These bytes do not parse as base64 (letters, digits, + and /, padded "
                "with =), e.g. 'aGk=' for b'hi'."
            ) from None
    raise InputError(f"Unknown bytes format {bytes_format!r}: pick hex, base64 or utf-8.")


def parse_close_code(text: str) -> int:
    try:
        code = int(str(text).strip())
    except ValueError:
        raise InputError(f"A close code is a number such as 1000 or 4000, not {text!r}.") from None
    try:
        return check_close_code(code)
    except ValueError as error:
        raise InputError(str(error)) from None


def parse_close_reason(text: str) -> str:
    try:
        check_close_reason(text)
    except ValueError as error:
        raise InputError(str(error)) from None
    return text


def show_bytes(data: bytes, limit: int = 32) -> str:
    """Received bytes as hex with a printable preview: ``68 69 | hi``."""
    shown = data[:limit]
    printable = "".join(chr(b) if chr(b) in _PRINTABLE else "·" for b in shown)
    more = " …" if len(data) > limit else ""
    return f"{shown.hex(' ')}{more} | {printable}{more}"


MAX_REPEAT = 10_000  # every loop is bounded: a repeat sends at most this many messages


def parse_repeat(every_ms: str, times: str) -> tuple[float, int]:
    """The repeat's boxes: ``("500", "10")`` -> ``(0.5, 10)`` (seconds between, count)."""
    try:
        every = float(str(every_ms).strip())
    except ValueError:
        raise InputError(
            f"'every' is a number of milliseconds, such as 500, not {every_ms!r}."
        ) from None
    if not 0 <= every <= 60_000:
        raise InputError("'every' is between 0 (as fast as it can) and 60000 ms (a minute).")
    try:
        count = int(str(times).strip())
    except ValueError:
        raise InputError(f"'times' is a whole number, such as 10, not {times!r}.") from None
    if not 1 <= count <= MAX_REPEAT:
        raise InputError(f"'times' is between 1 and {MAX_REPEAT}.")
    return every / 1_000, count


def check_handshake(headers: list[tuple[str, str]], subprotocols: list[str]) -> None:
    """Raise InputError for a header or subprotocol the websockets client would not send.

    The client refuses them before any network I/O, with words about HTTP's grammar; the
    panel says it next to the boxes instead, with what to type. The rules are websockets'
    own (its validators), so the two cannot disagree.
    """
    for protocol in subprotocols:
        try:
            validate_subprotocols([protocol])
        except ValueError:
            raise InputError(
                f"{protocol!r} cannot be offered as a subprotocol: a subprotocol is one word "
                "of letters, digits and !#$%&'*+-.^_`|~ (no '/', quotes or brackets), "
                "e.g. chat.v1."
            ) from None
    for name, value in headers:
        try:
            Headers()[name] = value
        except InvalidHeaderValue:
            raise InputError(
                f"The value of header {name!r} cannot be sent: HTTP header values are "
                "Latin-1 text without control characters (no €, emoji or CJK). Encode it "
                "first, e.g. percent-encoded or base64."
            ) from None
