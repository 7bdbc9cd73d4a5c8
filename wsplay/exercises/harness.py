"""The app under test, wrapped: peers that vanish, and its failures collected quietly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..framework.errors import Host, hosted, hosting

PEER_HEADER = "x-wsplay-exercise-peer"  # names each scripted client for the harness


class _Harness:
    """Wraps the app under test: marks its tasks as checked, and can make a peer vanish.

    A vanished peer is what a real server sees when a client's network goes away: sending
    to it raises an OSError (the handler's WebSocket turns that into a
    WebSocketDisconnectError) before its own handler has heard the disconnect.
    """

    def __init__(self, app: Any, capture: _Capture) -> None:
        self.app = app
        self.capture = capture
        self.peers: dict[str, _Peer] = {}  # the newest connection of each scripted client
        self.all_gone = False

    def gone(self, name: str) -> None:
        """From now on, sending to ``name``'s connection fails as on a lost network."""
        peer = self.peers.get(name)
        if peer is not None:
            peer.gone = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        name = dict(scope.get("headers", ())).get(PEER_HEADER.encode(), b"").decode()
        peer = self.peers[name] = _Peer()

        async def guarded_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send" and (self.all_gone or peer.gone):
                raise OSError(f"the connection to {name or 'this client'} was lost")
            await send(message)

        host = self.capture.host
        try:
            with hosting(host):  # what a non-wsplay app logs, too
                await self.app(hosted(scope, host), receive, guarded_send)
        except (SystemExit, KeyboardInterrupt) as exit_:
            # Escaping, these would stop the test client's event loop (and a real server's).
            raise RuntimeError(
                f"your handler raised {exit_!r}, which would stop the whole server"
            ) from None


@dataclass
class _Peer:
    gone: bool = False


class _Capture:
    """Collects the app's failures (its handler's exceptions, why it refused), quietly: the
    host the harness puts in each connection's scope (framework.errors)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.warnings: list[str] = []
        self.host = Host(on_error=self.errors.append, on_notice=self.warnings.append)

    def drain(self) -> tuple[list[BaseException], list[str]]:
        errors, warnings = self.errors[:], self.warnings[:]
        del self.errors[: len(errors)], self.warnings[: len(warnings)]
        return errors, warnings
