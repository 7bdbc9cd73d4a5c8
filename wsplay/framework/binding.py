"""From a handler's signature to its arguments, decided once when the route is registered.

As in BlackSheep: the ``WebSocket`` goes to the parameter named ``websocket`` (or
``request``) or annotated ``WebSocket``; route values go to parameters of the same name,
converted by their annotation; other simply-typed parameters come from the query string.

    async def item(websocket: WebSocket, item_id: int, verbose: bool = False): ...
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from .exceptions import BindingError, InvalidRouteError

if typing.TYPE_CHECKING:
    from .routing import RoutePattern
    from .websocket import WebSocket

logger = logging.getLogger("wsplay")
_EMPTY = inspect.Parameter.empty
_WEBSOCKET_NAMES = ("websocket", "request")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(value)


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _to_bool,
    UUID: UUID,
}


@dataclass(frozen=True)
class _Argument:
    """How to fill one parameter: from the route or the query, converted, maybe optional."""

    name: str
    source: str  # "route" or "query"
    convert: Callable[[str], Any] | None  # None: keep the raw value(s)
    type_name: str
    many: bool  # a list[...] query parameter
    required: bool
    default: Any
    renamed: tuple[str, str] = ()  # a likely rename: (the fix, what happened)

    def value(self, route_values: dict[str, str], query: dict[str, list[str]]) -> Any:
        if self.source == "route":
            return self._convert([route_values[self.name]])
        raw = query.get(self.name)
        if not raw:
            if self.renamed:
                fix, happened = self.renamed
                raise BindingError(happened, fix=fix)
            if self.required:
                raise BindingError(
                    f"Missing query parameter `{self.name}`: connect with "
                    f"'?{self.name}=...' in the URL, or give the parameter a default value."
                )
            return self.default
        return self._convert(raw)

    def _convert(self, raw: list[str]) -> Any:
        if self.convert is None:
            return raw if self.many else raw[0]
        try:
            values = [self.convert(item) for item in raw]
        except ValueError:
            where = "route" if self.source == "route" else "query"
            raise BindingError(
                f"Invalid value {raw!r} for {where} parameter `{self.name}`; expected a valid "
                f"{self.type_name}."
            ) from None
        return values if self.many else values[0]


class HandlerBinder:
    """Calls one handler with the arguments its signature asks for."""

    __slots__ = ("_arguments", "_handler", "_websocket_name")

    def __init__(
        self, handler: Callable[..., Any], websocket_name: str, arguments: list[_Argument]
    ):
        self._handler = handler
        self._websocket_name = websocket_name
        self._arguments = tuple(arguments)

    def call(self, websocket: WebSocket) -> Awaitable[Any]:
        """The handler's coroutine for this connection (raises BindingError first if a value
        is missing or does not convert)."""
        if not self._arguments:
            return self._handler(websocket)
        kwargs = {self._websocket_name: websocket}
        query = websocket.query
        for argument in self._arguments:
            kwargs[argument.name] = argument.value(websocket.route_values, query)
        return self._handler(**kwargs)


def bind_handler(handler: Callable[..., Any], pattern: RoutePattern) -> HandlerBinder:
    """Check ``handler`` can serve ``pattern`` and plan its arguments, or say what to fix."""
    name = getattr(handler, "__name__", "handler")
    example = _example(name, pattern)
    if not callable(handler):
        raise InvalidRouteError(f"A WebSocket handler must be a function, got {handler!r}.")
    if not _is_async(handler):
        raise InvalidRouteError(
            f"Write `async def` in front of {name}(): the handler for {pattern.text!r} is "
            "not `async def`, and it must await websocket.accept() and the messages. "
            f"Write:\n    {example}"
        )
    refusal = auth_refusal(handler, pattern.text, "so it cannot be registered")
    if refusal is not None:
        raise InvalidRouteError(refusal)
    signature = inspect.signature(handler)
    hints = _type_hints(handler)
    websocket_name = _find_websocket_parameter(signature, hints)
    if websocket_name is None:
        raise InvalidRouteError(
            f"Give {name}() a parameter named `websocket` (or annotated `WebSocket`): the "
            f"handler for {pattern.text!r} has no parameter for the WebSocket. E.g.:\n    "
            + example
        )
    arguments = []
    for parameter in signature.parameters.values():
        if parameter.name == websocket_name:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise InvalidRouteError(
                f"The handler {name}() for {pattern.text!r} takes *{parameter.name}: wsplay "
                "passes arguments by name, so list each route or query parameter explicitly."
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise InvalidRouteError(
                f"The handler {name}() for {pattern.text!r} has the positional-only parameter "
                f"{parameter.name!r}: remove the '/' from its signature."
            )
        arguments.append(_plan_argument(parameter, hints.get(parameter.name, _EMPTY), pattern))
    return HandlerBinder(handler, websocket_name, _renamed(name, pattern, arguments))


def _renamed(name: str, pattern: RoutePattern, arguments: list[_Argument]) -> list[_Argument]:
    """Mark the likely rename: the route gives ``{room}`` that no parameter takes, and the
    handler requires ``name``, which then can only come from the query string. That is a
    learner who renamed one side and re-ran the cell; it is said now, at registration, and
    again (as the fix) by each connection the handler cannot serve."""
    taken = {argument.name for argument in arguments}
    unused = [value for value in pattern.parameters if value not in taken]
    stray = [a for a in arguments if a.source == "query" and a.required and not a.many]
    if len(unused) != 1 or len(stray) != 1:
        return arguments
    (route_value,), (argument,) = unused, stray
    fix = (
        f"Name {name}()'s parameter `{route_value}`, as the route {pattern.text} does (or "
        f"write {{{argument.name}}} in the route)."
    )
    happened = (
        f"{name}() takes `{argument.name}`, which the route does not give, so it is looked "
        f"for in the query string (?{argument.name}=...) and a connection without one is "
        "refused."
    )
    logger.warning("%s %s", fix, happened)
    return [replace(a, renamed=(fix, happened)) if a is argument else a for a in arguments]


def auth_refusal(handler: Callable[..., Any], pattern: str, outcome: str) -> str | None:
    """Why a handler under BlackSheep's ``@auth(...)`` is not served, or None without it.

    Checked when the handler registers and again when a connection arrives: ``@auth``
    written above ``@ws`` (BlackSheep's own order) marks the handler only after the route
    registered it. ``outcome`` says what wsplay does about it, for the sentence.
    """
    if not (getattr(handler, "auth", False) is True and hasattr(handler, "auth_policy")):
        return None
    name = getattr(handler, "__name__", "handler")
    return (
        f"The handler {name}() for {pattern!r} is decorated with BlackSheep's @auth(...), "
        f"which wsplay does not enforce: it would be served to anyone, {outcome}. Remove "
        "@auth and check the credentials in the handler before `await websocket.accept()` "
        "(a token in websocket.query, or a cookie in websocket.headers), or serve it with "
        "BlackSheep and its authentication."
    )


def _is_async(handler: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(handler, "__call__", None)  # noqa: B004 - async callable objects
    return call is not None and inspect.iscoroutinefunction(call)


def _type_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler)
    except Exception:
        # A hint that cannot be resolved (e.g. a name defined later): use what is written.
        return dict(getattr(handler, "__annotations__", {}))


def _is_websocket_annotation(annotation: Any) -> bool:
    from .websocket import WebSocket

    if isinstance(annotation, str):
        return annotation.split(".")[-1] == "WebSocket"
    return isinstance(annotation, type) and issubclass(annotation, WebSocket)


def _find_websocket_parameter(signature: inspect.Signature, hints: dict[str, Any]) -> str | None:
    for parameter in signature.parameters.values():
        if _is_websocket_annotation(hints.get(parameter.name)):
            return parameter.name
    for parameter in signature.parameters.values():
        if parameter.name in _WEBSOCKET_NAMES:
            return parameter.name
    return None


def _plan_argument(parameter: inspect.Parameter, annotation: Any, pattern: RoutePattern):
    has_default = parameter.default is not _EMPTY
    source = "route" if parameter.name in pattern.parameters else "query"
    if annotation is _EMPTY:
        # BlackSheep's rule: untyped route values are str, untyped query values list[str].
        many = source == "query"
        return _Argument(
            parameter.name,
            source,
            None,
            "str",
            many,
            False,
            parameter.default if has_default else None,
        )
    _refuse_blacksheep_binder(parameter.name, annotation)
    inner, optional = _unwrap_optional(annotation)
    many = False
    if typing.get_origin(inner) in (list, tuple, set) and source == "query":
        (inner,) = typing.get_args(inner) or (str,)
        many = True
    convert = _CONVERTERS.get(inner)
    if convert is None:
        supported = "str, int, float, bool, UUID, Optional[...] and list[...] of those"
        raise InvalidRouteError(
            f"Cannot bind parameter {parameter.name!r}: its type {annotation!r} is not one "
            f"wsplay can read from a {source} string. Supported: {supported}."
        )
    required = source == "query" and not has_default and not optional
    default = parameter.default if has_default else None
    return _Argument(parameter.name, source, convert, inner.__name__, many, required, default)


def _refuse_blacksheep_binder(name: str, annotation: Any) -> None:
    """BlackSheep's FromHeader, FromCookie, FromQuery...: say what wsplay reads instead."""
    binder = typing.get_origin(annotation) or annotation
    module = getattr(binder, "__module__", "") or ""
    kind = getattr(binder, "__name__", "")
    if not (module.startswith("blacksheep") and kind.startswith("From")):
        return
    header = name.replace("_", "-")
    inner = (typing.get_args(annotation) or (str,))[0]
    plain = getattr(inner, "__name__", "str")
    instead = {
        "FromHeader": f"read the header in the handler: websocket.get_first_header(b{header!r})",
        "FromCookie": "read the cookie in the handler, from websocket.headers (b'cookie')",
        "FromQuery": f"annotate it with the plain type, {name}: {plain}; wsplay reads the "
        "query string for any simply-typed parameter",
        "FromRoute": f"annotate it with the plain type, {name}: {plain}; wsplay passes route "
        "values by name",
    }.get(kind, "read the value from websocket.headers, websocket.query or the route")
    raise InvalidRouteError(
        f"Cannot bind parameter {name!r}: {kind} is BlackSheep's binder, which wsplay does not "
        f"implement. Instead, {instead}."
    )


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0], len(members) != len(typing.get_args(annotation))
    return annotation, False


def _example(name: str, pattern: RoutePattern) -> str:
    extra = "".join(f", {parameter}: str" for parameter in pattern.parameters)
    if not name.isidentifier() or name == "<lambda>":
        name = "handler"
    return f"async def {name}(websocket: WebSocket{extra}):"
