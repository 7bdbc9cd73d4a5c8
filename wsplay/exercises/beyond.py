"""The exercises of notebooks 06 (authentication and origins) and 07 (keepalive and
backpressure), checked in process like those of the seed's notebooks.

Two things the seed's conversations never needed: clients that send headers (a cookie, an
Origin) and expect a refusal, and a client that stops reading, so that a send to it waits
as it would once a real connection's buffers are full.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..framework import CloseCode
from .conversation import Run
from .harness import NORMAL, PEER_HEADER
from .registry import exercise
from .seen import ANY_TEXT, Seen

TRUSTED_ORIGIN = "http://localhost:8888"
TOKENS = {"t-ada": "ada", "t-bob": "bob"}
BIG = 70_000  # characters: over the feed's 64 KiB limit


class _Stalling:
    """Wraps the app under test with what a real server does and the in-process client
    does not: a stalled client's sends wait for ever, as on a full buffer.

    Only messages stall: a close still gets through, as a server that gives up on a
    connection ends it whatever its buffers hold.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stalled: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = dict(scope.get("headers", ())).get(PEER_HEADER.encode(), b"").decode()

        async def stalling_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send" and name in self.stalled:
                await asyncio.Event().wait()  # until the handler gives up (cancels)
            await send(message)

        await self.app(scope, receive, stalling_send)


class _BeyondRun(Run):
    """A conversation whose clients can send headers, expect refusals and stop reading."""

    def __init__(self, run: Run) -> None:
        super().__init__(
            run.exercise, run.client, run.harness, run.capture, run.report, run.timeout
        )
        self._headers: dict[str, dict[str, str]] = {}
        # Wrapped before any client connects: a connection keeps the app it started with.
        self._stalling = _Stalling(self.harness.app)
        self.harness.app = self._stalling

    def connect_with(self, name: str, path: str, headers: dict[str, str], fix: str) -> None:
        """``connect``, with ``headers`` in the handshake (and in the step's words)."""
        shown = " and ".join(f"{key}: {value}" for key, value in headers.items())
        step = f"{name} connects to {path}" + (f" with {shown}" if shown else "")
        if self._skip(step):
            return
        self._headers[name] = headers
        seen = self._open(name, path, [])
        if seen.kind == "accepted":
            self._pass(f"{step}: accepted")
        else:
            expected = "the connection accepted"
            self._fail(step, expected, seen.describe(self.timeout), self._explain(seen, fix))

    def _open(
        self, name: str, path: str, subprotocols: list[str], headers: dict[str, str] | None = None
    ) -> Seen:
        return super()._open(name, path, subprotocols, self._headers.pop(name, {}))

    def expect_refused(
        self, name: str, path: str, headers: dict[str, str], step: str, fix: str
    ) -> None:
        """The handshake is refused (HTTP 403): the handler closed before ``accept()``."""
        if self._skip(step):
            return
        self._headers[name] = headers
        seen = self._open(name, path, [])
        if seen.kind == "refused":
            self._pass(step)
            return
        got = seen.describe(self.timeout)
        client = self.clients.pop(name, None)
        if client is not None:
            self._close(client, NORMAL, "")
        errors, _ = self.capture.drain()
        crash = f" Your handler raised {errors[0]!r}." if errors else ""
        self._fail(step, "the handshake refused (HTTP 403)", got, f"{fix}{crash}")

    def stall(self, name: str) -> None:
        """``name`` stops reading: from now on each send to them waits, forever."""
        if not self.failed:
            self._stalling.stalled.add(name)


# --- 06 · authentication and origins ------------------------------------------------------
@exercise(
    "login",
    "06",
    "who is connecting?",
    "/private",
    f"""
Serve /private for the users of TOKENS = {TOKENS!r}. The token comes in the query string
(/private?token=t-ada), or else in the cookie "session", or else, when the client sent
neither, in its first message: JSON {{"token": "..."}}, within 1 second. A known token gets
the text "welcome <user>". A wrong token, or no first message within 1 second: accept, then
close with 4001 and a reason (so that a browser can tell why). A handshake whose Origin
header is there but is not {TRUSTED_ORIGIN!r} is refused (close before accept: HTTP 403);
tools and tests send no Origin, and are let in.
""",
)
def _login(outer: Run) -> None:
    run = _BeyondRun(outer)
    accept_fix = "Call `await websocket.accept()` once the origin is checked."
    query_fix = (
        'Read the query string: `token = websocket.query.get("token", [None])[0]` (or a '
        "parameter `token: str | None = None`, which is bound from the query)."
    )
    cookie_fix = (
        'When there is no token in the query, read the cookie: websocket.cookies.get("session").'
    )
    message_fix = (
        "With neither, accept, then read the first message with a time limit: "
        "`await asyncio.wait_for(websocket.receive_json(), 1)`, and take its 'token'."
    )
    wrong_fix = (
        'For a token that is not in TOKENS, accept, then `await websocket.close(4001, "unknown '
        'token")`: a refused handshake would tell a browser nothing.'
    )
    silent_fix = (
        "Wait for the first message with `asyncio.wait_for(..., 1)`; on TimeoutError, close "
        "with 4001 and a reason. Without a time limit, a client that never logs in keeps a "
        "connection (and a handler) for nothing."
    )
    origin_fix = (
        'Before accept(): `origin = websocket.headers.get_first(b"origin")`; if it is there '
        f"and is not {TRUSTED_ORIGIN.encode()!r}, `await websocket.close()` and return. A "
        "page of another site can open a WebSocket to your server, and the browser sends "
        "your cookies with it (cross-site WebSocket hijacking)."
    )
    for path, headers, user, where, fix in (
        ("/private?token=t-ada", {}, "ada", "in the query", query_fix),
        ("/private", {"Cookie": "session=t-bob"}, "bob", "in the cookie", cookie_fix),
        (
            "/private",
            {"Origin": TRUSTED_ORIGIN, "Cookie": "session=t-bob"},
            "bob",
            f"in the cookie, from the page {TRUSTED_ORIGIN}",
            f"Let the page {TRUSTED_ORIGIN} in: refuse only an Origin that is there and "
            "is another.",
        ),
    ):
        run.conversation()
        run.connect_with("client", path, headers, fix if "Origin" in headers else accept_fix)
        run.expect_text("client", f"welcome {user}", f"a token {where}: 'welcome {user}'", fix)
        run.leave("client", "the client leaves; the handler ends quietly", "")
    run.conversation()
    run.connect("client", "/private", fix=accept_fix)
    if run.send("client", {"token": "t-ada"}, "json"):
        run.expect_text(
            "client",
            "welcome ada",
            "no token: the first message logs in: 'welcome ada'",
            message_fix,
        )
    run.leave("client", "the client leaves; the handler ends quietly", "")
    for path, message, step in (
        ("/private?token=nope", None, "a wrong token in the query"),
        ("/private", {"token": "nope"}, "a wrong token in the first message"),
    ):
        run.conversation()
        run.connect("client", path, fix=wrong_fix)
        if message is not None:
            run.send("client", message, "json")
        run.expect_close(
            "client", 4001, f"{step}: a close 4001 with a reason", wrong_fix, reason=ANY_TEXT
        )
        run.leave("client", "the handler ends quietly", "")
    run.conversation()
    run.connect("client", "/private", fix=accept_fix)
    run.expect_close(
        "client",
        4001,
        "no token and no message within 1 s: a close 4001",
        silent_fix,
        reason=ANY_TEXT,
    )
    run.leave("client", "the handler ends quietly", "")
    run.conversation()
    run.expect_refused(
        "client",
        "/private",
        {"Origin": "https://evil.example", "Cookie": "session=t-bob"},
        "a page of https://evil.example, with bob's cookie: the handshake refused (403)",
        origin_fix,
    )


# --- 07 · keepalive and backpressure ------------------------------------------------------
@exercise(
    "feed",
    "07",
    "a feed that a slow client cannot stall",
    "/feed",
    """
Serve /feed: each text a client sends goes to every connected client (the sender too). A
client that does not take a message within 1 second must not hold up the others: close it
with 1008 (Policy Violation) and a reason, forget it, and carry on. A text over 64 KiB
(65,536 bytes of UTF-8) is not passed on: close its sender with 1009 (Message Too Big).
""",
)
def _feed(outer: Run) -> None:
    run = _BeyondRun(outer)
    relay_fix = (
        "Keep the connected clients in a set; send each text to every one of them, in a "
        "`while True:` loop, and remove a client in a `finally:` when it leaves."
    )
    slow_fix = (
        "carol stopped reading, and a send to her waits for ever, holding up everyone after "
        "her. Send with a time limit: `await asyncio.wait_for(peer.send_text(text), 1)`; on "
        'TimeoutError, remove her and `await peer.close(1008, "too slow")` (give that a '
        "time limit too: a close must also get through a full buffer)."
    )
    forget_fix = (
        "After closing carol, remove her from the set, or the next broadcast sends to a "
        "closed connection (InvalidWebSocketStateError) or waits for her again."
    )
    big_fix = (
        "Check the size before you pass a text on: `len(text.encode()) > 65536` → "
        '`await websocket.close(1009, "message too big")` and return.'
    )
    run.conversation()
    for name in ("carol", "alice", "bob"):
        run.connect(name, "/feed", fix="Call `await websocket.accept()` first.")
    run.says("alice", "hello", ["carol", "alice", "bob"], relay_fix)
    run.stall("carol")
    if run.send("bob", "still there?"):
        run.expect_texts(
            ["alice", "bob"],
            ["still there?"],
            "carol stops reading; bob says 'still there?': alice and bob receive it anyway",
            slow_fix,
        )
    run.expect_close(
        "carol", CloseCode.POLICY_VIOLATION, "carol is closed with 1008 (too slow)", slow_fix
    )
    # A broadcast that crashes on carol shows in this one, or (sent to her last) in the next.
    for text in ("after carol", "and again"):
        run.says("alice", text, ["alice", "bob"], forget_fix)
    if run.send("bob", "x" * BIG):
        run.expect_close(
            "bob",
            CloseCode.MESSAGE_TOO_BIG,
            f"bob sends {BIG:,} characters: bob is closed with 1009",
            big_fix,
        )
    run.says("alice", "ok", ["alice"], big_fix, note=" (and never bob's big text)")
    run.leave("alice", "alice leaves; the handler ends quietly", relay_fix)
