"""The panel: the server, its routes, clients side by side, open connections, errors and the
timeline, in one widget.

    wsplay.panel()
    wsplay.panel(messages={"hi": "hello", "join": {"type": "join"}})   # saved messages

``wsplay.panel()`` hands back the kernel's one panel (a widget can be shown in many cells),
so re-running its cell a hundred times costs nothing. One refresher thread serves every
panel, redrawing what changed at most ~20 times a second; it is the only writer of every
view that the server's thread feeds (log, timeline, connections, errors), so no update is
lost to a race between threads. It ends when no panel is left.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets

from ..framework.close_codes import CloseCode
from ..runtime.playground import HandlerError, LoopBlocked, Playground
from ..runtime.timeline.budget import cut_middle
from .client import ClientView
from .client_model import ClientModel
from .inputs import InputError, error_html, parse_close_code, parse_close_reason
from .refresher import refresher
from .route_list import RouteList
from .saved import offer
from .timeline_view import TimelineView

logger = logging.getLogger("wsplay")

CLIENT_WIDTH = 230  # px: the narrowest a client gets (three fit side by side in 900 px)


class Panel(widgets.VBox):
    """Everything about one playground, live."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.status = widgets.HTML()
        self.start_stop = widgets.Button(description="Stop", layout=widgets.Layout(width="auto"))
        self.start_stop.add_class("wsplay-start-stop")
        self.start_stop.on_click(lambda _: self.on_start_stop())
        self.start_stop_error = widgets.HTML()
        self.routes = RouteList(on_pick=self.put_path)
        # Columns of one width that share the row: one client takes it all, two half each,
        # as many as fit side by side and the rest on the next row (auto-fit: no empty
        # column is kept for a client not added yet; a third never stretches to a row).
        self.clients_box = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns=f"repeat(auto-fit, minmax({CLIENT_WIDTH}px, 1fr))",
                grid_gap="4px",
            )
        )
        self.add_client_button = widgets.Button(  # a button's size, not the panel's width
            description="Add client",
            icon="plus",
            layout=widgets.Layout(width="auto", align_self="flex-start"),
        )
        self.add_client_button.on_click(lambda _: self.add_client())
        self.connections = widgets.HTML()
        self.server_close_target = widgets.Dropdown(
            description="Connection", options=[], style={"description_width": "initial"}
        )
        self.server_close_code = widgets.Text(
            value=str(CloseCode.NORMAL_CLOSURE.value),
            description="Code",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="100px"),
        )
        self.server_close_reason = widgets.Text(
            placeholder="reason", layout=widgets.Layout(width="140px")
        )
        self.server_close_button = widgets.Button(
            description="Close from server", layout=widgets.Layout(width="auto")
        )
        self.server_close_button.on_click(lambda _: self.on_server_close())
        self.server_close_error = widgets.HTML()
        self.errors = widgets.HTML()
        self.errors.add_class("wsplay-errors")
        self.warnings = widgets.HTML()
        self.timeline = TimelineView()
        self._chosen_target: int | None = None  # the connection the learner picked
        self._choosing = False  # the panel itself is setting the target's options
        # The page showing the panel is the learner's Jupyter: its origin may connect (behind
        # a hub that is not loopback, and the browser client's handshakes carry it).
        self.timeline.observe(lambda change: playground.gate.trust(change["new"]), "page_url")
        self.clients: list[ClientView] = []
        self._added = 0  # clients ever added: names stay unique when one is removed
        self._drawn: dict[str, Any] = {}
        self.closed = False
        self.other_routes = widgets.HTML()  # the app's HTTP routes, muted: not for a client
        self.server_close_target.observe(self._target_chosen, names="value")
        close_row = widgets.HBox(
            [
                self.server_close_target,
                self.server_close_code,
                self.server_close_reason,
                self.server_close_button,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        close_row.add_class("wsplay-panel-bar")
        bar = widgets.HBox([self.status, self.start_stop])
        bar.add_class("wsplay-panel-bar")
        super().__init__(
            [
                bar,
                self.start_stop_error,
                self.routes,
                self.other_routes,
                widgets.HTML("<b>Clients</b>"),
                self.clients_box,
                self.add_client_button,
                widgets.HTML("<b>Open connections, seen from the server</b>"),
                self.connections,
                close_row,
                self.server_close_error,
                self.warnings,
                self.errors,
                widgets.HTML(
                    "<b>Timeline</b> <small>(the server on the left, a lane per connection; "
                    "newest last; a closed connection's lane is narrow: click a lane's name "
                    "to widen or narrow it)</small>"
                ),
                self.timeline,
            ]
        )
        self.add_class("wsplay-panel")
        self.add_client()
        self.refresh()
        refresher.add(self)

    # --- actions -----------------------------------------------------------------------
    def add_client(self) -> ClientView:
        self._added += 1
        view = ClientView(ClientModel(self.playground), f"Client {self._added}")
        view.remove_button.on_click(lambda _: self.remove_client(view))
        self.clients = [*self.clients, view]
        self.clients_box.children = [*self.clients_box.children, view]
        return view

    def remove_client(self, view: ClientView) -> None:
        """Take a client off the panel; its open connection closes with 1001 (Going Away).

        The list is replaced, not changed in place: the refresher may be iterating it.
        """
        if view not in self.clients:
            return
        self.clients = [other for other in self.clients if other is not view]
        self.clients_box.children = [
            child for child in self.clients_box.children if child is not view
        ]
        view.model.leave("the client was removed from the panel")
        _close_tree(view)

    def put_path(self, path: str, client: int = 0) -> None:
        """Put ``path`` in a client's path box (a route picked in the route list)."""
        clients = self.clients
        if clients:
            clients[min(max(client, 0), len(clients) - 1)].path.value = path

    def on_start_stop(self) -> None:
        self.start_stop_error.value = ""
        try:
            if self.playground.running:
                self.playground.stop()
            else:
                self.playground.start()
        except Exception as error:  # e.g. the port was taken meanwhile: said by the button
            self.start_stop_error.value = error_html(error)

    def on_server_close(self) -> None:
        try:
            code = parse_close_code(self.server_close_code.value)
            reason = parse_close_reason(self.server_close_reason.value)
            target = self.server_close_target.value
            if target is None:
                raise InputError("No open connection to close: connect a client first.")
        except InputError as error:
            self.server_close_error.value = error_html(error)
            return
        self.server_close_error.value = ""
        for connection in self.playground.connections:
            if connection.id == target:
                connection.close(code, reason)
                return
        self.server_close_error.value = error_html(f"Connection #{target} has already ended.")

    # --- drawn by the refresher: the only writer of the live views -----------------------
    def _changed(self, part: str, value: Any) -> bool:
        if self._drawn.get(part) == value:
            return False
        self._drawn[part] = value
        return True

    def refresh(self) -> None:
        playground = self.playground
        running = playground.running
        if self._changed("status", (running, playground.port)):
            self.status.value = (
                f"<b>Server</b> <span style='color:green'>● running</span> at "
                f"<code>{playground.url}</code>"
                if running
                else "<b>Server</b> <span style='color:gray'>○ stopped</span>"
            )
            self.start_stop.description = "Stop" if running else "Start"
        routes = playground.routes
        if self._changed("routes", tuple(routes)):
            self.routes.show(routes)
            for view in self.clients:
                view.set_routes(routes)
        connections = playground.connections
        owners = {view.model.core.id: view.title_text for view in self.clients if view.model.core}
        if self._changed("connections", tuple((c.id, c.state) for c in connections)):
            self.connections.value = _connections_html(connections, owners)
            self._offer_targets(connections, owners)
        errors = playground.errors
        if self._changed("errors", (len(errors), errors[-1].time if errors else 0)):
            self.errors.value = _errors_html(errors, owners)
        warnings = playground.warnings
        if self._changed("warnings", tuple(warnings[-3:])):
            self.warnings.value = _warnings_html(warnings)
        self.timeline.refresh(playground.timeline, {c.id: c.path for c in connections})
        for view in self.clients:
            view.refresh()
        others = tuple(str(route) for route in playground.route_table if not route.is_websocket)
        if self._changed("other routes", others):
            self.other_routes.value = _other_routes_html(others)

    def _offer_targets(self, connections: list[Any], owners: dict[int, str]) -> None:
        """Close from the server: the learner's pick while it is open, else the newest of
        the panel's own clients (not a connection some cell opened), else the newest."""
        options = [
            (f"#{c.id} {c.path}" + (f" ({owners[c.id]})" if c.id in owners else ""), c.id)
            for c in connections
        ]
        ids = [identifier for _, identifier in options]
        mine = [identifier for identifier in ids if identifier in owners]
        fallback = (mine or ids or [None])[-1]
        value = self._chosen_target if self._chosen_target in ids else fallback
        self._choosing = True
        try:
            self.server_close_target.options = options
            self.server_close_target.value = value
        finally:
            self._choosing = False

    def _target_chosen(self, change: dict[str, Any]) -> None:
        if not self._choosing and change["new"] is not None:
            self._chosen_target = change["new"]

    def close(self) -> None:
        """End this panel: its clients leave (1001), its refresher stops, its widgets close."""
        if self.closed:
            return
        self.closed = True
        refresher.remove(self)
        for view in self.clients:
            view.model.leave()
        _close_tree(self)


def _close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` and every widget it holds (children, layouts, styles)."""
    for name in widget.keys:
        value = getattr(widget, name, None)
        for held in value if isinstance(value, tuple | list) else (value,):
            if isinstance(held, widgets.Widget) and held.comm is not None:
                _close_tree(held)
    widgets.Widget.close(widget)


_kernel_panel: Panel | None = None


def _connections_html(connections: list[Any], owners: dict[int, str]) -> str:
    if not connections:
        return "<i>none open</i>"
    # Side by side, wrapping: twenty connections take a few lines, not twenty.
    items = "".join(
        f"<span class='wsp-open'>#{c.id} <code>{html.escape(c.path)}</code> {c.state}"
        + (f" <small>({html.escape(owners[c.id])})</small>" if c.id in owners else "")
        + "</span>"
        for c in connections
    )
    return f"<div class='wsplay-connections'>{items}</div>"


# Of each error's traceback, the panel shows its ends (pg.errors[i].traceback has more):
# ten errors a client provoked must not make the panel's HTML megabytes.
PANEL_TRACEBACK_CHARS = 4_000


def _errors_html(errors: list[HandlerError], owners: dict[int, str]) -> str:
    entries = (_error(error, owners.get(error.connection)) for error in errors[-10:])
    return _section("Errors", "newest last; click for the traceback", entries)


def _error(error: HandlerError, owner: str | None) -> str:
    """One error: the fix and what happened, once. A refusal one of the panel's clients
    saw is said in that client's log, fix first; here it is only named."""
    if owner is not None and error.refused:
        said = (
            f"{type(error.exception).__name__} in the handler for {error.shown_path} "
            f"(#{error.connection}): {owner}'s handshake was refused; the fix is in its log."
        )
    else:
        said = error.summary()
    return (
        f"<details><summary style='color:#b00'>{html.escape(said)}</summary>"
        f"<pre>{html.escape(cut_middle(error.traceback, PANEL_TRACEBACK_CHARS))}</pre></details>"
    )


def _warnings_html(warnings: list[LoopBlocked]) -> str:
    return _section(
        "Blocked loop", "newest last; pg.warnings has them all", map(_warning, warnings[-3:])
    )


def _warning(warning: LoopBlocked) -> str:
    color, over = ("#888", " <i>(over)</i>") if warning.over else ("#8a5300", "")
    return f"<div style='color:{color}'>⚠ {html.escape(str(warning))}{over}</div>"


def _other_routes_html(others: tuple[str, ...]) -> str:
    """The app's HTTP routes (FastAPI's /docs, a page): named, muted, listed on hover."""
    if not others:
        return ""
    listed = html.escape("\n".join(others), quote=True)
    count = f"{len(others)} HTTP route{'s' if len(others) > 1 else ''}"
    return (
        f"<small class='wsplay-other-routes' style='color:gray' title='{listed}'>The app also "
        f"has {count} (not WebSocket; hover to list them).</small>"
    )


def _section(title: str, note: str, items: Iterable[str]) -> str:
    """A titled list of the panel's (errors, warnings); nothing at all when it is empty."""
    body = "".join(items)
    return f"<b>{title}</b> <small>({note})</small>{body}" if body else ""


def panel(playground: Playground | None = None, messages: dict[str, Any] | None = None) -> Panel:
    """The kernel's panel, starting the playground if needed: ``wsplay.panel()``.

    The same panel each time for the same playground (shown again in the new cell, its
    clients and logs as they were); a panel of a playground that was replaced is closed.
    ``messages`` (name -> str, bytes, or a JSON value) are offered as saved messages in
    every client; what a learner saved stays, whichever way the panel is shown again.
    """
    from ..runtime import start

    global _kernel_panel
    if messages is not None:
        if not isinstance(messages, dict):
            raise TypeError(
                "messages is a dict of name -> payload, e.g. {'hi': 'hello', 'join': "
                f"{{'type': 'join'}}}}, not {type(messages).__name__}."
            )
        offer(messages)  # checked before anything is shown
    playground = playground if playground is not None else start()
    current = _kernel_panel
    if current is None or current.closed or current.playground is not playground:
        if current is not None:
            current.close()
        current = _kernel_panel = Panel(playground)
    return current  # its refresher shows the offered messages in every client
