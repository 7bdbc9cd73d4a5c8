"""Turn a handler's body, typed in a cell or an editor, into a live route.

The body becomes an ``async def`` with ``websocket`` and the route's parameters in scope,
so a learner writes only what the handler does:

    deploy("/echo/{name}", "await websocket.accept()\\nawait websocket.send_text(name)")
"""

from __future__ import annotations

import linecache
import re
import textwrap
from collections.abc import Callable
from typing import Any

from ...framework import InvalidRouteError, Router
from ...framework.routing import compile_pattern, default_router


class HandlerSourceError(SyntaxError):
    """The handler's code does not compile; the message points at the line in the body."""


def deploy(
    pattern: str,
    body: str,
    namespace: dict[str, Any] | None = None,
    router: Router | None = None,
) -> Callable[..., Any]:
    """Compile ``body`` as the handler for ``pattern`` and register it (replacing any other).

    ``namespace`` is where the handler finds names (a notebook's globals); the handler is
    also stored there under a name derived from the pattern, so a cell can call it.
    """
    compiled = compile_pattern(pattern)
    router = router if router is not None else default_router
    if not body.strip():
        raise InvalidRouteError(
            f"The handler for {pattern!r} has no code yet. Start with:\n"
            "    await websocket.accept()\n"
            "    await websocket.send_text(await websocket.receive_text())"
        )
    name = _function_name(compiled.text)
    parameters = ", ".join(["websocket", *compiled.parameters])
    source = f"async def {name}({parameters}):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    filename = f"<handler {compiled.text}>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        line = (error.lineno or 2) - 1  # the body's own line numbering
        raise HandlerSourceError(
            f"Line {line} of the handler for {compiled.text}: {error.msg}"
            + (f"\n    {error.text.strip()}" if error.text else "")
        ) from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = namespace if namespace is not None else {}
    exec(code, scope)
    handler = scope[name]
    router.add_ws(compiled.text, handler)
    return handler


def _function_name(pattern: str) -> str:
    words = re.sub(r"[^0-9A-Za-z]+", "_", pattern).strip("_")
    return f"handler_{words}" if words else "handler_root"
