"""The panel's routes, each a button that puts a path it matches in a client's path box.

A route pattern is not a path: ``/chat/{user}`` sent as it is gives the handler the text
``{user}``. So a click on a route fills the client's path box with an example path
(``/chat/alice``), and the page selects the example value, ready to type over (selecting
text in a box is the browser's business: ipywidgets cannot do it from Python).

    routes = RouteList(on_pick=lambda path, client: ...)
    routes.show(["/echo", "/chat/{user}"])     # from the panel's refresher
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..framework.routing import example_path

HERE = Path(__file__).parent


def route_rows(patterns: list[str]) -> list[dict[str, Any]]:
    """What the page draws for each route: the pattern, an example path, and the span of
    the example value in it (None for a route without parameters)."""
    rows = []
    for pattern in patterns:
        path, span = example_path(pattern)
        rows.append({"pattern": pattern, "path": path, "select": list(span) if span else None})
    return rows


class RouteList(anywidget.AnyWidget):
    """The routes as buttons; a click asks the kernel to fill a client's path box."""

    _esm = HERE / "route_list.js"
    _css = HERE / "route_list.css"
    routes = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, on_pick: Callable[[str, int], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_pick = on_pick
        self.on_msg(self._on_page_message)

    def show(self, patterns: list[str]) -> None:
        rows = route_rows(patterns)
        if rows != self.routes:
            self.routes = rows

    def pick(self, index: int, client: int = 0) -> str | None:
        """Put route ``index``'s example path in client ``client``'s path box (a click in
        the page does this); the path, or None if that route is gone."""
        routes = self.routes
        if not 0 <= index < len(routes):
            return None
        path = routes[index]["path"]
        self._on_pick(path, client)
        return path

    def _on_page_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "pick":
            self.pick(int(content.get("index", -1)), int(content.get("client", 0)))
