"""Which framework a handler function was written for, and that framework's app around it.

A learner who knows FastAPI writes ``async def private(websocket: WebSocket, token: str)``
with FastAPI's ``WebSocket`` (Starlette's class): served by wsplay, it would find no
``websocket.query_params`` and fail for a reason that is not theirs. So ``check`` serves a
handler on the framework it was written for: FastAPI when it uses FastAPI (its names in the
handler's module, ``Depends``/``Query`` parameters, or parameters that FastAPI fills from
the route and the query string), Starlette when only Starlette's ``WebSocket`` shows, and
wsplay otherwise. FastAPI and Starlette stay optional: they are imported only here, and only
for a handler written for them.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

WSPLAY, STARLETTE, FASTAPI = "wsplay", "Starlette", "FastAPI"
_PACKAGES = {STARLETTE: "starlette", FASTAPI: "fastapi"}


def framework_of(solution: Any) -> str:
    """``FASTAPI``, ``STARLETTE`` or ``WSPLAY``: what ``solution`` (a handler function or
    an app) was written for. A BlackSheep app speaks wsplay's words."""
    if inspect.isfunction(solution) or inspect.ismethod(solution):
        return _handler_framework(solution)
    package = _package(type(solution).__module__)
    return {"fastapi": FASTAPI, "starlette": STARLETTE}.get(package, WSPLAY)


def _handler_framework(handler: Callable[..., Any]) -> str:
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return WSPLAY
    if any(_package(_module_of(part)) == "fastapi" for part in _fastapi_markers(parameters)):
        return FASTAPI
    first = _annotation(handler, parameters[0]) if parameters else None
    if _package(_module_of(first)) not in ("starlette", "fastapi"):
        return WSPLAY
    if len(parameters) > 1 or _uses_fastapi(handler):
        return FASTAPI  # only FastAPI fills parameters from the route and the query string
    return STARLETTE


def app_for(handler: Callable[..., Any], pattern: str, framework: str) -> Any:
    """A small app of ``framework`` serving ``handler`` on ``pattern``.

    Raises ImportError (with the install line) when that framework is not installed.
    """
    try:
        if framework == FASTAPI:
            from fastapi import FastAPI

            app = FastAPI()
            app.add_api_websocket_route(pattern, handler)
            return app
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute

        return Starlette(routes=[WebSocketRoute(pattern, handler)])
    except ImportError:
        package = _PACKAGES[framework]
        raise ImportError(
            f"Your handler is written for {framework}, which is not installed here: run "
            f"`%pip install {package}` in a cell, then this check again."
        ) from None


def endpoint_of(app: Any, pattern: str) -> Callable[..., Any] | None:
    """The handler a FastAPI or Starlette ``app`` serves on ``pattern``, if it has one."""
    for route in getattr(app, "routes", ()):
        if getattr(route, "path", None) == pattern and callable(getattr(route, "endpoint", None)):
            return route.endpoint
    return None


def app_file_source(framework: str, module: str, handler: str, pattern: str) -> str:
    """An app file for ``framework`` serving ``handler`` of ``module`` on ``pattern``: the
    file form of ``app_for``, for worker processes (``module`` and ``handler`` are names,
    the pattern goes in as a literal)."""
    if framework == FASTAPI:
        head = "from fastapi import FastAPI"
        app = f"app = FastAPI()\napp.add_api_websocket_route({pattern!r}, {handler})"
    else:
        head = (
            "from starlette.applications import Starlette\n"
            "from starlette.routing import WebSocketRoute"
        )
        app = f"app = Starlette(routes=[WebSocketRoute({pattern!r}, {handler})])"
    return (
        f'"""{framework} serving {handler} (written to {module}.py by wsplay) on {pattern}."""'
        f"\n\n{head}\nfrom {module} import {handler}\n\n{app}\n"
    )


def _fastapi_markers(parameters: list[inspect.Parameter]) -> list[Any]:
    """The defaults (``Depends(...)``, ``Query(...)``) and ``Annotated`` metadata of the
    parameters: FastAPI's own objects, where a handler uses them."""
    found = [parameter.default for parameter in parameters]
    for parameter in parameters:
        if typing.get_origin(parameter.annotation) is typing.Annotated:
            found.extend(parameter.annotation.__metadata__)
    return found


def _annotation(handler: Callable[..., Any], parameter: inspect.Parameter) -> Any:
    """The parameter's annotation as an object; a string one (``from __future__ import
    annotations``) is looked up in the handler's module, never evaluated."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        return annotation
    head, *rest = annotation.strip().split(".")
    value = getattr(handler, "__globals__", {}).get(head)
    for name in rest:
        value = getattr(value, name, None)
    return value


def _uses_fastapi(handler: Callable[..., Any]) -> bool:
    """Whether the handler's module (a notebook's namespace) holds something of FastAPI's:
    ``FastAPI``, an app, ``Depends``, the ``fastapi`` module."""
    namespace = getattr(handler, "__globals__", {})
    return any(_package(_module_of(value)) == "fastapi" for value in list(namespace.values()))


def _module_of(value: Any) -> str:
    if value is None or value is inspect.Parameter.empty:
        return ""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, type | types.FunctionType):
        return getattr(value, "__module__", "") or ""
    return type(value).__module__


def _package(module: str) -> str:
    return module.split(".")[0]
