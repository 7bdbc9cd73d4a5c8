"""The app under test, wrapped: peers that vanish, and its failures collected quietly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..framework import Application, CloseCode
from ..framework.errors import Host, hosted, hosting, is_disconnect, unfilled_parameters

PEER_HEADER = "x-wsplay-exercise-peer"  # names each scripted client for the harness
# How a scripted client leaves: it closes normally, or its connection drops. Plain ints, as
# an ASGI message the learner's handler reads holds them.
NORMAL, DROPPED = CloseCode.NORMAL_CLOSURE.value, CloseCode.ABNORMAL_CLOSURE.value


class Harness:
    """Wraps the app under test: marks its tasks as checked, and can make a peer vanish.

    A vanished peer is what a real server sees when a client's network goes away: sending
    to it raises an OSError (the handler's WebSocket turns that into a
    WebSocketDisconnectError) before its own handler has heard the disconnect.

    wsplay reports its handlers' failures to the host in the scope and closes their
    connections itself. For another framework's app (FastAPI, Starlette) the harness does
    what a server does with what escapes the app, and collects it for the hints.
    """

    def __init__(self, app: Any, capture: Capture) -> None:
        self.app = app
        self.foreign = not isinstance(app, Application)
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
            if self.foreign and _unfilled_parameters(message, peer):
                self.capture.errors.append(ParametersNotFilled(message["reason"]))
                message = {**message, "reason": ""}
            peer.saw(message)
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
        except Exception as error:
            if not self.foreign:
                raise
            if not is_disconnect(error):  # a client that left ends a handler quietly
                self.capture.errors.append(error)
            await peer.end(send, failed=not is_disconnect(error))
        else:
            if self.foreign and peer.state == "connecting":
                self.capture.warnings.append(
                    "Your handler returned without calling `await websocket.accept()`, so "
                    "the server answered the handshake with HTTP 500."
                )
            if self.foreign:
                await peer.end(send, failed=False)


class ParametersNotFilled(Exception):
    """FastAPI refused a handshake (a close 1008 before accept) because it could not fill
    the handler's parameters: the message names each one."""

    def __init__(self, errors: Any) -> None:
        self.errors = errors if isinstance(errors, list) else []
        self.names = [
            str(error["loc"][-1])
            for error in self.errors
            if isinstance(error, dict) and error.get("loc")
        ]
        missing = unfilled_parameters(self.errors)
        super().__init__(
            "FastAPI refused the connection (close 1008) because it could not fill the "
            f"parameter{'s' * (len(self.names) != 1)} {missing or repr(errors)}"
        )


def _unfilled_parameters(message: dict[str, Any], peer: _Peer) -> bool:
    """FastAPI's answer to parameters it cannot fill: a close 1008 before accept, with its
    validation errors (a list) as the reason."""
    return (
        peer.state == "connecting"
        and message["type"] == "websocket.close"
        and message.get("code") == CloseCode.POLICY_VIOLATION
        and isinstance(message.get("reason"), list)
    )


@dataclass
class _Peer:
    gone: bool = False
    state: str = "connecting"  # then "accepted", or "closed" (closed, refused or answered)

    def saw(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.accept":
            self.state = "accepted"
        elif message["type"] in ("websocket.close", "websocket.http.response.start"):
            self.state = "closed"

    async def end(self, send: Any, *, failed: bool) -> None:
        """What uvicorn does when another framework's app returns or raises: a handshake
        not answered gets HTTP 500; an open connection a close, 1011 if the app raised."""
        if self.state == "connecting":
            await send({"type": "websocket.http.response.start", "status": 500, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b""})
        elif self.state == "accepted" and not self.gone:
            code = CloseCode.INTERNAL_ERROR if failed else CloseCode.NORMAL_CLOSURE
            await send({"type": "websocket.close", "code": code.value})
        self.state = "closed"


class Capture:
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
