"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for a module's browser tests (tests/jupyterlab.py).

    Per module, not per session: while Playwright's sync API is running it holds an event
    loop on the main thread, and every asyncio.run() elsewhere would fail.
    """
    from tests.jupyterlab import chromium

    with chromium() as launched:
        yield launched
