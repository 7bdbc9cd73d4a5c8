"""Re-running a cell that registers a WebSocket path on a FastAPI or Starlette app.

``@app.websocket("/hello")`` run twice appends a second route for ``/hello``, and the app
keeps serving the first one: the cell's new code is never live. wsplay's own ``@ws``
replaces the route instead, and learners expect that of every framework. So the playground
keeps the served app's WebSocket routes one per shape (parameter names aside): the newest
takes the place of the oldest, as re-defining a function does.

That is safe within one route list. Across lists it is safe in one case: the same router
(or app) included (or mounted) again at the same place, the cell that builds it re-run: the
newer copy has every route of the older, so the older copy is dropped whole. Otherwise
(the app's own route and an included router's, say) which one the learner meant to replace
cannot be told: a notice names both and the fix instead.

The check runs as each WebSocket connection arrives (so it works in a plain script too),
and costs one walk over the route lists when nothing changed. In IPython it also runs after
each cell, so the notice lands under the cell that registered the path again.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from .routes import (
    FoundRoute,
    RouteContainer,
    is_websocket_route,
    route_key,
    route_shape,
    starlette_route_lists,
    starlette_routes,
)

logger = logging.getLogger("wsplay")

Notice = Callable[[str, str], None]  # (kind, text): said in the notebook, on the timeline


class Redefinitions:
    """Keeps the WebSocket routes of one Starlette or FastAPI app one per path."""

    def __init__(self, app: Any, name: str, notice: Notice) -> None:
        self.app = app
        self.name = name  # the app in words, for the notices
        self._notice = notice
        self._signature: tuple[tuple[int, int], ...] | None = None
        self._said: set[str] = set()
        self._lock = threading.Lock()
        # Only Starlette-family apps keep their routes in a list (wsplay's replace a route
        # re-registered; BlackSheep refuses one): others need no check.
        self._applies = isinstance(getattr(app, "routes", None), list)
        self._shell: Any = None  # IPython's, while its cells are watched

    def watch_cells(self) -> None:
        """In IPython, check after each cell too (until ``stop_watching``)."""
        ipython = sys.modules.get("IPython")  # only if it is already there: no Jupyter import
        shell = ipython.get_ipython() if ipython is not None else None
        if shell is not None and self._applies and self._shell is None:
            shell.events.register("post_run_cell", self._after_cell)
            self._shell = shell

    def stop_watching(self) -> None:
        shell, self._shell = self._shell, None
        if shell is not None and self._after_cell in shell.events.callbacks["post_run_cell"]:
            shell.events.unregister("post_run_cell", self._after_cell)

    def _after_cell(self, result: Any = None) -> None:
        try:
            self.check()
        except Exception:  # a hook that raises would print under every cell from now on
            logger.exception("Checking the served app's routes after a cell failed")

    def check(self) -> None:
        """De-duplicate the routes if any route list changed since the last check."""
        if not self._applies or self._signature == self._current_signature():
            return
        with self._lock:
            self._deduplicate()
            self._signature = self._current_signature()

    def _current_signature(self) -> tuple[tuple[int, int], ...]:
        lists = starlette_route_lists(self.app)
        return tuple((id(found.routes), len(found.routes)) for found in lists)

    def _deduplicate(self) -> None:
        by_shape: dict[str, list[FoundRoute]] = {}
        for found in starlette_routes(self.app):
            if not is_websocket_route(found.route):
                continue
            same_shape = by_shape.setdefault(route_shape(found.path), [])
            if all(found.route is not other.route for other in same_shape):
                same_shape.append(found)  # a router included twice: one route, met twice
        for shape, founds in by_shape.items():
            if len(founds) < 2:
                continue
            if len({id(found.within.routes) for found in founds}) == 1:
                self._replace(founds)
                removed = f"the older route from {founds[-1].within.where}"
                self._say_once(f"{shape} replaced", _replaced_words(self.name, founds, removed))
            elif all(_superseded(found.within, founds[-1].within) for found in founds[:-1]):
                for found in founds[:-1]:
                    _drop(found.within)
                removed = f"the older copy of {founds[-1].within.where}, whose routes it has too"
                self._say_once(f"{shape} replaced", _replaced_words(self.name, founds, removed))
            else:
                self._say_once(f"{shape} ambiguous", _ambiguous_words(self.name, founds))

    @staticmethod
    def _replace(founds: list[FoundRoute]) -> None:
        """The newest route takes the place of the oldest; the others leave the list."""
        routes = founds[0].within.routes
        first = _index(routes, founds[0].route, start=0)
        if first is None:
            return  # the list changed under us (a cell running now): the next check fixes it
        newest = founds[-1].route
        routes[first] = newest
        for found in founds[1:]:
            index = _index(routes, found.route, start=first + 1)
            if index is not None:
                del routes[index]
        founds[0].within.changed()

    def _say_once(self, what: str, text: str) -> None:
        """Each kind of news about a path is said once (a cell re-run ten times is not ten
        notices); its own notice kind, so no other notice's rate holds it back."""
        if what not in self._said:
            self._said.add(what)
            self._notice(f"route {what}", text)


def _superseded(older: RouteContainer, newer: RouteContainer) -> bool:
    """Whether ``older`` is an earlier include (or mount) of what ``newer`` is, in the same
    list at the same prefix, and ``newer`` answers everything ``older`` did."""
    if older.parent is None or newer.parent is None or older.entry is newer.entry:
        return False
    if older.parent.routes is not newer.parent.routes or older.prefix != newer.prefix:
        return False
    newer_keys = {route_key(found) for found in starlette_routes(newer.owner)}
    return all(route_key(found) in newer_keys for found in starlette_routes(older.owner))


def _drop(container: RouteContainer) -> None:
    """Take ``container``'s include (or mount) out of the list that holds it."""
    assert container.parent is not None
    index = _index(container.parent.routes, container.entry, start=0)
    if index is not None:
        del container.parent.routes[index]
        container.parent.changed()


def _index(routes: list[Any], route: Any, start: int) -> int | None:
    """Where ``route`` itself is (Starlette's routes compare equal by path and endpoint)."""
    for index in range(start, len(routes)):
        if routes[index] is route:
            return index
    return None


def _handler(found: FoundRoute) -> str:
    return getattr(found.route, "name", None) or "?"


def _replaced_words(app: str, founds: list[FoundRoute], removed: str) -> str:
    newest, path = founds[-1], founds[-1].path
    return (
        f"{path} was registered again on {app}: its newest handler ({_handler(newest)}) "
        f"serves it from now on. The framework alone would keep serving the first one, so "
        f"wsplay removed {removed}, as re-running a @ws cell replaces its route."
    )


def _ambiguous_words(app: str, founds: list[FoundRoute]) -> str:
    places = " and ".join(f"{found.within.where} ({_handler(found)})" for found in founds)
    return (
        f"{founds[0].path} is registered more than once on {app}: in {places}. Only the "
        f"first one ({_handler(founds[0])}) is ever served, and wsplay cannot tell which one "
        "you meant to replace. Keep one: re-run the cell that creates the app, then the "
        "cells that add its routes (or remove the older route from its router)."
    )
