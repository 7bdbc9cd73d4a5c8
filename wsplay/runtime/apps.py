"""What the playground can read of any ASGI app it serves (wsplay's, BlackSheep's, Starlette's)."""

from __future__ import annotations

from typing import Any

from ..framework import Router


def route_patterns(app: Any) -> list[str]:
    """The WebSocket route patterns of a wsplay, BlackSheep or Starlette app (else [])."""
    router = getattr(app, "router", None)
    if isinstance(router, Router):
        return [route.pattern.text for route in router]
    blacksheep_routes = getattr(getattr(router, "routes", None), "get", None)
    if blacksheep_routes is not None:
        return [route.pattern.decode() for route in blacksheep_routes(b"GET_WS", [])]
    return [
        route.path
        for route in getattr(app, "routes", []) or []
        if type(route).__name__ == "WebSocketRoute"
    ]
