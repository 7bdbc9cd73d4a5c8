"""Where a handler's failures go: to whoever hosts the app, or else to the log.

A host that wants each failure with its connection (the playground, the exercises'
checker) puts a ``Host`` in the connection's scope:

    scope["extensions"][HOST_KEY] = Host(on_error=..., on_notice=...)

wsplay's ``Application`` then hands it the handler's exception, or what it would have
warned about (a refused handshake and why), instead of logging them. Apps that only log
(BlackSheep, Starlette) reach the same host through ``logged_failures()``: a logging
handler that passes each record to the host of the task that logged it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

HOST_KEY = "wsplay.host"


@dataclass(frozen=True)
class Host:
    """What a host does with a connection's failures (each runs on the app's loop)."""

    on_error: Callable[[BaseException], None]
    on_notice: Callable[[str], None] = lambda text: None


def host_of(scope: dict[str, Any]) -> Host | None:
    host = scope.get("extensions", {}).get(HOST_KEY)
    return host if isinstance(host, Host) else None


def hosted(scope: dict[str, Any], host: Host) -> dict[str, Any]:
    """``scope`` with ``host`` in its extensions (a copy: the server's own is not changed)."""
    return {**scope, "extensions": {**scope.get("extensions", {}), HOST_KEY: host}}


# The host of the task running now, for apps that log instead of calling the host.
_current_host: contextvars.ContextVar[Host | None] = contextvars.ContextVar(
    "wsplay_current_host", default=None
)


class hosting:
    """Within it (in one task), what an app logs goes to ``host``.

    A class, not a generator under contextlib: it is entered once per connection, and
    this costs two calls where contextlib's takes six.
    """

    __slots__ = ("_host", "_token")

    def __init__(self, host: Host) -> None:
        self._host = host

    def __enter__(self) -> None:
        self._token = _current_host.set(self._host)

    def __exit__(self, *exc_info: object) -> None:
        _current_host.reset(self._token)


class _LoggedFailures(logging.Handler):
    """Hands a logged exception, or a warning, to the host of the task that logged it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        host = _current_host.get()
        if host is None:
            if _unhosted and record.name.startswith(("wsplay", "uvicorn")):
                _unhosted[-1](record.getMessage())  # the server's own, outside any task
            return
        if record.exc_info and record.exc_info[1] is not None:
            host.on_error(record.exc_info[1])
        else:
            host.on_notice(record.getMessage())


_handler = _LoggedFailures()
_unhosted: list[Callable[[str], None]] = []  # who hears what the servers log outside a task
_lock = threading.Lock()


@contextlib.contextmanager
def logged_failures(unhosted: Callable[[str], None] = lambda text: None) -> Iterator[None]:
    """While entered (by any number of hosts at once), logged failures reach their host;
    wsplay's and uvicorn's warnings logged outside any hosted task go to ``unhosted``."""
    with _lock:
        if not _unhosted:
            logging.getLogger().addHandler(_handler)
        _unhosted.append(unhosted)
    try:
        yield
    finally:
        with _lock:
            _unhosted.remove(unhosted)
            if not _unhosted:
                logging.getLogger().removeHandler(_handler)
