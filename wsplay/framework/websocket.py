"""The ``WebSocket`` object a handler receives: BlackSheep's API over one ASGI connection.

Two fields hold the state, as in BlackSheep: ``client_state`` (may we send?) and
``application_state`` (may we receive?). Both start CONNECTING; ``accept()`` makes both
CONNECTED; a client's close, or our own ``close()``, makes both DISCONNECTED.

    @ws("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, unquote

from .close_codes import MAX_REASON_SIZE, CloseCode, check_close_code, check_close_reason
from .exceptions import (
    InvalidWebSocketStateError,
    WebSocketDisconnectError,
    WebSocketError,
    WebSocketState,
)
from .messages import (
    MessageMode,
    dumps_json,
    message_mode,
    parse_json,
    require_bytes,
    require_text,
    wrong_frame,
)

CONNECTING = WebSocketState.CONNECTING
CONNECTED = WebSocketState.CONNECTED
DISCONNECTED = WebSocketState.DISCONNECTED


def format_reason(reason: str) -> str:
    """Fit a close reason into 123 bytes of UTF-8, never cutting inside a character.

    >>> format_reason("x" * 200)[-5:]
    'xx...'
    """
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_SIZE:
        return reason
    return encoded[: MAX_REASON_SIZE - 3].decode("utf-8", "ignore") + "..."


class Headers:
    """The handshake's headers: case-insensitive, by ``str`` or ``bytes`` name.

    >>> Headers([(b"X-Token", b"abc")]).get_first(b"x-token")
    b'abc'
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._items = [(name.lower(), value) for name, value in items]

    @staticmethod
    def _key(name: str | bytes) -> bytes:
        return (name.encode("latin-1") if isinstance(name, str) else name).lower()

    def get_all(self, name: str | bytes) -> list[bytes]:
        key = self._key(name)
        return [value for item_name, value in self._items if item_name == key]

    def get_first(self, name: str | bytes) -> bytes | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get(self, name: str | bytes, default: bytes | None = None) -> bytes | None:
        value = self.get_first(name)
        return default if value is None else value

    def __getitem__(self, name: str | bytes) -> tuple[bytes, ...]:
        return tuple(self.get_all(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str | bytes) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _encode_header(pair: tuple[str | bytes, str | bytes]) -> tuple[bytes, bytes]:
    name, value = pair
    return (
        name.encode("latin-1") if isinstance(name, str) else bytes(name),
        value.encode("latin-1") if isinstance(value, str) else bytes(value),
    )


class WebSocket:
    """One WebSocket connection, as the handler sees it.

    Build one from an ASGI scope and its channels: ``WebSocket(scope, receive, send)``.
    """

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            raise ValueError(f"WebSocket needs a 'websocket' ASGI scope, got {scope.get('type')!r}")
        self.scope = scope
        self._receive = receive
        self._send = send
        self.route_values: dict[str, Any] = {}
        self.client_state = CONNECTING
        self.application_state = CONNECTING
        self._accepted = False
        self._close_sent: int | None = None
        self._headers: Headers | None = None
        self._query: dict[str, list[str]] | None = None

    # --- what the handshake said -------------------------------------------------------
    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def query_string(self) -> bytes:
        value = self.scope.get("query_string", b"")
        # A hand-made scope (a test, another framework) may give a str: ASGI says bytes.
        return value.encode("latin-1") if isinstance(value, str) else value

    @property
    def query(self) -> dict[str, list[str]]:
        """Query string values, each a list: ``?q=1&q=2`` gives ``{"q": ["1", "2"]}``."""
        if self._query is None:
            self._query = parse_qs(self.query_string.decode("latin-1"), keep_blank_values=True)
        return self._query

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.scope.get("headers", ()))
        return self._headers

    def get_first_header(self, name: str | bytes) -> bytes | None:
        return self.headers.get_first(name)

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for value in self.headers.get_all(b"cookie"):
            jar.load(value.decode("latin-1"))
        return {name: unquote(morsel.value) for name, morsel in jar.items()}

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols", ()))

    @property
    def client_ip(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None

    @property
    def scheme(self) -> str:
        return self.scope.get("scheme", "ws")

    @property
    def accepted(self) -> bool:
        return self._accepted

    def __repr__(self) -> str:
        query = self.query_string.decode("latin-1")
        return f"<WebSocket {self.path}{'?' + query if query else ''}>"

    # --- the handshake -----------------------------------------------------------------
    async def accept(
        self,
        headers: Iterable[tuple[str | bytes, str | bytes]] | None = None,
        subprotocol: str | None = None,
    ) -> None:
        """Complete the handshake, optionally with extra response headers and a subprotocol.

        The subprotocol must be one the client offered (``websocket.subprotocols``):
        a client that did not offer it would drop the connection.
        """
        if self.client_state is not CONNECTING:
            raise InvalidWebSocketStateError(
                party="client",
                current_state=self.client_state,
                expected_state=CONNECTING,
                hint="Call `await websocket.accept()` only once, before sending or "
                "receiving; your handler called it again.",
            )
        if subprotocol is not None and subprotocol not in self.subprotocols:
            offered = ", ".join(map(repr, self.subprotocols)) or "none"
            raise WebSocketError(
                f"Cannot accept with subprotocol {subprotocol!r}: the client did not offer it "
                f"(it offered: {offered}).",
                fix="Pick one of websocket.subprotocols, or accept without a subprotocol.",
            )
        response_headers = [_encode_header(pair) for pair in headers or ()]
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._mark_disconnected()
            code = message.get("code", CloseCode.NO_STATUS_RECEIVED.value)
            raise WebSocketDisconnectError(code, message.get("reason") or "")
        if message["type"] != "websocket.connect":
            raise WebSocketError(f"Expected a 'websocket.connect' message, got {message!r}")
        self.client_state = CONNECTED
        self.application_state = CONNECTED
        self._accepted = True
        await self._send(
            {"type": "websocket.accept", "headers": response_headers, "subprotocol": subprotocol}
        )

    # --- receiving ---------------------------------------------------------------------
    # The receive_* and send_* methods below each go straight to the ASGI channel, with the
    # checks inline: an echo goes through them twice per message, so every frame counts.

    async def receive(self) -> dict[str, Any]:
        """The next raw ASGI message: ``{"type": "websocket.receive", "text": ...}`` or bytes."""
        if self.application_state is not CONNECTED:
            raise self._state_error("application", "receive()")
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            raise self._disconnected(message)
        return message

    async def receive_text(self) -> str:
        if self.application_state is not CONNECTED:
            raise self._state_error("application", "receive_text()")
        return self._payload(await self._receive(), "text")

    async def receive_bytes(self) -> bytes:
        if self.application_state is not CONNECTED:
            raise self._state_error("application", "receive_bytes()")
        return self._payload(await self._receive(), "bytes")

    async def receive_json(self, mode: MessageMode = MessageMode.TEXT) -> Any:
        """Read one message and parse it as JSON; any JSON value comes back, not only objects."""
        if self.application_state is not CONNECTED:
            raise self._state_error("application", "receive_json()")
        if message_mode(mode) is MessageMode.TEXT:
            return parse_json(await self.receive_text())
        return parse_json(await self.receive_bytes())

    async def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            require_text("send_text()", data)
        await self._send_data({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        if type(data) is not bytes:
            data = require_bytes("send_bytes()", data)
        await self._send_data({"type": "websocket.send", "bytes": data})

    async def _send_data(self, message: dict[str, Any]) -> None:
        if self.client_state is not CONNECTED:
            method = "send_text()" if "text" in message else "send_bytes()"
            raise self._state_error("client", method)
        try:
            await self._send(message)
        except OSError as error:
            raise self._lost() from error

    async def send_json(self, data: Any, mode: MessageMode = MessageMode.TEXT) -> None:
        """Send ``data`` as compact JSON (``{"a":1}``), non-ASCII kept as it is."""
        if self.client_state is not CONNECTED:
            raise self._state_error("client", "send_json()")
        text = dumps_json(data)
        if message_mode(mode) is MessageMode.TEXT:
            await self.send_text(text)
        else:
            await self.send_bytes(text.encode())

    async def close(
        self, code: int = CloseCode.NORMAL_CLOSURE.value, reason: str | None = None
    ) -> None:
        """Close the connection; before ``accept()`` this refuses the handshake (HTTP 403).

        Closing a connection that is already closed does nothing.
        """
        check_close_code(code)
        check_close_reason(reason)
        if self.client_state is DISCONNECTED:
            return
        self._close_sent = code
        self._mark_disconnected()
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # --- internals ---------------------------------------------------------------------
    def _disconnected(self, message: dict[str, Any]) -> WebSocketDisconnectError:
        self._mark_disconnected()
        code = message.get("code", CloseCode.NO_STATUS_RECEIVED.value)
        return WebSocketDisconnectError(code, message.get("reason") or "")

    def _payload(self, message: dict[str, Any], key: str) -> Any:
        """The message's ``text`` or ``bytes``; or why a receive_text() or receive_bytes()
        got none: the peer left, or sent the other kind of frame."""
        data = message.get(key)
        if data is not None:
            return data
        if message["type"] == "websocket.disconnect":
            raise self._disconnected(message)
        if key == "text":
            raise wrong_frame("receive_text()", message.get("bytes") or b"", "client")
        raise wrong_frame("receive_bytes()", message.get("text") or "", "client")

    def _lost(self) -> WebSocketDisconnectError:
        """The server saw the peer vanish before we read its disconnect message."""
        self._mark_disconnected()
        return WebSocketDisconnectError(CloseCode.ABNORMAL_CLOSURE.value, "the connection was lost")

    def _mark_disconnected(self) -> None:
        self.client_state = DISCONNECTED
        self.application_state = DISCONNECTED

    def _state_error(self, party: str, method: str) -> InvalidWebSocketStateError:
        """The error for calling ``method`` (e.g. ``"receive_text()"``) in the wrong state,
        with the fix first, in the learner's words."""
        current = self.client_state if party == "client" else self.application_state
        action = "sends" if method.startswith("send") else "receives"
        if current is CONNECTING:
            hint = (
                f"Your handler must call `await websocket.accept()` before it {action}; "
                f"it called `{method}` first."
            )
        elif self._close_sent is not None:
            hint = (
                f"Stop using a connection once your handler closes it: it already closed "
                f"this one (code {self._close_sent}), then called `{method}`."
            )
        else:
            hint = (
                "Stop when the client leaves: catch WebSocketDisconnectError around your "
                f"loop. The client has disconnected, and your handler then called `{method}`."
            )
        return InvalidWebSocketStateError(
            party=party, current_state=current, expected_state=CONNECTED, hint=hint
        )
