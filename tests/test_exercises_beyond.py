"""The exercises of notebooks 06 (login) and 07 (feed): the reference solutions pass (in
tests/test_exercises.py), and each wrong one below gets the advice that fixes it.
"""

from __future__ import annotations

import asyncio

from tests.test_exercises import first_failure
from wsplay import WebSocket, WebSocketDisconnectError
from wsplay.exercises import check, describe

TOKENS = {"t-ada": "ada", "t-bob": "bob"}


# --- 06 login -------------------------------------------------------------------------------
async def login_query_only(websocket: WebSocket, token: str = ""):
    await websocket.accept()
    user = TOKENS.get(token)
    if user is None:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {user}")


async def login_refuses_wrong_tokens(websocket: WebSocket):
    token = websocket.query.get("token", [None])[0] or websocket.cookies.get("session")
    if token is not None and token not in TOKENS:
        await websocket.close()  # before accept: the browser only sees 1006
        return
    await websocket.accept()
    if token is None:
        try:
            token = (await asyncio.wait_for(websocket.receive_json(), 1)).get("token")
        except TimeoutError:
            await websocket.close(4001, "log in first")
            return
    if token not in TOKENS:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {TOKENS[token]}")


async def login_waits_for_ever(websocket: WebSocket):
    await websocket.accept()
    token = websocket.query.get("token", [None])[0] or websocket.cookies.get("session")
    if token is None:
        token = (await websocket.receive_json()).get("token")
    if token not in TOKENS:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {TOKENS[token]}")


async def login_without_origin_check(websocket: WebSocket):
    await websocket.accept()
    token = websocket.query.get("token", [None])[0] or websocket.cookies.get("session")
    if token is None:
        try:
            token = (await asyncio.wait_for(websocket.receive_json(), 1)).get("token")
        except TimeoutError:
            await websocket.close(4001, "log in first")
            return
    if token not in TOKENS:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {TOKENS[token]}")


async def login_refuses_every_origin_header(websocket: WebSocket):
    if websocket.headers.get_first(b"origin") is not None:
        await websocket.close()
        return
    await login_without_origin_check(websocket)


async def login_checks_origin_after_accept(websocket: WebSocket):
    origin = websocket.headers.get_first(b"origin")
    if origin not in (None, b"http://localhost:8888"):
        await websocket.accept()
        await websocket.close(4003, "wrong origin")
        return
    await login_without_origin_check(websocket)


async def login_reads_an_authorization_header(websocket: WebSocket):
    await websocket.accept()
    header = websocket.headers.get_first(b"authorization") or b""
    user = TOKENS.get(header.decode().removeprefix("Bearer "))
    if user is None:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {user}")


def test_describe_login_gives_the_tokens_and_the_trusted_origin() -> None:
    text = describe("login")
    assert "t-ada" in text and "http://localhost:8888" in text and "4001" in text


def test_a_token_read_only_from_the_query_is_told_about_the_cookie() -> None:
    line = first_failure(check("login", login_query_only))
    assert line.startswith("✗ a token in the cookie: 'welcome bob'")
    assert "got a close 4001" in line
    assert 'websocket.cookies.get("session")' in line


def test_refusing_a_wrong_token_is_told_to_accept_then_close() -> None:
    line = first_failure(check("login", login_refuses_wrong_tokens))
    assert "client connects to /private?token=nope" in line
    assert "got the handshake refused (HTTP 403)" in line
    assert "a refused handshake would tell a browser nothing" in line


def test_waiting_for_ever_for_the_first_message_is_caught() -> None:
    line = first_failure(check("login", login_waits_for_ever, timeout=1.5))
    assert line.startswith("✗ no token and no message within 1 s: a close 4001")
    assert "got nothing within 1.5 s" in line
    assert "asyncio.wait_for(..., 1)" in line


def test_no_origin_check_is_told_about_cross_site_websocket_hijacking() -> None:
    line = first_failure(check("login", login_without_origin_check))
    assert line.startswith("✗ a page of https://evil.example, with bob's cookie")
    assert "got the connection accepted" in line
    assert "cross-site WebSocket hijacking" in line
    assert 'websocket.headers.get_first(b"origin")' in line


def test_refusing_every_origin_locks_out_the_trusted_page() -> None:
    line = first_failure(check("login", login_refuses_every_origin_header))
    assert "with Origin: http://localhost:8888 and Cookie: session=t-bob" in line
    assert "got the handshake refused (HTTP 403)" in line
    assert "refuse only an Origin that is there and is another" in line


def test_an_origin_checked_after_accept_is_not_a_refusal() -> None:
    line = first_failure(check("login", login_checks_origin_after_accept))
    assert "expected the handshake refused (HTTP 403), got the connection accepted" in line
    assert "Before accept()" in line


def test_an_authorization_header_is_what_a_browser_cannot_send() -> None:
    line = first_failure(check("login", login_reads_an_authorization_header))
    assert line.startswith("✗ a token in the query: 'welcome ada'")
    assert 'websocket.query.get("token", [None])[0]' in line


# --- 07 feed --------------------------------------------------------------------------------
everyone: set[WebSocket] = set()


async def feed_unguarded(websocket: WebSocket):
    await websocket.accept()
    everyone.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for peer in list(everyone):
                await peer.send_text(text)  # waits for ever on a client that stopped reading
    except WebSocketDisconnectError:
        pass
    finally:
        everyone.discard(websocket)


members: set[WebSocket] = set()


async def feed_never_forgets(websocket: WebSocket):
    await websocket.accept()
    members.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > 65_536:
                await websocket.close(1009, "too big")
                return
            for peer in list(members):
                try:
                    await asyncio.wait_for(peer.send_text(text), 1)
                except TimeoutError:
                    await peer.close(1008, "too slow")  # ... but stays in members
    except WebSocketDisconnectError:
        pass


listeners: set[WebSocket] = set()


async def feed_without_a_size_limit(websocket: WebSocket):
    await websocket.accept()
    listeners.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for peer in list(listeners):
                try:
                    await asyncio.wait_for(peer.send_text(text), 1)
                except TimeoutError:
                    listeners.discard(peer)
                    await peer.close(1008, "too slow")
    except WebSocketDisconnectError:
        pass
    finally:
        listeners.discard(websocket)


async def feed_echo_only(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())


readers: set[WebSocket] = set()


async def feed_closes_slow_clients_with_1011(websocket: WebSocket):
    await websocket.accept()
    readers.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > 65_536:
                await websocket.close(1009, "too big")
                return
            for peer in list(readers):
                try:
                    await asyncio.wait_for(peer.send_text(text), 1)
                except TimeoutError:
                    readers.discard(peer)
                    await peer.close(1011, "too slow")
    except WebSocketDisconnectError:
        pass
    finally:
        readers.discard(websocket)


def test_describe_feed_names_the_limits() -> None:
    text = describe("feed")
    assert "1 second" in text and "1008" in text and "1009" in text and "64 KiB" in text


def test_an_echo_is_told_to_send_to_everyone() -> None:
    line = first_failure(check("feed", feed_echo_only, timeout=1))
    assert line.startswith("✗ alice says 'hello': carol, alice and bob receive it")
    assert "Keep the connected clients in a set" in line


def test_one_slow_client_holding_up_everyone_is_caught() -> None:
    report = check("feed", feed_unguarded, timeout=1)
    line = first_failure(report)
    # Which step fails first depends on where carol is in the handler's set: before the
    # others (nobody gets the text) or after them (she is never closed). Same advice.
    assert line.startswith(
        ("✗ carol stops reading; bob says 'still there?'", "✗ carol is closed with 1008")
    )
    assert "got nothing within 1 s" in line
    assert "asyncio.wait_for(peer.send_text(text), 1)" in line
    assert "✓ alice says 'hello': carol, alice and bob receive it" in str(report)


def test_a_slow_client_closed_but_not_forgotten_is_caught() -> None:
    line = first_failure(check("feed", feed_never_forgets))
    assert line.startswith(("✗ alice says 'after carol'", "✗ alice says 'and again'"))
    assert "InvalidWebSocketStateError" in line
    assert "remove her from the set" in line


def test_a_text_over_the_limit_is_caught() -> None:
    line = first_failure(check("feed", feed_without_a_size_limit))
    assert "bob sends 70,000 characters: bob is closed with 1009" in line
    assert "len(text.encode()) > 65536" in line


def test_a_slow_client_closed_with_the_wrong_code_is_caught() -> None:
    line = first_failure(check("feed", feed_closes_slow_clients_with_1011))
    assert "expected a close 1008 (Policy Violation), got a close 1011" in line
