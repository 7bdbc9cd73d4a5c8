"""A client whose WebSocket the page itself opens: ``new WebSocket(...)`` in the browser.

Every other client of the playground runs in the kernel; a learner's real front end runs in
a browser, and this one does too. Its route:

- directly to ``ws://127.0.0.1:<port>`` when the page can reach the kernel's machine (the
  page is on a loopback address, or is not served by a Jupyter server at all, as in VS Code);
- through jupyter-server-proxy (``<base_url>proxy/<port>/``) otherwise, as behind a hub such
  as Binder's. The proxy changes the conversation (it picks the subprotocol itself and does
  not pass close codes on); the widget says so whenever that happens, from what both sides
  recorded.

The kernel hands out the connection's id with a one-time ticket, and the page passes the
ticket as ``?wsplay-connection=<ticket>`` (browsers cannot set headers on a WebSocket), so
the server's recording and what the page reports (side "client") share one id on the
timeline; a number from the wire claims nothing (runtime/connections.py).

    wsplay.browser_client("/echo")
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..framework.close_codes import ClosedBy, describe_close_code
from ..runtime.clients.kernel import ClientCore
from ..runtime.playground import Playground
from ..runtime.timeline.kinds import ACCEPT, CLIENT, CLOSE, HANDSHAKE, IN, OUT, REJECT, SERVER
from ..runtime.timeline.store import PREVIEW_CHARS, Event
from .inputs import InputError, parse_path, parse_subprotocols
from .log_line import MAX_LOG_LINES, MAX_TEXT_KEPT

HERE = Path(__file__).parent
ROUTES = ("auto", "direct", "proxy")
SERVER_SIDE_WAIT = 2.0  # seconds to wait for the server's record of a close, to compare
KEPT_CONNECTIONS = 100  # the newest connections whose page reports are still recorded
_CLOSERS = frozenset(closer.value for closer in ClosedBy)  # what a page's "by" may say


class BrowserClient(anywidget.AnyWidget):
    """A WebSocket client that runs in the page; its traffic is on the playground's timeline."""

    _esm = HERE / "browser_client.js"
    _css = HERE / "browser_client.css"
    path = traitlets.Unicode("/echo").tag(sync=True)
    subprotocols = traitlets.Unicode("").tag(sync=True)  # "chat.v2, chat.v1", as typed
    route = traitlets.Unicode("auto").tag(sync=True)  # "auto", "direct" or "proxy"
    hub_prefix = traitlets.Unicode("").tag(sync=True)  # JUPYTERHUB_SERVICE_PREFIX, if any
    connection = traitlets.Int(0).tag(sync=True)  # the newest connection's id (0: none yet)
    url = traitlets.Unicode("").tag(sync=True)  # the URL the page opened (set by the page)
    # Bounds, as the panel's log has them: the page's log keeps the newest max_rows rows and
    # the first max_text characters of a message; it reports at most report_limit
    # characters (or bytes) of a message to the kernel, with its size: the timeline keeps
    # no more, and a long message sent back whole over the comm would cost the page its
    # kernel connection.
    max_rows = traitlets.Int(MAX_LOG_LINES).tag(sync=True)
    max_text = traitlets.Int(MAX_TEXT_KEPT).tag(sync=True)
    report_limit = traitlets.Int(PREVIEW_CHARS + 1).tag(sync=True)

    def __init__(
        self,
        path: str = "/echo",
        *,
        route: str = "auto",
        subprotocols: list[str] | tuple[str, ...] = (),
        playground: Playground | None = None,
    ) -> None:
        if route not in ROUTES:
            raise ValueError(
                f"route is 'auto', 'direct' (ws://127.0.0.1:<port>) or 'proxy' "
                f"(through jupyter-server-proxy), not {route!r}."
            )
        parse_path(path)
        if playground is None:
            from ..runtime import start

            playground = start()
        self.playground = playground
        self._cores: dict[int, ClientCore] = {}
        super().__init__(
            path=path,
            route=route,
            subprotocols=", ".join(subprotocols),
            hub_prefix=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", ""),
        )
        self.on_msg(self._on_page_message)

    # --- what the page says --------------------------------------------------------------
    def _on_page_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("do") == "connect":
            self._connect(content)
            return
        # A batch of reports, in the order the page saw them (or one report alone).
        for report in content.get("reports", [content]):
            self._on_report(report)

    def _on_report(self, content: dict[str, Any]) -> None:
        core = self._cores.get(content.get("id"))
        if core is None:
            return  # one of the oldest connections, forgotten (KEPT_CONNECTIONS)
        event = content.get("event")
        if event == "open":
            self._opened(core, content)
        elif event == "message":
            data: str | bytes = content.get("text")
            if data is None:
                data = base64.b64decode(content.get("base64", ""))
            size = content.get("size")  # the whole message's, when the page sent its start
            if not isinstance(size, int) or size < len(data):
                size = len(data)
            data = data[: self.report_limit]  # the page's own bound, kept here too
            direction = IN if content.get("direction") == "in" else OUT
            _on_loop(core, lambda: core.timeline.message(core.id, CLIENT, direction, data, size))
        elif event == "close":
            self._closed(core, content)

    def _connect(self, content: dict[str, Any]) -> None:
        view = content.get("view")
        try:
            path = parse_path(str(content.get("path", "")))
            offered = parse_subprotocols(str(content.get("subprotocols", "")))
        except InputError as error:
            self.send({"error": str(error), "view": view})
            return
        if not self.playground.running:
            self.send({"error": "The server is stopped: run pg.start() first.", "view": view})
            return
        core = self.playground._client_core(path, (), offered)
        self._cores[core.id] = core
        if len(self._cores) > KEPT_CONNECTIONS:
            del self._cores[next(iter(self._cores))]
        self.connection = core.id
        _record(core, HANDSHAKE, path=path, preview=", ".join(offered))
        self.send(
            {
                "open": {
                    "id": core.id,
                    "ticket": core.ticket,
                    "port": self.playground.port,
                    "path": path,
                },
                "subprotocols": offered,
                "view": view,
            }
        )

    def _opened(self, core: ClientCore, content: dict[str, Any]) -> None:
        core.subprotocol = content.get("protocol") or None
        _record(core, ACCEPT, subprotocol=core.subprotocol, preview=content.get("url", ""))
        if core.subprotocols:
            self._compare(core, ACCEPT, self._subprotocol_note)

    def _closed(self, core: ClientCore, content: dict[str, Any]) -> None:
        if not content.get("opened"):
            core.ended(ClosedBy.SERVER, None)
            _record(core, REJECT, by=ClosedBy.SERVER, preview="the page could not connect")
            self._compare(core, HANDSHAKE, self._failure_note, want_missing=True)
            return
        by = content.get("by")
        core.ended(
            by if by in _CLOSERS else ClosedBy.SERVER,
            content.get("code"),
            content.get("reason") or "",
        )
        _record(core, CLOSE, by=core.closed_by, code=core.close_code, reason=core.close_reason)
        self._compare(core, CLOSE, self._close_note)

    # --- what the two sides saw differently, said in the widget --------------------------
    def _compare(
        self,
        core: ClientCore,
        kind: str,
        note: Callable[[ClientCore, Event | None], str | None],
        want_missing: bool = False,
    ) -> None:
        """Wait (on the server's loop, bounded) for the server's ``kind`` event of this
        connection, then show what ``note`` makes of the two sides."""

        async def compare() -> None:
            deadline = time.monotonic() + (0.3 if want_missing else SERVER_SIDE_WAIT)
            server = _server_event(core, kind)
            while server is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                server = _server_event(core, kind)
            text = note(core, server)
            if text:
                self.send({"note": text, "id": core.id})

        if core.loop.alive:
            core.loop.submit(compare())

    def _through(self) -> str:
        if self._last_route == "proxy":
            return "jupyter-server-proxy"
        return "something between the page and the playground"

    @property
    def _last_route(self) -> str:
        direct = f"ws://127.0.0.1:{self.playground.port}/"
        return "direct" if self.url.startswith(direct) else "proxy"

    def _subprotocol_note(self, core: ClientCore, server: Event | None) -> str | None:
        chosen = server.subprotocol if server else None
        if server is None or chosen == core.subprotocol:
            return None
        how = ", with the first one offered" if self._last_route == "proxy" else ""
        return (
            f"The page offered {', '.join(core.subprotocols)} and got {core.subprotocol!r}, "
            f"but your handler accepted {chosen!r}: {self._through()} answered the page "
            f"itself{how}. Offer the one you want first, or only one."
        )

    def _close_note(self, core: ClientCore, server: Event | None) -> str | None:
        if server is None or server.code == core.close_code:
            return None
        if core.closed_by == ClosedBy.CLIENT:
            said, heard = f"The page closed with {core.close_code}", "your handler got"
            code = server.code
        else:
            said, heard = f"Your handler closed with {server.code}", "the page got"
            code = core.close_code
        return (
            f"{said}; {heard} {code} ({describe_close_code(code)}): {self._through()} "
            "does not pass close codes on."
        )

    def _failure_note(self, core: ClientCore, server: Event | None) -> str | None:
        if server is not None:
            return (
                "The playground refused the handshake (the browser hides the HTTP status): "
                "see the timeline and pg.errors for why."
            )
        if self._last_route == "proxy":
            return (
                "The handshake never reached the playground through jupyter-server-proxy: is "
                "it installed in the Jupyter server's environment (pip install "
                "'jupyter-server-proxy>=4.2', then restart Jupyter)?"
            )
        return (
            f"The page could not reach ws://127.0.0.1:{self.playground.port}: if the browser "
            "is not on the kernel's machine, use wsplay.browser_client(path, route='proxy')."
        )


def _server_event(core: ClientCore, kind: str) -> Event | None:
    for event in reversed(core.timeline.events(connection=core.id, kind=kind)):
        if event.side == SERVER:
            return event
    return None


def _record(core: ClientCore, kind: str, **fields: Any) -> None:
    event = Event(time.time(), core.id, CLIENT, kind, **fields)
    _on_loop(core, lambda: core.timeline.record(event))


def _on_loop(core: ClientCore, write: Callable[[], None]) -> None:
    """Write to the timeline from its one writer, the server's loop (see Timeline)."""

    async def on_loop() -> None:
        write()

    if core.loop.alive:
        core.loop.submit(on_loop())
    else:
        write()  # the server has stopped: nothing else writes any more
