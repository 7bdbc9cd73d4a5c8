"""Every code sample of BlackSheep's WebSocket page runs on wsplay with only its import changed.

Each sample is written to a module file exactly as the docs show it (``blacksheep`` replaced
by ``wsplay``), served by uvicorn, hypercorn and granian on 127.0.0.1, and driven by the
real ``websockets`` client.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.servers import SERVERS, serve_granian, serve_hypercorn, serve_uvicorn
from wsplay.framework.routing import default_router

TIMEOUT = 5
PREAMBLE = "from wsplay import Application, WebSocket, ws\n\napp = Application()\n\n"

SAMPLES: dict[str, str] = {
    "ws-decorator": dedent("""
        from wsplay import Application, WebSocket, ws

        app = Application()


        @ws("/ws/{client_id}")
        async def ws_handler(websocket: WebSocket, client_id: str):
            ...
    """),
    "add-ws": dedent("""
        from wsplay import Application, WebSocket

        app = Application()


        async def ws_handler(websocket: WebSocket, client_id: str):
            ...


        app.router.add_ws("/ws/{client_id}", ws_handler)
    """),
    "accept": PREAMBLE
    + dedent("""
        @ws("/ws")
        async def ws_handler(websocket: WebSocket):
            # Parameters are optional.
            await websocket.accept(
                headers=[(b"x-custom-header", b"custom-value")],
                subprotocol="custom-protocol"
            )
    """),
    "echo-text": PREAMBLE
    + dedent("""
        @ws("/ws")
        async def echo(websocket: WebSocket):
            await websocket.accept()

            while True:
                msg = await websocket.receive_text()
                # "Hello world!"
                await websocket.send_text(msg)
    """),
    "echo-bytes": PREAMBLE
    + dedent("""
        @ws("/ws")
        async def echo(websocket: WebSocket):
            await websocket.accept()

            while True:
                msg = await websocket.receive_bytes()
                # b"Hello world"
                await websocket.send_bytes(msg)
    """),
    "echo-json": PREAMBLE
    + dedent("""
        @ws("/ws")
        async def echo(websocket: WebSocket):
            await websocket.accept()

            while True:
                msg = await websocket.receive_json()
                # {'msg': 'Hello world!'}
                await websocket.send_json(msg)
    """),
    "disconnect": dedent("""
        from wsplay import Application, WebSocket, WebSocketDisconnectError, ws

        app = Application()


        @ws("/ws")
        async def echo(websocket: WebSocket):
            await websocket.accept()

            try:
                while True:
                    msg = await websocket.receive_text()
                    await websocket.send_text(msg)
            except WebSocketDisconnectError:
                ... # Handle the disconnect.
    """),
}


def check_refused(url: str) -> None:
    # The handler's body is `...`: it never accepts, so the handshake is refused.
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{url}/ws/abc", open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


def check_accept(url: str, server: str) -> None:
    with connect(f"{url}/ws", subprotocols=["custom-protocol"], open_timeout=TIMEOUT) as client:
        assert client.subprotocol == "custom-protocol"
        # granian 2.x does not send the headers of ASGI's websocket.accept message (a server
        # limitation, same for every framework); uvicorn and hypercorn do.
        expected = None if server == "granian" else "custom-value"
        assert client.response.headers.get("x-custom-header") == expected


def _round_trip(url: str, message: str | bytes, expected: str | bytes) -> None:
    with connect(f"{url}/ws", open_timeout=TIMEOUT, close_timeout=TIMEOUT) as client:
        for _ in range(3):
            client.send(message)
            assert client.recv(timeout=TIMEOUT) == expected


CHECKS: dict[str, Callable[[str, str], None]] = {
    "ws-decorator": lambda url, _: check_refused(url),
    "add-ws": lambda url, _: check_refused(url),
    "accept": check_accept,
    "echo-text": lambda url, _: _round_trip(url, "Hello world!", "Hello world!"),
    "echo-bytes": lambda url, _: _round_trip(url, b"Hello world", b"Hello world"),
    "echo-json": lambda url, _: _round_trip(
        url, json.dumps({"msg": "Hello world!"}), '{"msg":"Hello world!"}'
    ),
    "disconnect": lambda url, _: _round_trip(url, "Hello world!", "Hello world!"),
}


@pytest.fixture
def sample_module(request: pytest.FixtureRequest, tmp_path: Path):
    """Write the sample to ``sample.py`` and import it (on a clean default router)."""
    sample = request.param
    (tmp_path / "sample.py").write_text(SAMPLES[sample])
    default_router.clear()
    spec = importlib.util.spec_from_file_location(f"seed_sample_{sample}", tmp_path / "sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield sample, module, tmp_path
    default_router.clear()
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("sample_module", list(SAMPLES), indirect=True)
def test_seed_sample_runs(sample_module, server: str, caplog: pytest.LogCaptureFixture) -> None:
    sample, module, folder = sample_module
    caplog.set_level(logging.WARNING, logger="wsplay")
    if server == "uvicorn":
        context = serve_uvicorn(module.app)
    elif server == "hypercorn":
        context = serve_hypercorn(module.app)
    else:
        context = serve_granian("sample:app", folder)
    with context as url:
        CHECKS[sample](url, server)
    # A client that leaves is normal: no sample's handler logs an error for it.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
