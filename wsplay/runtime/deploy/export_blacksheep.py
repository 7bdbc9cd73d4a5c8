"""What ``pg.export(..., framework="blacksheep")`` changes so the file runs on BlackSheep.

wsplay's WebSocket is BlackSheep's plus two attributes BlackSheep does not have,
``websocket.subprotocols`` and ``websocket.query_string``, and wsplay's
``WebSocketDisconnectError`` carries the client's close ``reason``, BlackSheep's does not
(docs/compatibility.md lists them). A handler that reads one fails on BlackSheep with an
``AttributeError``, so the export rewrites each use into what BlackSheep offers: a call to
a small function the file defines, which reads the ASGI scope as wsplay does. The uses are
found with ``ast`` (a NodeTransformer), never by searching the text, and only the
expression itself is replaced, so the learner's comments and layout stay. A use the
export cannot tell is a WebSocket's (``members[user].subprotocols``) is refused, naming
the line and what to write instead. A route pattern BlackSheep's router cannot compile is
refused too, so the file that is written always loads.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .sources import Definition, Unrecoverable

# wsplay's public names that BlackSheep has too, and where BlackSheep keeps them.
BLACKSHEEP = {
    "Application": "blacksheep",
    "Router": "blacksheep",
    "WebSocket": "blacksheep",
    "WebSocketDisconnectError": "blacksheep",
    "WebSocketError": "blacksheep",
    "WebSocketState": "blacksheep",
    "ws": "blacksheep",
    "MessageMode": "blacksheep.server.websocket",
    "InvalidWebSocketStateError": "blacksheep.server.websocket",
}


@dataclass(frozen=True)
class Helper:
    """A function the file defines in place of a wsplay-only attribute."""

    name: str
    source: str
    note: str


# attribute -> the function that stands for it on BlackSheep (of a WebSocket, or of a
# caught WebSocketDisconnectError for "reason").
HELPERS = {
    "subprotocols": Helper(
        "wsplay_subprotocols",
        '''def wsplay_subprotocols(websocket):
    """websocket.subprotocols as wsplay gives it: what the client offered, in its order."""
    return list(websocket.scope.get("subprotocols", ()))
''',
        "websocket.subprotocols is wsplay's own: the file reads the offered subprotocols "
        "from the ASGI scope with wsplay_subprotocols(websocket)",
    ),
    "query_string": Helper(
        "wsplay_query_string",
        '''def wsplay_query_string(websocket):
    """websocket.query_string as wsplay gives it: the raw query, as bytes."""
    value = websocket.scope.get("query_string", b"")
    return value.encode("latin-1") if isinstance(value, str) else value
''',
        "websocket.query_string is wsplay's own: the file reads it from the ASGI scope "
        "with wsplay_query_string(websocket)",
    ),
    "reason": Helper(
        "wsplay_close_reason",
        '''def wsplay_close_reason(error):
    """A WebSocketDisconnectError's reason: BlackSheep does not keep it, so "" there."""
    return getattr(error, "reason", "")
''',
        "BlackSheep's WebSocketDisconnectError has no reason (it drops the client's close "
        'reason): the file reads it with wsplay_close_reason(error), which is "" there',
    ),
}
_OF_WEBSOCKET = ("subprotocols", "query_string")
_REPLACEMENT = {
    "subprotocols": 'list({}.scope.get("subprotocols", ()))',
    "query_string": '{}.scope.get("query_string", b"")',
}


@dataclass
class Rewritten:
    """A definition's text for BlackSheep, and the helpers it now calls."""

    text: str
    helpers: list[Helper] = field(default_factory=list)


def for_blacksheep(definition: Definition) -> Rewritten:
    """``definition`` with every wsplay-only attribute replaced (see the module's doc);
    Unrecoverable, naming the line, for a use that cannot be."""
    try:
        tree = ast.parse(definition.text)
    except SyntaxError:
        return Rewritten(definition.text)
    finder = _WsplayOnly(definition.names[0])
    finder.visit(tree)
    if finder.refused:
        raise Unrecoverable("; ".join(finder.refused))
    if not finder.edits:
        return Rewritten(definition.text)
    text = _splice(definition.text, finder.edits)
    used = sorted({HELPERS[attribute] for _, _, attribute in finder.edits}, key=lambda h: h.name)
    return Rewritten(text, used)


class _WsplayOnly(ast.NodeTransformer):
    """Replaces ``websocket.subprotocols`` with ``wsplay_subprotocols(websocket)`` (and the
    others alike); remembers each replaced node's place, for ``_splice``.

    A name stands for a WebSocket when it is a parameter named ``websocket`` or annotated
    ``WebSocket`` (how wsplay itself finds it), and for a disconnect when an ``except
    WebSocketDisconnectError as name:`` binds it.
    """

    def __init__(self, where: str) -> None:
        self.where = where  # the definition's name, for the refusal's words
        self.websockets: list[set[str]] = [set()]
        self.disconnects: list[set[str]] = [set()]
        self.edits: list[tuple[ast.AST, str, str]] = []  # (node, new text, attribute)
        self.refused: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ast.AST:
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        own = {a.arg for a in every if a.arg == "websocket" or _names_websocket(a.annotation)}
        self.websockets.append(self.websockets[-1] | own)
        try:
            return self.generic_visit(node)
        finally:
            self.websockets.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        caught = node.name if node.name and _catches_disconnect(node.type) else None
        self.disconnects.append(self.disconnects[-1] | ({caught} if caught else set()))
        try:
            return self.generic_visit(node)
        finally:
            self.disconnects.pop()

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        if node.attr == "reason" and owner in self.disconnects[-1]:
            return self._replace(node, "reason")
        if node.attr not in _OF_WEBSOCKET:
            return node
        if owner in self.websockets[-1]:
            return self._replace(node, node.attr)
        written = ast.unparse(node)
        instead = _REPLACEMENT[node.attr].format(ast.unparse(node.value))
        self.refused.append(
            f"{self.where}, line {node.lineno}: `{written}` reads {node.attr}, which "
            f"BlackSheep's WebSocket does not have; write `{instead}` instead (or export "
            "with framework='wsplay')"
        )
        return node

    def _replace(self, node: ast.Attribute, attribute: str) -> ast.AST:
        call = ast.Call(ast.Name(HELPERS[attribute].name, ast.Load()), [node.value], [])
        self.edits.append((node, ast.unparse(call), attribute))
        return ast.copy_location(call, node)


def _names_websocket(annotation: ast.expr | None) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.rsplit(".", 1)[-1] == "WebSocket"
    return isinstance(annotation, ast.Name | ast.Attribute) and (
        getattr(annotation, "id", None) == "WebSocket"
        or getattr(annotation, "attr", None) == "WebSocket"
    )


def _catches_disconnect(caught: ast.expr | None) -> bool:
    kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        getattr(kind, "id", None) == "WebSocketDisconnectError"
        or getattr(kind, "attr", None) == "WebSocketDisconnectError"
        for kind in kinds
    )


def _splice(text: str, edits: list[tuple[ast.AST, str, str]]) -> str:
    """``text`` with each node's own span replaced by its new text: the rest of the
    source, comments and layout, stays as written (ast's offsets count UTF-8 bytes)."""
    data = text.encode()
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    spans = []
    for node, new, _ in edits:
        begin = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        spans.append((begin, end, new.encode()))
    for begin, end, new in sorted(spans, reverse=True):
        data = data[:begin] + new + data[end:]
    return data.decode()


def pattern_refusal(pattern: str) -> str:
    """Why BlackSheep's router cannot serve ``pattern`` ("" if it can, or if BlackSheep
    is not installed here to ask)."""
    try:
        from blacksheep.server.routing import Route
    except ImportError:
        return ""
    try:
        Route(pattern, _no_handler)
    except Exception as error:  # BlackSheep compiles a pattern as a regular expression
        return (
            f"BlackSheep cannot serve the pattern {pattern!r} ({type(error).__name__}: "
            f"{error}); export it with framework='wsplay', or change the pattern"
        )
    return ""


async def _no_handler(websocket: object) -> None:
    """Stands in for a handler while BlackSheep compiles a pattern."""
