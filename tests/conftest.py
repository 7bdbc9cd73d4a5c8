"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test (tests/jupyterlab.py)."""
    from tests.jupyterlab import chromium

    with chromium() as launched:
        yield launched
