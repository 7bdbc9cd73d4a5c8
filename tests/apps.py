"""Handlers the in-process tests share (served by the ``router`` fixture of conftest)."""

from __future__ import annotations


async def echo(websocket):
    """The echo every in-process test serves: each text message back, as it came."""
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
