"""A connection's opening handshake in full: the request, the response, and what they mean.

The request is what the server received (recorded at the ASGI level, so every header the
client library added is there: Host, Upgrade, Sec-WebSocket-Key ...); the response is what
the client got back. The Sec-WebSocket-Accept check is redone here, as RFC 6455 §4.2.2 says
a client must: base64(SHA-1(key + the protocol's GUID)), step by step. Under them, the bytes
themselves: both heads exactly as the client wrote and read them (``core.wire``), each line
ending in the CR LF that HTTP puts there.

    info = accepted(core)        # after core.open()
    handshake_html(info)
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from http import HTTPStatus

from ..framework.exceptions import HandshakeRejectedError
from ..runtime.clients.kernel import ClientCore
from ..runtime.clients.wire import GUID, Wire, accept_worked_out, expected_accept
from ..runtime.recording.connections import CONNECTION_HEADER
from ..runtime.timeline.kinds import HANDSHAKE, SERVER
from ..runtime.timeline.store import Event

MAX_BODY = 2000  # characters of a refusal's body shown
_SEARCH = 400  # newest timeline events searched for the server's record of the request


@dataclass
class Handshake:
    """Both halves of one opening handshake, as words and header lists."""

    connection: int
    request_line: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""  # a refusal's body, when the server sent one
    accept_check: str = ""  # the Sec-WebSocket-Accept, redone from the key
    raw_request: str = ""  # the request's head as the client wrote it (latin-1, CR LF kept)
    raw_response: str = ""  # the response's head as the client read it
    accept_steps: list[str] = field(default_factory=list)  # wire.accept_worked_out

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = ""
        return f"HTTP/1.1 {self.status} {phrase}".rstrip()


def _server_request(core: ClientCore) -> Event | None:
    """The server's record of this connection's request (it has every header)."""
    for event in reversed(core.timeline.tail(_SEARCH, side=SERVER)):
        if event.connection == core.id and event.kind == HANDSHAKE:
            return event
    for event in core.timeline.events(connection=core.id, kind=HANDSHAKE):
        if event.side == SERVER:
            return event
    return None


def _request(core: ClientCore) -> tuple[str, list[tuple[str, str]]]:
    event = _server_request(core)
    if event is not None:
        return f"GET {core.path} HTTP/1.1", list(event.headers)
    # Not reached the server (or no longer kept): what the client was asked to send.
    return f"GET {core.path} HTTP/1.1", list(core.headers)


def _check(request: list[tuple[str, str]], response: list[tuple[str, str]]) -> str:
    key = next((value for name, value in request if name.lower() == "sec-websocket-key"), "")
    got = next((value for name, value in response if name.lower() == "sec-websocket-accept"), "")
    if not key or not got:
        return ""
    want = expected_accept(key)
    verdict = "✓ matches" if got == want else f"✗ should be {want}"
    return (
        f"Sec-WebSocket-Accept = base64(SHA-1(Sec-WebSocket-Key + {GUID})) = {want}: "
        f"{verdict}. The server proves it read this very request as a WebSocket handshake "
        "(an HTTP cache or a plain web server could not answer it)."
    )


def _with_wire(info: Handshake, wire: Wire) -> Handshake:
    """``info`` with the heads' bytes and the accept worked out from them."""
    info.raw_request = wire.request.decode("latin-1")
    info.raw_response = wire.response.decode("latin-1")
    info.accept_steps = accept_worked_out(info.raw_request, info.raw_response)
    return info


def accepted(core: ClientCore) -> Handshake:
    """The handshake of a connection that opened."""
    line, request = _request(core)
    response = list(core.response_headers.items())
    info = Handshake(core.id, line, request, 101, response, accept_check=_check(request, response))
    return _with_wire(info, core.wire)


def refused(core: ClientCore, error: HandshakeRejectedError) -> Handshake:
    """The handshake of a connection the server refused: its HTTP status and body."""
    line, request = _request(core)
    refusal = core.refusal
    headers = list(refusal.headers) if refusal is not None else []
    text = (refusal.body if refusal is not None else b"").decode("utf-8", "replace")
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "…"
    return _with_wire(
        Handshake(core.id, line, request, error.status_code, headers, text), core.wire
    )


def _headers_html(headers: list[tuple[str, str]]) -> str:
    lines = []
    for name, value in headers:
        note = ""
        if name.lower() == CONNECTION_HEADER.decode():
            note = " <i>(wsplay's own: ties both sides of the timeline together)</i>"
        elif name == "…":
            lines.append(f"<i>… {html.escape(value)}</i>")
            continue
        lines.append(f"<b>{html.escape(name)}</b>: {html.escape(value)}{note}")
    return "<br>".join(lines)


def _head_html(head: str) -> str:
    """A head's lines, each with its CR LF shown (the empty line ends the head)."""
    end = "<span class='wsp-hs-crlf'>\\r\\n</span>"
    lines = head.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()  # the split after the last CR LF
    return "<br>".join(html.escape(line) + end for line in lines)


def _wire_html(info: Handshake) -> str:
    if not info.raw_request:
        return ""
    parts = [  # folded: the same headers as above, as bytes, for whoever wants them
        "<details class='wsp-hs-wire'><summary>On the wire: the bytes, and the accept "
        "worked out</summary>",
        f"<code class='wsp-hs wsp-hs-raw'>{_head_html(info.raw_request)}</code>",
    ]
    if info.raw_response:
        parts.append(f"<code class='wsp-hs wsp-hs-raw'>{_head_html(info.raw_response)}</code>")
    if info.accept_steps:
        steps = "<br>".join(html.escape(step) for step in info.accept_steps)
        parts.append(f"<code class='wsp-hs wsp-hs-accept'>{steps}</code>")
    return "".join(parts) + "</details>"


def handshake_html(info: Handshake | None) -> str:
    """A collapsed <details> with both halves (what the panel shows under a client)."""
    if info is None:
        return ""
    ok = info.status == 101
    summary = (
        f"Handshake #{info.connection}: {html.escape(info.status_line)}"
        if ok
        else f"Handshake #{info.connection} refused: {html.escape(info.status_line)}"
    )
    parts = [
        "<div class='wsp-hs-title'>Request (as the server received it)</div>",
        f"<code class='wsp-hs'>{html.escape(info.request_line)}<br>"
        f"{_headers_html(info.request_headers)}</code>",
        "<div class='wsp-hs-title'>Response</div>",
        f"<code class='wsp-hs'>{html.escape(info.status_line)}<br>"
        f"{_headers_html(info.response_headers)}</code>",
    ]
    if info.accept_check:
        parts.append(f"<div class='wsp-hs-note'>{html.escape(info.accept_check)}</div>")
    parts.append(_wire_html(info))
    if not ok:
        body = html.escape(info.body) if info.body else "<i>(no body)</i>"
        parts.append(f"<div class='wsp-hs-title'>Body</div><code class='wsp-hs'>{body}</code>")
        parts.append(
            "<div class='wsp-hs-note'>A browser never shows this status or body to the "
            "page's JavaScript: it only sees the connection fail (close code 1006).</div>"
        )
    color = "" if ok else " style='color:#b00'"
    return (
        f"<details class='wsplay-handshake'><summary{color}>{summary}</summary>"
        + "".join(parts)
        + "</details>"
    )
