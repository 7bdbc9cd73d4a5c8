"""Fixtures shared by several test modules."""

from __future__ import annotations

import contextlib

import pytest

from tests.apps import echo

# hypothesis is imported here, at a shallow stack, on purpose: when a run selects no test
# that imports it, its pytest plugin imports it first inside the terminal summary, deep in
# pytest's hooks, where CPython 3.11.7 fails to parse it ("AST constructor recursion depth
# mismatch") and the run ends in an error after every test passed. (The floors' venv runs
# the framework tests without it.)
with contextlib.suppress(ImportError):
    import hypothesis  # noqa: F401


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for a module's browser tests (tests/jupyterlab.py).

    Per module, not per session: while Playwright's sync API is running it holds an event
    loop on the main thread, and every asyncio.run() elsewhere would fail.
    """
    from tests.jupyterlab import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def router():
    """A fresh wsplay Router with the echo on /echo (add more routes in the test)."""
    from wsplay import Router

    router = Router()
    router.add_ws("/echo", echo)
    return router
