"""Route patterns and the router: which handler serves which path.

Patterns are BlackSheep's: ``/chat/{room}``, ``/chat/:room``, ``/chat/<room>``, typed
``{int:id}``, ``{float:x}``, ``{uuid:u}``, ``{path:rest}``, and ``*`` (the rest of the path,
as ``tail``). Matching ignores case and a trailing slash.

A route's identity is its *shape*: the pattern with each parameter, whatever its syntax,
name or type, as one slot (``/chat/{room}``, ``/chat/{name}``, ``/chat/:who`` and
``/chat/{int:id}`` are one route); a ``{path:...}`` or ``*`` parameter, which spans slashes,
is a slot of its own kind. Registering a route of the same shape replaces its
handler for *new* connections: re-running a notebook cell just works, even after renaming a
parameter or changing its type, and open connections keep the code they started with.
Patterns of different shapes that overlap (``/chat/{room}`` and ``/chat/lobby``) are both
kept, and the most specific one serves a path, in BlackSheep's order (``match_order``).

    router = Router()
    router.add_ws("/echo/{name}", echo)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .binding import HandlerBinder, bind_handler
from .exceptions import InvalidRouteError

logger = logging.getLogger("wsplay")

Handler = Callable[..., Any]

_VALUE_PATTERNS = {
    "str": r"[^/]+",
    "string": r"[^/]+",
    "int": r"\d+",
    "float": r"\d+(?:\.\d+)?",
    "uuid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "path": r".*",
}
# {type:name}, <type:name>, :name, or a lone *; the type part is optional.
_PARAMETER = re.compile(
    r"\{(?:(?P<btype>[^{}:]*):)?(?P<bname>[^{}]*)\}"
    r"|<(?:(?P<atype>[^<>:]*):)?(?P<aname>[^<>]*)>"
    r"|:(?P<cname>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<star>\*)"
)


@dataclass(frozen=True)
class RoutePattern:
    """A compiled route pattern: its text, its regex and its parameter names."""

    text: str
    regex: re.Pattern[str]
    parameters: tuple[str, ...]

    shape: str = ""  # lower case, no trailing slash, each parameter "{}" ("{*}" for a path)
    greedy: bool = False  # a {path:...} or * parameter, which spans slashes

    @property
    def key(self) -> str:
        """Two patterns with the same key are one route: re-registering replaces it."""
        return self.shape


def compile_pattern(pattern: str) -> RoutePattern:
    """Compile a BlackSheep route pattern, raising InvalidRouteError on any mistake.

    >>> compile_pattern("/items/{int:id}").parameters
    ('id',)
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidRouteError(
            f"Give the route a path pattern such as '/ws': a WebSocket route needs a path "
            f"pattern, got {pattern!r}."
        )
    text = pattern if pattern.startswith("/") else "/" + pattern
    regex, names, shape, greedy, position = ["^"], [], [], False, 0
    for match in _PARAMETER.finditer(text):
        literal = _literal(text, text[position : match.start()])
        if match["star"] and literal.endswith("/"):
            literal = literal[:-1] + "/?"  # '/files/*' matches '/files' too, with tail ''
        regex.append(literal)
        name, kind = _parameter(text, match)
        if name in names:
            raise InvalidRouteError(
                f"Give each route parameter its own name, e.g. '/{{room}}/{{user}}': route "
                f"{text!r} names the parameter {name!r} twice."
            )
        names.append(name)
        greedy = greedy or kind == "path"
        shape.append(text[position : match.start()].lower() + ("{*}" if kind == "path" else "{}"))
        regex.append(f"(?P<{name}>{_VALUE_PATTERNS[kind]})")
        position = match.end()
    regex.append(_literal(text, text[position:]).rstrip("/") + "/?$")
    shape.append(text[position:].lower())
    return RoutePattern(
        text,
        re.compile("".join(regex), re.IGNORECASE),
        tuple(names),
        "".join(shape).rstrip("/") or "/",
        greedy,
    )


def match_order(pattern: RoutePattern) -> tuple[bool, bool, int, int]:
    """Which of two overlapping routes serves a path: the smaller key, as BlackSheep sorts
    its routes when the app starts (the catch-all ``*`` last, then routes with a
    ``{path:...}`` or ``*`` parameter, then more parameters later, then fewer slashes later;
    registration order between equals). So ``/chat/lobby`` serves ``/chat/lobby`` before
    ``/chat/{room}``, whichever was registered first.
    """
    return (
        pattern.text == "/*",
        pattern.greedy,
        len(pattern.parameters),
        -pattern.text.count("/"),
    )


def _literal(pattern: str, chunk: str) -> str:
    for bracket in "{}<>":
        if bracket in chunk:
            raise InvalidRouteError(
                f"Write {_balanced(pattern, chunk, bracket)!r}: route {pattern!r} has an "
                f"unbalanced {bracket!r} (parameters are written '{{name}}', '<name>' or "
                "':name', e.g. '/ws/{client_id}')."
            )
    return re.escape(chunk)


def _balanced(pattern: str, chunk: str, bracket: str) -> str:
    """``pattern`` with the missing half of ``bracket`` added at the end (or the start)
    of its segment: ``'/chat/{room'`` -> ``'/chat/{room}'``."""
    pairs = {"{": "}", "<": ">", "}": "{", ">": "<"}
    at = chunk.index(bracket)
    start = chunk.rfind("/", 0, at) + 1
    end = chunk.find("/", at)
    end = len(chunk) if end < 0 else end
    segment = chunk[start:end].replace(pairs[bracket], "")
    fixed = segment + pairs[bracket] if bracket in "{<" else pairs[bracket] + segment
    return pattern.replace(chunk, chunk[:start] + fixed + chunk[end:], 1)


def _parameter(pattern: str, match: re.Match[str]) -> tuple[str, str]:
    if match["star"]:
        return "tail", "path"
    kind = match["btype"] if match["btype"] is not None else match["atype"]
    name = match["bname"] if match["bname"] is not None else match["aname"]
    name = name if name is not None else match["cname"]
    kind = (kind or "str").strip().lower()
    name = name.strip()
    if not name.isidentifier():
        raise InvalidRouteError(
            "Name route parameters with letters, digits and _, e.g. '{client_id}': the "
            f"handler receives each as an argument, and {name!r} in route {pattern!r} is not "
            "a valid Python name."
        )
    if kind not in _VALUE_PATTERNS and name.lower() in _VALUE_PATTERNS and kind.isidentifier():
        # '{count:int}': Starlette's and FastAPI's order (the name first), not BlackSheep's.
        raise InvalidRouteError(
            f"Write the type first, '{{{name.lower()}:{kind}}}': route {pattern!r} has "
            f"{match[0]!r}, the name before the type as Starlette and FastAPI write it; "
            "wsplay, like BlackSheep, puts the type first."
        )
    if kind not in _VALUE_PATTERNS:
        known = ", ".join(sorted(set(_VALUE_PATTERNS) - {"string"}))
        raise InvalidRouteError(
            f"Use a known parameter type ({known}), e.g. '{{int:{name}}}': route "
            f"{pattern!r} has the unknown parameter type {kind!r} in {match[0]!r}."
        )
    return name, kind


# A value of each type, to show a path a pattern matches: '/chat/{user}' -> '/chat/alice'.
EXAMPLE_VALUES = {
    "str": "alice",
    "string": "alice",
    "int": "1",
    "float": "1.5",
    "uuid": "3f2b8c1e-9d4a-4e5f-8a6b-7c1d2e3f4a5b",
    "path": "alice",
}


def _parameters_in(text: str) -> list[re.Match[str]]:
    """The parameters written in ``text`` (``:name`` only at the start of a segment)."""
    return [
        match
        for match in _PARAMETER.finditer(text)
        if not match["star"] and (match["cname"] is None or text[match.start() - 1] == "/")
    ]


def is_route_pattern(path: str) -> bool:
    """True if ``path`` (its part before any ``?``) has a route parameter in it, such as
    ``{user}``, ``<user>`` or a ``:user`` segment: a pattern, not a path to connect to."""
    return bool(_parameters_in(path.partition("?")[0]))


def example_path(pattern: str) -> tuple[str, tuple[int, int] | None]:
    """A path that ``pattern`` matches, and where its first example value is (to select
    it, ready to type over): ``'/chat/{user}'`` -> ``('/chat/alice', (6, 11))``.

    A pattern without parameters comes back as it is, with no span.
    """
    parts, span, position = [], None, 0
    for match in _parameters_in(pattern):
        kind = (match["btype"] if match["btype"] is not None else match["atype"]) or "str"
        value = EXAMPLE_VALUES.get(kind.strip().lower(), EXAMPLE_VALUES["str"])
        parts.append(pattern[position : match.start()])
        start = sum(map(len, parts))
        span = span or (start, start + len(value))
        parts.append(value)
        position = match.end()
    parts.append(pattern[position:])
    return "".join(parts), span


@dataclass
class Route:
    """A pattern and the handler that serves it."""

    pattern: RoutePattern
    handler: Handler
    binder: HandlerBinder = field(repr=False)
    name: str | None = None

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.regex.match(path)
        return found.groupdict() if found else None


class Router:
    """WebSocket routes; ``ws()`` and ``add_ws()`` register, ``match()`` finds.

    The route table is replaced as a whole on each change (copy on write), so the server's
    thread always matches against a consistent table while a cell registers a new handler.
    It is kept twice: in registration order (what ``routes`` lists) and in match order.
    """

    def __init__(self) -> None:
        self._table: tuple[tuple[Route, ...], tuple[Route, ...]] = ((), ())
        self._lock = threading.Lock()

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes in the order they were first registered."""
        return self._table[0]

    def __iter__(self):
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def add_ws(self, pattern: str, handler: Handler, *, name: str | None = None) -> Route:
        """Serve WebSocket connections to ``pattern`` with ``handler``; returns the route.

        A route of the same shape is replaced (its place in the list is kept), and when its
        pattern was written differently the change is said once, as a warning: it is how a
        learner who renamed a parameter learns that the old pattern is gone.
        """
        compiled = compile_pattern(pattern)
        route = Route(compiled, handler, bind_handler(handler, compiled), name)
        with self._lock:
            routes = list(self.routes)
            replaced = next((r for r in routes if r.pattern.key == compiled.key), None)
            if replaced is None:
                routes.append(route)
            else:
                routes[routes.index(replaced)] = route
            self._set(routes)
        if replaced is not None and replaced.pattern.text != compiled.text:
            logger.warning(
                "%s replaces %s, the route of the same shape: new connections now go to %s().",
                compiled.text,
                replaced.pattern.text,
                _name(handler),
            )
        return route

    def ws(self, pattern: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator form of ``add_ws``: ``@router.ws("/chat/{room}")``."""
        if callable(pattern) and not isinstance(pattern, str):
            raise InvalidRouteError(
                'Write @ws("/ws") above the handler, with its path pattern: a bare @ws has none.'
            )

        def decorator(handler: Handler) -> Handler:
            self.add_ws(pattern, handler, name=name)
            return handler

        return decorator

    def remove_ws(self, pattern: str) -> bool:
        """Stop serving ``pattern``'s route (its shape) for new connections; True if it was
        registered."""
        key = compile_pattern(pattern).key
        with self._lock:
            kept = [route for route in self.routes if route.pattern.key != key]
            removed = len(kept) != len(self.routes)
            self._set(kept)
        return removed

    def clear(self) -> None:
        with self._lock:
            self._set([])

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._table[1]:
            values = route.match(path)
            if values is not None:
                return route, values
        return None

    def _set(self, routes: list[Route]) -> None:
        """One assignment: a reader sees the old table or the new one, never half of each."""
        by_order = sorted(routes, key=lambda route: match_order(route.pattern))
        self._table = (tuple(routes), tuple(by_order))


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", repr(handler))


default_router = Router()
"""The router that ``@ws`` registers on and that ``Application()`` serves by default."""


def ws(pattern: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register a WebSocket handler on the default router: ``@ws("/ws/{client_id}")``."""
    return default_router.ws(pattern, name=name)
