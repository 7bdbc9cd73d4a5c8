"""The ``%wsplay`` and ``%%wsplay`` magics: the playground without writing Python around it.

%load_ext wsplay
%wsplay                      # the panel (starts the server if needed)
%wsplay start --port 8765    # also: stop, status, routes, connect /echo

%%wsplay /echo/{name}
await websocket.accept()
await websocket.send_text(f"hello {name}")
"""

from __future__ import annotations

import argparse
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from . import runtime
from .framework import InvalidRouteError
from .runtime.live import HandlerSourceError, deploy

USAGE = """\
Usage:
  %wsplay                                  show the panel (starts the server if needed)
  %wsplay start [--port N] [--host H]      start the server (default: a free port on 127.0.0.1)
  %wsplay stop                             stop it (open connections get 1001)
  %wsplay status                           is it running, where, how many connections
  %wsplay routes                           the route patterns being served
  %wsplay connect PATH                     a panel with a client connected to PATH
  %%wsplay PATTERN                         the cell's body becomes the handler for PATTERN"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as a UsageError with the usage, not a SystemExit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%wsplay: {message}\n{USAGE}")


def _parser() -> _Parser:
    parser = _Parser(prog="%wsplay", add_help=False)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    start = commands.add_parser("start", add_help=False)
    start.add_argument("--port", type=int, default=None)
    start.add_argument("--host", default="127.0.0.1")
    for name in ("stop", "status", "routes", "help"):
        commands.add_parser(name, add_help=False)
    connect = commands.add_parser("connect", add_help=False)
    connect.add_argument("path")
    return parser


@magics_class
class WsplayMagics(Magics):
    @no_var_expand
    @line_cell_magic
    def wsplay(self, line: str, cell: str | None = None):
        """Run the playground from a cell; ``%wsplay help`` lists the commands."""
        if cell is not None:
            return self._define_handler(line.strip(), cell)
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%wsplay: {error}\n{USAGE}") from None
        arguments = _parser().parse_args(words)
        command = arguments.command
        if command is None:
            return _panel()
        if command == "help":
            print(USAGE)
            return None
        if command == "start":
            playground = runtime.start(host=arguments.host, port=arguments.port)
            print(f"The playground is running at {playground.url}")
            return None
        if command == "stop":
            playground = runtime.current()
            if playground is None or not playground.running:
                print("The playground is not running.")
            else:
                playground.stop()
                print("The playground has stopped; its port is free.")
            return None
        if command == "status":
            print(_status())
            return None
        if command == "routes":
            playground = runtime.current() or runtime.start()
            print("\n".join(playground.routes) or "No routes yet: define one with %%wsplay /path")
            return None
        view = _panel()
        client = view.clients[0]
        client.path.value = arguments.path
        client.on_connect()
        return view

    def _define_handler(self, pattern: str, body: str) -> None:
        if not pattern:
            raise UsageError("%%wsplay needs a route pattern, e.g. %%wsplay /echo\n" + USAGE)
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


def _status() -> str:
    playground = runtime.current()
    if playground is None or not playground.running:
        return "The playground is not running: %wsplay start (or %wsplay for the panel)."
    return (
        f"The playground is running at {playground.url} with "
        f"{len(playground.connections)} open connection(s), {len(playground.routes)} route(s) "
        f"and {len(playground.errors)} handler error(s)."
    )


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(WsplayMagics)


def unload_ipython_extension(ipython) -> None:
    # IPython cannot unregister magics; remove ours by hand.
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("wsplay", None)
