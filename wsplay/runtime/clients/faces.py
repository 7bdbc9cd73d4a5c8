"""The kernel client's two public faces, written out: ``Connection`` and its blocking twin.

Each method is declared here with its types, so the faces are what they say (a type
checker sees them, ``help(conn)`` lists them) and nothing of the core leaks through by
accident: ``conn.drain()`` or ``conn.timeline`` are not part of a connection. Every method
runs the core's coroutine of the same name on the playground's loop (``_loop``'s faces
give the waiting and the timeout); ``tests/test_client_faces.py`` keeps the twins and the
core from drifting apart.

    conn = await pg.connect("/echo")     # Connection: every method awaitable
    blocking = pg.connect_sync("/echo")  # BlockingConnection: the same, plain calls
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn, TypedDict, Unpack

from ..._loop import Awaiting, Blocking
from ..._session import Headers
from ...framework.close_codes import Close, CloseCode, ClosedBy
from ...framework.messages import MessageMode
from .kernel import ClientCore
from .wire import Wire

# What a connection lets a cell read: the core's attributes of these names.
READABLE = (
    "id",
    "path",
    "url",
    "subprotocol",
    "response_headers",
    "close_code",
    "close_reason",
    "closed",
    "closed_by",
    "ending",
    "wire",
)


class _Readable:
    """The read-only attributes both faces share (``READABLE``), and nothing more."""

    _target: ClientCore

    @property
    def id(self) -> int:
        return self._target.id

    @property
    def path(self) -> str:
        return self._target.path

    @property
    def url(self) -> str:
        return self._target.url

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, or None."""
        return self._target.subprotocol

    @property
    def response_headers(self) -> dict[str, str]:
        return self._target.response_headers

    @property
    def close_code(self) -> int | None:
        return self._target.close_code

    @property
    def close_reason(self) -> str:
        return self._target.close_reason

    @property
    def closed(self) -> bool:
        return self._target.closed

    @property
    def closed_by(self) -> ClosedBy | None:
        """Who ended the connection (client, server, or dropped: nobody), None while open."""
        return self._target.closed_by

    @property
    def ending(self) -> Close | None:
        """How the connection ended: code, reason and who, in one value; None while open."""
        return self._target.ending

    @property
    def wire(self) -> Wire:
        """Every byte this client wrote and read, frame by frame (notebook 03)."""
        return self._target.wire

    def __dir__(self) -> list[str]:
        return sorted(name for name in dir(type(self)) if not name.startswith("_"))

    def __getattr__(self, name: str) -> NoReturn:
        face = type(self).__name__
        raise AttributeError(
            f"{face} has no attribute {name!r}. A connection sends, receives, pings, "
            f"closes and drops; it has {', '.join(READABLE)} to read (see help({face}))."
        )


class Connection(_Readable, Awaiting):
    """A client connection from a cell, every method awaitable: ``await conn.send_text("hi")``.

    Each receive waits at most ``timeout`` seconds (the playground's by default).
    """

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core, core.loop, core.timeout, core.after_stop)

    async def send(self, data: str | bytes) -> None:
        """A text frame for ``str``, a binary frame for ``bytes``."""
        await self._face("send", self._target.send)(data)

    async def send_text(self, data: str) -> None:
        await self._face("send_text", self._target.send_text)(data)

    async def send_bytes(self, data: bytes) -> None:
        await self._face("send_bytes", self._target.send_bytes)(data)

    async def send_json(self, data: Any, mode: MessageMode = MessageMode.TEXT) -> None:
        await self._face("send_json", self._target.send_json)(data, mode)

    async def receive(self, timeout: float | None = None) -> str | bytes:
        return await self._face("receive", self._target.receive)(timeout)

    async def receive_text(self, timeout: float | None = None) -> str:
        return await self._face("receive_text", self._target.receive_text)(timeout)

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        return await self._face("receive_bytes", self._target.receive_bytes)(timeout)

    async def receive_json(
        self, mode: MessageMode = MessageMode.TEXT, timeout: float | None = None
    ) -> Any:
        return await self._face("receive_json", self._target.receive_json)(mode, timeout)

    async def ping(self, timeout: float | None = None) -> float:
        """Send a ping and wait for its pong: the round trip, in seconds."""
        return await self._face("ping", self._target.ping)(timeout)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        await self._face("close", self._target.close)(code, reason)

    async def drop(self) -> None:
        """End abruptly, with no close frame (as a crashed browser tab would): 1006."""
        await self._face("drop", self._target.drop)()


class BlockingConnection(_Readable, Blocking):
    """The blocking twin of Connection, for plain code: ``conn.send_text("hi")``."""

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core, core.loop, core.timeout, core.after_stop)

    def send(self, data: str | bytes) -> None:
        """A text frame for ``str``, a binary frame for ``bytes``."""
        self._face("send", self._target.send)(data)

    def send_text(self, data: str) -> None:
        self._face("send_text", self._target.send_text)(data)

    def send_bytes(self, data: bytes) -> None:
        self._face("send_bytes", self._target.send_bytes)(data)

    def send_json(self, data: Any, mode: MessageMode = MessageMode.TEXT) -> None:
        self._face("send_json", self._target.send_json)(data, mode)

    def receive(self, timeout: float | None = None) -> str | bytes:
        return self._face("receive", self._target.receive)(timeout)

    def receive_text(self, timeout: float | None = None) -> str:
        return self._face("receive_text", self._target.receive_text)(timeout)

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        return self._face("receive_bytes", self._target.receive_bytes)(timeout)

    def receive_json(
        self, mode: MessageMode = MessageMode.TEXT, timeout: float | None = None
    ) -> Any:
        return self._face("receive_json", self._target.receive_json)(mode, timeout)

    def ping(self, timeout: float | None = None) -> float:
        """Send a ping and wait for its pong: the round trip, in seconds."""
        return self._face("ping", self._target.ping)(timeout)

    def close(self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str = "") -> None:
        self._face("close", self._target.close)(code, reason)

    def drop(self) -> None:
        """End abruptly, with no close frame (as a crashed browser tab would): 1006."""
        self._face("drop", self._target.drop)()


class ConnectOptions(TypedDict, total=False):
    """What ``connect`` and ``connect_sync`` take after the path."""

    headers: Headers  # sent with the handshake: a dict, or (name, value) pairs
    subprotocols: Iterable[str] | None  # offered, in order of preference
    timeout: float | None  # seconds to wait for each answer (default: the playground's)


class Connects:
    """``connect`` and ``connect_sync`` for whatever makes client cores (a playground, a
    worker): written once, over ``_client_core``."""

    def _client_core(
        self, path: str, headers: Headers, subprotocols: Iterable[str] | None, timeout: float | None
    ) -> ClientCore:
        raise NotImplementedError

    def _connected(self, connection: Any) -> None:
        """Told of each new connection (a worker keeps them, to show where each client is)."""

    def _new_core(self, path: str, options: ConnectOptions) -> ClientCore:
        core = self._client_core(
            path, options.get("headers"), options.get("subprotocols"), options.get("timeout")
        )
        core.raises_refusal = True
        return core

    async def connect(self, path: str = "/", **options: Unpack[ConnectOptions]) -> Connection:
        """Open a client connection to ``path``: ``await pg.connect("/echo")`` in a cell,
        ``headers=``, ``subprotocols=`` and ``timeout=`` as ConnectOptions says."""
        core = self._new_core(path, options)
        await core.loop.run_async(core.open(), core.timeout + 1, f"Connecting to {path}")
        connection = Connection(core)
        self._connected(connection)
        return connection

    def connect_sync(
        self, path: str = "/", **options: Unpack[ConnectOptions]
    ) -> BlockingConnection:
        """The blocking twin of ``connect``, for plain (non-async) code."""
        core = self._new_core(path, options)
        core.loop.run(core.open(), core.timeout + 1, f"Connecting to {path}")
        connection = BlockingConnection(core)
        self._connected(connection)
        return connection
