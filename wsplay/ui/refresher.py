"""One thread that redraws every live panel, at most ~20 times a second.

A panel's views are redrawn from here rather than on every message: a flood of ten
thousand messages costs the front end twenty redraws a second, not ten thousand updates.
The thread ends when the last panel closes, and starts again with the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

logger = logging.getLogger("wsplay")

REFRESH_INTERVAL = 0.05  # seconds: at most ~20 redraws a second


class Redrawn(Protocol):
    """What the refresher redraws (a Panel)."""

    def refresh(self) -> None: ...


class Refresher:
    """One thread that redraws every live panel; it ends when the last panel closes."""

    def __init__(self) -> None:
        self._panels: list[Redrawn] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, panel: Redrawn) -> None:
        with self._lock:
            self._panels.append(panel)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="wsplay-panel-refresher"
                )
                self._thread.start()

    def remove(self, panel: Redrawn) -> None:
        with self._lock:
            if panel in self._panels:
                self._panels.remove(panel)

    def _run(self) -> None:
        while True:
            time.sleep(REFRESH_INTERVAL)
            with self._lock:
                panels = list(self._panels)
                if not panels:
                    self._thread = None
                    return
            for panel in panels:
                try:
                    panel.refresh()
                except Exception:
                    logger.debug("The panel could not redraw", exc_info=True)


refresher = Refresher()  # the one every panel shares
