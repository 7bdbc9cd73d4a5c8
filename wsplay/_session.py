"""What every wsplay client can send and receive, written once.

wsplay has two client transports: the network (the kernel's client, ``runtime/clients/kernel.py``:
the real ``websockets`` client on the playground's loop) and in process
(``wsplay.testing``: ASGI messages handed to the app). Each implements two coroutines,
``send(data)`` and ``receive(timeout)``; the typed methods on top (text, bytes, JSON in a
text or a binary frame) and the checks of what a client may send are here, so both speak
exactly alike. The blocking faces over them come from ``_loop.blocking``.

    class MyTransport(MessageSession):
        async def send(self, data): ...
        async def receive(self, timeout=None): ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .framework import messages
from .framework.messages import MessageMode

Headers = dict[str, str] | Iterable[tuple[str, str]] | None


class MessageSession:
    """The typed client methods, over a transport's ``send`` and ``receive``."""

    async def send(self, data: str | bytes) -> None:
        """Send one message: a text frame for ``str``, a binary frame for ``bytes``."""
        raise NotImplementedError

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message, text (``str``) or binary (``bytes``)."""
        raise NotImplementedError

    async def send_text(self, data: str) -> None:
        await self.send(messages.require_text("send_text()", data))

    async def send_bytes(self, data: bytes) -> None:
        await self.send(messages.require_bytes("send_bytes()", data))

    async def send_json(self, data: Any, mode: MessageMode = MessageMode.TEXT) -> None:
        """``data`` as compact JSON, in a text frame or (``MessageMode.BYTES``) a binary one."""
        text = messages.dumps_json(data)
        await self.send(text if messages.message_mode(mode) is MessageMode.TEXT else text.encode())

    async def receive_text(self, timeout: float | None = None) -> str:
        data = await self.receive(timeout)
        if isinstance(data, bytes):
            raise messages.wrong_frame("receive_text()", data, "server")
        return data

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        data = await self.receive(timeout)
        if isinstance(data, str):
            raise messages.wrong_frame("receive_bytes()", data, "server")
        return data

    async def receive_json(
        self, mode: MessageMode = MessageMode.TEXT, timeout: float | None = None
    ) -> Any:
        if messages.message_mode(mode) is MessageMode.TEXT:
            return messages.parse_json(await self.receive_text(timeout))
        return messages.parse_json(await self.receive_bytes(timeout))


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """A client's extra handshake headers as (name, value) pairs, from a dict or pairs."""
    pairs = headers.items() if isinstance(headers, dict) else headers or ()
    return [(str(name), str(value)) for name, value in pairs]


def require_path(path: Any) -> str:
    """A connection's path, which starts with "/" (and may carry a query)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"A path starts with '/', e.g. '/echo'; got {path!r}.")
    return path
