"""One WebSocket connection's recording, between uvicorn and the app (see recorder.py).

It wraps the app's ``receive`` and ``send``: each message is recorded on the timeline on
its way, the handshake checked against the gate, a refusal (by the gate or by the app)
recorded with what the client got, and the ending recorded once with who closed, however
it happened (the app's close, the client's, a vanished peer, an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ...framework.close_codes import CloseCode, ClosedBy
from ...framework.errors import (
    NORMAL_CLOSE_CODES,
    Host,
    disconnect_code,
    hosted,
    hosting,
    reason_text,
)
from ...framework.shown import shown_text
from ...framework.websocket import format_reason
from ..server.origins import REFUSED_STATUS, Refusal
from ..server.protocol_state import ProtocolView
from ..timeline.budget import FIELD_CHARS
from ..timeline.kinds import ACCEPT, CLOSE, GATE, HANDSHAKE, IN, OUT, REJECT, SERVER
from ..timeline.store import Event
from ..timeline.words import refused_because
from .connections import ConnectionClosedOnServer, ServerConnection
from .refusals import plain_text

if TYPE_CHECKING:
    from .recorder import Recorder

logger = logging.getLogger("wsplay")

MAX_DENIAL_BYTES = 4 * FIELD_CHARS["body"]  # of an HTTP denial's body, read for the timeline
# No close frame (RFC 6455's 1006), as a plain int: it goes into ASGI messages and the
# timeline, which keeps plain values (see Timeline).
_DROPPED = CloseCode.ABNORMAL_CLOSURE.value


class Conversation:
    """One connection's recording: wraps receive and send, tracks who closed.

    It is the protocol's ``ConnectionObserver`` (server/protocol_state.py) when the server
    is the playground's, and reads what only the protocol knows through a ``ProtocolView``.
    """

    def __init__(self, recorder: Recorder, scope: dict[str, Any], receive: Any, send: Any):
        # The id the kernel reserved, if a ticket it issued came with the handshake; the
        # kernel client's own exceptions explain its refusals (nothing more said).
        known, self.from_kernel_client, scope = recorder.tickets.claim(scope)
        self.recorder = recorder
        self.timeline = recorder.timeline
        self.pacer = recorder.gil  # looked at by the protocol, between pieces of a read
        self.scope = scope
        self._receive = receive
        self._send = send
        self.task: asyncio.Task[Any] | None = None  # the handler's, once it runs
        self._told = False  # the app said, or failed, in its own words (wsplay's apps do)
        self._denial: tuple[int, bytearray] | None = None  # an HTTP denial being sent
        if known is None or known in recorder.connections:
            known = self.timeline.new_connection_id()
        self.id = known
        self.connection = ServerConnection(self.id, scope, self, recorder.loop)
        self.protocol = ProtocolView(send)
        # The playground's protocol hands each message to seen() itself: the app then reads
        # the protocol's own receive, with no coroutine of ours around it (one less per
        # message). Any other server's is wrapped by our receive.
        self._app_receive: Any = receive if self.protocol.observe(self) else self.receive

    def control(self, kind: str, direction: str) -> None:
        """A ping or pong the server's protocol handled (the app never sees them)."""
        self._event(kind, direction=direction)

    def _event(self, kind: str, headers: Any = (), **fields: Any) -> None:
        # Who closed and the codes may be enum members: the timeline keeps their values.
        self.timeline.add(time.time(), self.id, SERVER, kind, fields, headers)

    async def run(self) -> None:
        scope = self.scope
        raw_headers = scope.get("headers", ())
        query = scope.get("query_string")
        # The timeline cuts each field to its budget (timeline/budget.py).
        self._event(
            HANDSHAKE,
            path=scope.get("path"),
            query=query.decode("latin-1") if query else "",
            headers=raw_headers,
            preview=", ".join(scope.get("subprotocols", ())),
        )
        refused = self.recorder.gate.refusal(raw_headers)
        if refused is not None:
            try:
                await self._refuse(refused)
            finally:
                self.let_go()
            return
        self.recorder.opened(self)
        # wsplay's apps hand their failures to the host in the scope; others log them, and
        # the log reaches the same host through framework.errors.logged_failures.
        host = Host(on_error=self.report, on_notice=self._notice)
        try:
            with hosting(host):
                await self.recorder.app(hosted(self.scope, host), self._app_receive, self.send)
        except (SystemExit, KeyboardInterrupt) as error:
            # Not the kernel's to obey: only this handler ends. Said, then closed like any
            # other failure (uvicorn would log it as a crash of the whole ASGI app).
            self.report(error)
            await self._close_after(error)
        except Exception as error:
            if self._client_left(error):
                return  # as wsplay's own handlers end: quietly (Starlette's did not catch it)
            self.report(error)
            if not self.connection.accepted and self.connection.ending is None:
                # The server answers HTTP 500; what it logs is not said again (reported once).
                raise
            await self._close_after(error)
        finally:
            self.recorder.finished(self)
            if self.connection.ending is None:
                # The app returned, or failed, and the server ended the connection for it.
                self._end(ClosedBy.SERVER, _DROPPED, "the app ended without closing")
            self.let_go()

    def _client_left(self, error: BaseException) -> bool:
        """``error`` only says this connection's client left, with a normal code (1006
        too, once the client is gone): the end of a conversation, not a failure."""
        code = disconnect_code(error)
        ended = self.connection.closed_by
        if code is None or ended is None:
            return False  # e.g. another connection's client, gone during a broadcast
        return code in NORMAL_CLOSE_CODES or (
            code == CloseCode.ABNORMAL_CLOSURE and ended in (ClosedBy.CLIENT, ClosedBy.DROPPED)
        )

    def let_go(self) -> None:
        """Hold nothing big once over: the connection and the protocol point back here, and
        timers the server set meanwhile keep this object (in their context) for up to 20 s;
        the protocol it held cost the garbage collector more per handshake than we did."""
        self.connection.let_go()
        self.protocol.let_go()
        self.scope, self._receive, self._send = {}, _ended_receive, _ended_send
        self._app_receive = _ended_receive  # it may be our own receive: a cycle through us
        self._denial = None

    async def _close_after(self, error: BaseException) -> None:
        """An app's failure, as wsplay's own apps end one: 1011 after accept, else refused."""
        if self.connection.ending is not None:
            return
        with contextlib.suppress(OSError):
            if self.connection.accepted:
                code = CloseCode.INTERNAL_ERROR.value
                reason = format_reason(f"{type(error).__name__}: {error}".rstrip(": "))
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
            else:
                await self.send({"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE.value})

    async def _refuse(self, refusal: Refusal) -> None:
        """HTTP 403 before the app runs, with a body that says why (browsers hide it)."""
        why = refusal.explain()
        self.connection.ended(ClosedBy.SERVER, REFUSED_STATUS, why)
        self._event(
            REJECT,
            code=REFUSED_STATUS,
            by=ClosedBy.SERVER,
            reason=refusal.reason,
            asked_by=GATE,
            headers=refusal.headers,
        )
        if not self.from_kernel_client:  # the kernel client's exception says it already
            self.recorder.on_refused(refusal, "a WebSocket handshake")
        if "websocket.http.response" in self.scope.get("extensions", {}):
            headers, body = plain_text(why)
            start = {"type": "websocket.http.response.start", "status": REFUSED_STATUS}
            await self._send({**start, "headers": headers})
            await self._deny({"type": "websocket.http.response.body", "body": body})
        else:
            await self._send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION.value})

    def report(self, error: BaseException) -> None:
        """An exception in the app: into the timeline, and to the playground's listeners."""
        self._told = True
        self.recorder.report(self.connection, error)

    def _notice(self, text: str) -> None:
        """What the app warns about (e.g. why it refused the handshake), said in the
        notebook, unless the kernel's client connected: its own exception says it there."""
        self._told = True
        if not self.from_kernel_client:
            self.recorder.on_notice(text)

    def notice_ending(self) -> None:
        """Record an ending the transport knows of and the app has not been told yet."""
        if self.connection.ending is not None:
            return
        ended = self.protocol.ending()
        if ended is None:
            return
        by, code, reason = ended
        if not self.connection.accepted:
            by, reason = (
                ClosedBy.CLIENT,
                reason or "the client left before the handshake was answered",
            )
        # A protocol error the server answered: the close frame the client sent, and why.
        failure = self.protocol.failure()
        if failure is None:
            self._end(by, code, reason)
        else:
            self._end(ClosedBy.SERVER, code, reason, **failure.fields())

    async def receive(self) -> dict[str, Any]:
        """The server's receive, seen (for a server whose protocol does not call seen())."""
        return self.seen(await self._receive())

    def seen(self, message: dict[str, Any]) -> dict[str, Any]:
        """Record a message the app is about to read; the disconnect as it really happened."""
        kind = message["type"]
        if kind == "websocket.receive":
            data = message.get("text")
            self.timeline.message(
                self.id, SERVER, IN, data if data is not None else message.get("bytes") or b""
            )
        elif kind == "websocket.disconnect" and self.connection.ending is None:
            message = self._disconnected(message)
        return message

    def _disconnected(self, message: dict[str, Any]) -> dict[str, Any]:
        """Record the end the app is told of, as it really happened."""
        # The protocol knows best who closed (a keepalive timeout is the server's 1011,
        # though the app is told 1005 or 1006; a protocol error the server's 1002): ask it.
        self.notice_ending()
        if self.connection.closed_by == ClosedBy.DROPPED:
            return {**message, "code": _DROPPED, "reason": ""}  # as RFC 6455 names it
        if self.connection.ending is not None:
            return message
        if message.get("code") == CloseCode.NO_STATUS_RECEIVED and "reason" not in message:
            # uvicorn reports a connection lost without a close frame as 1005 (ASGI's
            # "no code received"); RFC 6455 calls it 1006, and so does the playground.
            message = {**message, "code": _DROPPED, "reason": ""}
        code = message.get("code", CloseCode.NO_STATUS_RECEIVED.value)
        by = ClosedBy.DROPPED if code == _DROPPED else ClosedBy.CLIENT
        self._end(by, code, message.get("reason") or "")
        return message

    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """Record what the app sends, then hand back the server's own send to await.

        A plain function, not a coroutine: one frame less on every message sent.
        """
        kind = message["type"]
        if kind == "websocket.send":
            if self.connection.ending is not None:  # the hot path: a field, no property
                # The connection is over (e.g. closed from a cell): tell the app as the ASGI
                # spec says a server should, with an OSError.
                raise ConnectionClosedOnServer(self.id, self.connection.ended_how())
            data = message.get("text")
            self.timeline.message(
                self.id, SERVER, OUT, data if data is not None else message.get("bytes") or b""
            )
        elif kind == "websocket.accept":
            self.connection.accepted = True
            self._accepted(message)
        elif kind == "websocket.close":
            return self.close(message)
        elif kind == "websocket.http.response.start":
            self._denial = (int(message.get("status", 0)), bytearray())
        elif kind == "websocket.http.response.body":
            return self._denied(message)
        return self._send(message)

    def _accepted(self, message: dict[str, Any]) -> None:
        """Record the 101 response about to go out: its subprotocol, and the extensions it
        negotiated (``permessage-deflate; ...``: websockets chose them when the request
        came, uvicorn's response holds them), not only what the client offered.

        Before it is sent, as the messages are: the client, once answered, may act at once.
        """
        extensions, subprotocol = "", message.get("subprotocol")
        answered = self.protocol.negotiated()
        if answered is not None:
            extensions, subprotocol = answered[0], subprotocol or answered[1]
        self._event(
            ACCEPT,
            subprotocol=subprotocol,
            extensions=extensions,
            headers=message.get("headers") or (),
        )

    async def _denied(self, message: dict[str, Any]) -> None:
        """A part of the app's HTTP denial (status and body instead of accepting): the last
        part is recorded, the body cut to the timeline's budget, once it has been sent."""
        status, body = self._denial or (0, bytearray())
        body += bytes(message.get("body") or b"")[: max(0, MAX_DENIAL_BYTES - len(body))]
        if message.get("more_body"):
            await self._send(message)
            return
        await self._deny(message)
        text = body.decode("utf-8", "replace")
        self.connection.ended(ClosedBy.SERVER, status, text)
        self._refused_by_app(code=status, body=text)

    def _refused_by_app(self, **answer: Any) -> None:
        """Record the app's refusal (a close before accepting, or an HTTP denial) with what
        it answered, and say it in the notebook unless the app did, or a cell's client
        connected (its exception says it)."""
        event = Event(time.time(), self.id, SERVER, REJECT, by=ClosedBy.SERVER.value, **answer)
        self.timeline.record(event)
        self.recorder.forget(self)
        if not self._told:
            path = shown_text(self.connection.path)
            self._notice(
                f"The app refused the handshake for {path} (connection #{self.id}, HTTP "
                f"{answer['code']}){refused_because(event)}."
            )

    async def _deny(self, message: dict[str, Any]) -> None:
        """The last part of a denial response (HTTP 403 with a body, instead of accepting)."""
        await self._send(message)
        self.protocol.complete_denial()

    async def close(self, message: dict[str, Any], asked_by: str = "") -> None:
        """Send a close, and record it only once it has really been sent.

        The app's own (from ``send``), or one the kernel asked for (``asked_by``, see
        ServerConnection.close_async): the timeline says which.
        """
        if self.connection.ending is not None:
            return  # already over: a second close would make the server raise
        code = message.get("code", CloseCode.NORMAL_CLOSURE.value)
        reason = reason_text(message.get("reason"))
        try:
            await self._send(message)
        except OSError:
            self.notice_ending()
            if self.connection.ending is None:
                self._end(ClosedBy.DROPPED, _DROPPED, "")
            raise ConnectionClosedOnServer(self.id, self.connection.ended_how()) from None
        if self.connection.accepted:
            self._end(ClosedBy.SERVER, code, reason, asked_by)
        else:
            self.connection.ended(ClosedBy.SERVER, code, reason)
            # What uvicorn answers a close before the accept: 403, the close's code and
            # reason never reach the client (the kernel's client reads them here).
            code = int(code)
            if asked_by:
                self._told = True  # a cell or the playground asked: not the app's refusal
            self._refused_by_app(
                code=REFUSED_STATUS, close_code=code, reason=reason, asked_by=asked_by
            )

    def _end(self, by: ClosedBy, code: int, reason: str, asked_by: str = "", **wire: Any) -> None:
        """The connection is over: on the connection, on the timeline, out of the open ones.

        ``wire``: more of what was sent (the client's refused close frame, see
        ProtocolView.failure).
        """
        self.connection.ended(by, code, reason)
        self._event(CLOSE, by=by, code=code, reason=reason, asked_by=asked_by, **wire)
        self.recorder.forget(self)


async def _ended_receive() -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": _DROPPED}


async def _ended_send(message: dict[str, Any]) -> None:
    raise OSError("The connection is over: nothing more can be sent on it.")
