"""The ``%wsplay`` and ``%%wsplay`` magics: the playground without writing Python around it.

Declared with IPython's own ``magic_arguments`` (so ``%wsplay?`` shows the usage) and thin
over the library: each command is one call of ``wsplay.start``, ``pg.stop``, the panel or
``runtime.live.deploy``. Commands that only read (``status``, ``routes``) start nothing.

%load_ext wsplay
%wsplay                      # the panel (starts the server if needed)
%wsplay start --port 8765    # also: stop, status, routes, connect /echo

%%wsplay /echo/{name}
await websocket.accept()
await websocket.send_text(f"hello {name}")
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import runtime
from .framework import Application, InvalidRouteError
from .runtime.deploy.live import HandlerSourceError, deploy
from .runtime.guests.routes import route_table

COMMANDS = ("start", "stop", "status", "routes", "connect")


@magics_class
class WsplayMagics(Magics):
    @no_var_expand
    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        choices=COMMANDS,
        help="start, stop, status, routes, or connect PATH; none: show the panel",
    )
    @argument("path", nargs="?", help="with connect: the path a panel client connects to")
    @argument("--port", type=int, default=None, help="with start: the port (default: a free one)")
    @argument("--host", default="127.0.0.1", help="with start: the address (default: loopback)")
    @line_cell_magic
    def wsplay(self, line: str, cell: str | None = None):
        """Run the playground from a cell.

        As a cell magic, ``%%wsplay PATTERN``: the cell's body becomes the body of an
        ``async def`` handler for PATTERN, with ``websocket`` and the route's parameters in
        scope.
        """
        if cell is not None:
            return self._define_handler(line.strip(), cell)
        try:
            arguments = parse_argstring(self.wsplay, line)
        except UsageError as error:
            # IPython formats the usage for its docs ("::" and an indent): one line here.
            usage = " ".join(self.wsplay.parser.format_usage().removeprefix("::").split())
            raise UsageError(f"{error}\nUsage: {usage}\n(%wsplay? explains each.)") from None
        command = arguments.command
        if command is None:
            return _panel()
        if command == "start":
            return _start(arguments.host, arguments.port)
        if command == "stop":
            return _stop()
        if command == "status":
            return print(_status())
        if command == "routes":
            return print(_routes())
        if not arguments.path:
            raise UsageError("%wsplay connect needs a path, e.g. %wsplay connect /echo")
        view = _panel()
        client = view.clients[0]
        client.path.value = arguments.path
        client.on_connect()
        return view

    def _define_handler(self, pattern: str, body: str) -> None:
        if not pattern:
            raise UsageError("%%wsplay needs a route pattern on its first line: %%wsplay /echo")
        try:
            deploy(pattern, body, self.shell.user_ns)
        except (InvalidRouteError, HandlerSourceError) as error:
            raise UsageError(str(error)) from None
        playground = runtime.current()
        where = f"{playground.url}{pattern}" if playground and playground.running else pattern
        print(f"{pattern} is live: new connections to {where} use this code.")


def _panel():
    from . import panel  # says which pip line is missing if the widgets are not installed

    return panel()


def _start(host: str, port: int | None) -> None:
    before = runtime.current()
    was = before.url if before is not None and before.running else None
    playground = runtime.start(host=host, port=port)
    if was is not None and was != playground.url:
        print(
            f"The playground moved from {was} to {playground.url}: its open connections "
            "were closed with 1001 (Going Away)."
        )
    else:
        print(f"The playground is running at {playground.url}")


def _stop() -> None:
    playground = runtime.current()
    if playground is None or not playground.running:
        print("The playground is not running.")
        return
    playground.stop()
    print("The playground has stopped; its port is free.")


def _status() -> str:
    playground = runtime.current()
    if playground is None or not playground.running:
        return "The playground is not running: %wsplay start (or %wsplay for the panel)."
    return (
        f"The playground is running at {playground.url} with "
        f"{len(playground.connections)} open connection(s), {len(playground.routes)} route(s) "
        f"and {len(playground.errors)} handler error(s)."
    )


def _routes() -> str:
    """The WebSocket routes first (a client can open those), then the app's other ones."""
    playground = runtime.current()
    table = playground.route_table if playground is not None else route_table(Application())
    websocket = [str(route) for route in table if route.is_websocket]
    others = [str(route) for route in table if not route.is_websocket]
    if not websocket:
        websocket = ["No WebSocket routes yet: define one with %%wsplay /path"]
    return "\n".join(websocket + others)


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(WsplayMagics)


def unload_ipython_extension(ipython) -> None:
    # IPython cannot unregister magics; remove ours by hand.
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("wsplay", None)
