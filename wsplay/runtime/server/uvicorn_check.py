"""The uvicorn the playground's protocols (protocols.py) are built on, checked when loaded.

protocols.py subclasses uvicorn's sans-I/O WebSocket protocol and its HTTP protocols, and
reads and overrides some of their internals. Those are checked here, by name, before
anything is built on them, so an unsupported uvicorn fails at once with the range and the
fix, not later with an AttributeError in the middle of a connection. Only the playground
loads this: ``import wsplay`` and the framework work with any uvicorn, or none.
"""

from __future__ import annotations

from typing import Any

# The first whose sans-I/O protocol has keepalive pings (0.44), splits the subprotocols a
# client offers (0.50.1) and stops writing to a peer that does not read (0.52.1).
OLDEST_UVICORN = "0.52.1"
NEWEST_TESTED_UVICORN = "0.55"
FIX = f'pip install "uvicorn>={OLDEST_UVICORN}"'

# What protocols.py calls, overrides or reads, per uvicorn class: methods, and attributes
# the class's __init__ (or the named method) sets.
_WEBSOCKET_METHODS = (
    "handle_connect",
    "handle_ping",
    "handle_pong",
    "send_keepalive_ping",
    "handle_parser_exception",
    "receive",
    "send",
    "pause_writing",
    "resume_writing",
)
_WEBSOCKET_STATE = (
    "conn",
    "queue",
    "transport",
    "read_paused",
    "writable",
    "pending_ping_payload",
    "handshake_initiated",
    "handshake_complete",
    "close_sent",
)
_HTTP_METHODS = (
    "connection_made",
    "data_received",
    "connection_lost",
    "handle_websocket_upgrade",
    "on_response_complete",
)
_HTTP_STATE = ("loop", "transport", "client")


class UnsupportedUvicornError(ImportError):
    """The installed uvicorn lacks what the playground's protocols are built on."""


def _version() -> str:
    import uvicorn

    return getattr(uvicorn, "__version__", "unknown")


def _unsupported(what: str) -> UnsupportedUvicornError:
    return UnsupportedUvicornError(
        f"The wsplay playground needs uvicorn {OLDEST_UVICORN} or newer (tested up to "
        f"{NEWEST_TESTED_UVICORN}); this Python has uvicorn {_version()}. Run  {FIX}  (in a "
        f'notebook: %pip install "uvicorn>={OLDEST_UVICORN}"), then restart the kernel. '
        "wsplay's framework (WebSocket, Router, Application) works with any uvicorn. "
        f"(What is missing: {what}.)"
    )


def _missing(cls: type, methods: tuple[str, ...], state: tuple[str, ...]) -> list[str]:
    """The names of ``methods`` and ``state`` that ``cls`` has not: methods uvicorn defines
    (asyncio's empty ``pause_writing`` does not count), state its __init__ sets."""
    own = [vars(base) for base in cls.__mro__ if base.__module__.startswith("uvicorn")]
    missing = [name for name in methods if not any(callable(found.get(name)) for found in own)]
    init = getattr(cls.__init__, "__code__", None)
    assigned = set(init.co_names) if init is not None else set()
    return missing + [name for name in state if name not in assigned]


def require_supported_uvicorn() -> tuple[type[Any], type[Any], type[Any]]:
    """(sans-I/O WebSocket protocol, h11 protocol, the fastest HTTP protocol) of a uvicorn
    that has everything protocols.py relies on; else UnsupportedUvicornError saying so."""
    try:
        from uvicorn.protocols.http.h11_impl import H11Protocol
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError as error:
        raise _unsupported(f"it has no {error.name or 'sans-I/O WebSocket protocol'}") from None
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as fastest
    except ImportError:  # httptools is optional: uvicorn falls back to h11 in the same way
        fastest = H11Protocol
    missing = _missing(WebSocketsSansIOProtocol, _WEBSOCKET_METHODS, _WEBSOCKET_STATE)
    connect = getattr(WebSocketsSansIOProtocol, "handle_connect", None)
    if connect is not None and "response" not in connect.__code__.co_names:
        missing.append("response")
    for http in {H11Protocol, fastest}:
        lacks = _missing(http, _HTTP_METHODS, _HTTP_STATE)
        missing += [f"{http.__name__}.{name}" for name in lacks]
    if missing:
        names = ", ".join(missing)
        raise _unsupported(f"its WebSocket and HTTP protocols lack {names}")
    return WebSocketsSansIOProtocol, H11Protocol, fastest
