"""What a WebSocket message may be, and the errors that say when it is not.

Shared by every end of a conversation wsplay runs: the server's ``WebSocket``, the test
client and the kernel client, so a wrong payload reads the same everywhere.

    parse_json('{"a": 1}')       # -> {'a': 1}
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from .exceptions import InvalidMessageError

_PREVIEW_SIZE = 60


class MessageMode(StrEnum):
    """How JSON travels: in a text frame (the default) or as UTF-8 in a binary frame."""

    TEXT = "text"
    BYTES = "bytes"


def preview(data: str | bytes, size: int = _PREVIEW_SIZE) -> str:
    """The start of a payload, for error messages: ``'{"a": 1, "b...' (2048 bytes)``."""
    text = repr(data[:size]) + ("..." if len(data) > size else "")
    unit = "characters" if isinstance(data, str) else "bytes"
    return f"{text} ({len(data)} {unit})"


def require_text(method: str, data: object) -> str:
    """``data`` if it is a str, else a TypeError that points to the right method."""
    if isinstance(data, str):
        return data
    hint = " Use send_bytes() for bytes." if isinstance(data, bytes | bytearray) else ""
    raise TypeError(f"{method} takes a str, got {type(data).__name__}.{hint}")


def require_bytes(method: str, data: object) -> bytes:
    """``data`` as bytes if it is bytes-like, else a TypeError that points to the fix."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    hint = " Use send_text() for str, or encode it: data.encode()." if isinstance(data, str) else ""
    raise TypeError(f"{method} takes bytes, got {type(data).__name__}.{hint}")


def wrong_frame(method: str, data: str | bytes, sender: str) -> InvalidMessageError:
    """The error for reading a frame as the other type, naming both types and the fix."""
    got, wanted, fix = (
        ("text", "binary", "receive_text()")
        if isinstance(data, str)
        else ("binary", "text", "receive_bytes()")
    )
    return InvalidMessageError(
        f"{method} expected a {wanted} frame but the {sender} sent a {got} frame: {preview(data)}.",
        fix=f"Use {fix} for {got} frames, or receive() to take either.",
    )


def dumps_json(data: Any) -> str:
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"send_json() cannot turn {preview(repr(data))} into JSON: {error}. "
            "Send dicts, lists, strings, numbers, booleans and None; convert other "
            "objects first (e.g. str(value), value.isoformat(), or dataclasses.asdict())."
        ) from error


def parse_json(payload: str | bytes) -> Any:
    """Parse a message's JSON (bytes must be UTF-8), or raise an InvalidMessageError that
    shows the start of the payload."""
    if isinstance(payload, bytes | bytearray):
        try:
            text = bytes(payload).decode()
        except UnicodeDecodeError as error:
            raise InvalidMessageError(
                f"JSON in a binary frame must be UTF-8, but byte {error.start} is not "
                f"({error.reason}): {preview(payload)}."
            ) from error
    else:
        text = payload
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidMessageError(
            f"Got invalid JSON ({error.msg} at line {error.lineno} column {error.colno}): "
            f'{preview(payload)}. Send a JSON text such as {{"message": "hi"}}, or read '
            "plain text with receive_text()."
        ) from error


def message_mode(mode: object) -> MessageMode:
    try:
        return MessageMode(mode)
    except ValueError:
        raise ValueError(
            f"Unknown message mode {mode!r}: use MessageMode.TEXT (JSON in a text frame) "
            "or MessageMode.BYTES (JSON as UTF-8 in a binary frame)."
        ) from None
