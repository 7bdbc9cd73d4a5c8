"""What the playground can read of any ASGI app it serves: its routes, whichever framework
made it (wsplay, FastAPI, Starlette, BlackSheep), and a name for it in messages.

Routes are listed in the order the app matches them, with the prefixes of included routers
and mounts joined, so ``/v1/chat/{room}`` reads as a client must write it:

    route_table(app)     # [AppRoute('/v1/chat/{room}', 'websocket', 'fastapi', 'room'), ...]
    route_patterns(app)  # ['/v1/chat/{room}']: the WebSocket ones, as ``pg.routes`` lists
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ...framework import Router

WEBSOCKET = "websocket"
HTTP = "http"
MOUNT = "mount"  # an app mounted at a prefix whose own routes cannot be read


@dataclass(frozen=True)
class AppRoute:
    """One route of an app: its full path, what it serves, and which framework made it."""

    path: str
    kind: str  # WEBSOCKET, HTTP or MOUNT
    framework: str  # "wsplay", "fastapi", "starlette", "blacksheep", or a module's name
    name: str | None = None  # the handler's (or the route's) name
    methods: tuple[str, ...] = ()  # an HTTP route's methods

    @property
    def is_websocket(self) -> bool:
        return self.kind == WEBSOCKET

    def __str__(self) -> str:
        if self.kind == WEBSOCKET:
            what = "WebSocket"
        elif self.kind == HTTP:
            what = "HTTP " + ",".join(self.methods) if self.methods else "HTTP"
        else:
            what = "mounted app"
        return f"{what:<16} {self.path}" + (f"  ({self.name})" if self.name else "")


class RouteContainer(NamedTuple):
    """One live list of Starlette-family routes (an app's, an included router's, a mount's),
    with the prefix its paths are served under and the router that holds it."""

    routes: list[Any]
    prefix: str
    owner: Any
    where: str  # in words, for notices: "the app's routes", "the app mounted at /sub"
    parent: RouteContainer | None = None  # the list it is included or mounted in
    entry: Any = None  # its entry in the parent's list (FastAPI's include, or a Mount)

    def changed(self) -> None:
        """Tell the owner its list changed (FastAPI caches what included routers serve)."""
        mark = getattr(self.owner, "_mark_routes_changed", None)
        if callable(mark):
            mark()


class FoundRoute(NamedTuple):
    """A route met walking a Starlette-family app, with its full path and its list."""

    route: Any
    path: str
    within: RouteContainer


def route_table(app: Any) -> list[AppRoute]:
    """Every route of ``app`` (wsplay, FastAPI, Starlette or BlackSheep; else [])."""
    router = getattr(app, "router", None)
    if isinstance(router, Router):
        return [
            AppRoute(route.pattern.text, WEBSOCKET, "wsplay", route.name or _name(route.handler))
            for route in router
        ]
    if _framework(app) == "blacksheep":
        return _blacksheep_routes(app)
    table: list[AppRoute] = []
    listed: set[tuple[int, str]] = set()  # a router included twice serves its routes once
    for found in starlette_routes(app):
        if (id(found.route), found.path) in listed:
            continue
        listed.add((id(found.route), found.path))
        if _is_mount(found.route):  # an app with routes of another kind (wsplay, BlackSheep)
            inner = route_table(found.route.app)
            table += [_prefixed(route, found.path) for route in inner] or [
                AppRoute(found.path, MOUNT, _framework(found.route.app), found.route.name)
            ]
        else:
            table.append(_described(found))
    return table


def route_patterns(app: Any) -> list[str]:
    """The WebSocket route patterns of ``app``, in the order it matches them."""
    return [route.path for route in route_table(app) if route.is_websocket]


def describe_app(app: Any) -> str:
    """The app in words for a message: "the FastAPI app `app`" (its name in the notebook)."""
    kind = {"fastapi": "FastAPI", "starlette": "Starlette", "blacksheep": "BlackSheep"}
    framework = _framework(app)
    what = kind.get(framework, framework)
    main = sys.modules.get("__main__")
    for name, value in list(vars(main).items()) if main is not None else ():
        if value is app and not name.startswith("_"):
            return f"the {what} app `{name}`"
    return f"a {what} app"


def is_websocket_route(route: Any) -> bool:
    """Starlette's ``WebSocketRoute`` or a subclass (FastAPI's ``APIWebSocketRoute``)."""
    routing = sys.modules.get("starlette.routing")  # not imported: no Starlette app exists
    return routing is not None and isinstance(route, routing.WebSocketRoute)


def route_shape(path: str) -> str:
    """Two paths with one shape match the same URLs: parameter names do not count.

    >>> route_shape("/items/{item_id:int}") == route_shape("/items/{id:int}")
    True
    """
    return _PARAMETER.sub(lambda match: "{:" + (match["convertor"] or "str") + "}", path)


_PARAMETER = re.compile(r"\{[^{}:]+(?::(?P<convertor>[^{}]+))?\}")


# --- Starlette and FastAPI ---------------------------------------------------------------
def starlette_route_lists(app: Any) -> Iterator[RouteContainer]:
    """Each live route list of a Starlette or FastAPI app, the app's own first."""
    walked = _walk(app, "", "the app's routes")
    return (item for item in walked if isinstance(item, RouteContainer))


def starlette_routes(app: Any) -> Iterator[FoundRoute]:
    """Each route of a Starlette or FastAPI app in match order, includes and mounts opened."""
    walked = _walk(app, "", "the app's routes")
    return (item for item in walked if isinstance(item, FoundRoute))


def route_key(found: FoundRoute) -> tuple[str, str, tuple[str, ...]]:
    """What a route answers: its kind, its path's shape, its methods. Two routes with one
    key answer the same requests."""
    route = found.route
    kind = WEBSOCKET if is_websocket_route(route) else type(route).__name__
    return kind, route_shape(found.path), tuple(sorted(getattr(route, "methods", None) or ()))


def _walk(
    owner: Any, prefix: str, where: str, parent: RouteContainer | None = None, entry: Any = None
) -> Iterator[RouteContainer | FoundRoute]:
    """Each list met (before its routes), and each route, depth first in match order.
    A list already being walked is not walked again inside itself (a router that includes
    itself: FastAPI refuses it, a hand-made one may not)."""
    routes = getattr(owner, "routes", None)
    if not isinstance(routes, list) or any(routes is up.routes for up in _ancestry(parent)):
        return
    within = RouteContainer(routes, prefix, getattr(owner, "router", owner), where, parent, entry)
    yield within
    for route in list(routes):
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            nested = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            words = f"the router included with prefix {nested!r}" if nested else "a router"
            yield from _walk(included, nested, words, within, route)
        elif _is_mount(route):
            mounted = prefix + route.path
            inner = getattr(route, "_base_app", route.app)
            if isinstance(getattr(inner, "routes", None), list):
                words = f"the app mounted at {mounted!r}"
                yield from _walk(inner, mounted, words, within, route)
            else:
                yield FoundRoute(route, mounted, within)
        elif hasattr(route, "path"):
            yield FoundRoute(route, prefix + route.path, within)


def _ancestry(container: RouteContainer | None) -> Iterator[RouteContainer]:
    while container is not None:
        yield container
        container = container.parent


def _is_mount(route: Any) -> bool:
    routing = sys.modules.get("starlette.routing")
    return routing is not None and isinstance(route, routing.Mount)


def _prefixed(route: AppRoute, prefix: str) -> AppRoute:
    return dataclasses.replace(route, path=prefix + route.path)


def _described(found: FoundRoute) -> AppRoute:
    route = found.route
    framework = _framework(found.within.owner)  # FastAPI's /docs is a Starlette Route
    name = getattr(route, "name", None)
    if is_websocket_route(route):
        return AppRoute(found.path, WEBSOCKET, framework, name)
    methods = tuple(sorted(getattr(route, "methods", None) or ()))
    return AppRoute(found.path, HTTP, framework, name, methods)


# --- BlackSheep --------------------------------------------------------------------------
def _blacksheep_routes(app: Any) -> list[AppRoute]:
    """Before its first request a BlackSheep router holds what was registered (its
    ``registered_routes``); starting the app sorts them into ``routes`` by method."""
    found = []
    for router in _blacksheep_routers(app.router):
        registered = [(method, route) for method, route in router.registered_routes]
        built = [(method.decode(), route) for method, routes in router.routes.items()
                 for route in routes]  # fmt: skip
        for method, route in built + registered:
            path = route.pattern.decode()
            if method == "GET_WS":
                found.append(AppRoute(path, WEBSOCKET, "blacksheep", _name(route.handler)))
            else:
                found.append(AppRoute(path, HTTP, "blacksheep", _name(route.handler), (method,)))
    return found


def _blacksheep_routers(router: Any) -> Iterator[Any]:
    yield router
    for sub_router in getattr(router, "_sub_routers", None) or ():
        yield from _blacksheep_routers(sub_router)


# --- words -------------------------------------------------------------------------------
def _framework(thing: Any) -> str:
    module = type(thing).__module__ or ""
    return module.split(".")[0]


def _name(handler: Any) -> str | None:
    return getattr(handler, "__name__", None)
