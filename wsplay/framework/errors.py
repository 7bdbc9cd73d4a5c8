"""Where a handler's failures go: to whoever hosts the app, or else to the log.

A host that wants each failure with its connection (the playground, the exercises'
checker) puts a ``Host`` in the connection's scope:

    scope["extensions"][HOST_KEY] = Host(on_error=..., on_notice=...)

wsplay's ``Application`` then hands it the handler's exception, or what it would have
warned about (a refused handshake and why), instead of logging them. Apps that only log
(BlackSheep, Starlette) reach the same host through ``logged_failures()``: a logging
handler that passes each record to the host of the task that logged it.

Each failure is reported once: an exception the host was handed is not said again when a
server logs it on its way out ("Exception in ASGI application"), and a client that left
(Starlette's or FastAPI's ``WebSocketDisconnect`` with a normal code, left uncaught as their
documentation's examples do) is no failure at all, as wsplay's own is not.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .close_codes import CloseCode
from .exceptions import WebSocketDisconnectError
from .shown import shown_text

HOST_KEY = "wsplay.host"
# The close codes of a client that simply left: it said goodbye (1000), went away (1001),
# or closed with no code (1005). 1006 (no close frame) counts once the client is gone.
NORMAL_CLOSE_CODES = frozenset(
    {CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY, CloseCode.NO_STATUS_RECEIVED}
)
REMEMBERED_REPORTS = 100  # as many as pg.errors keeps
LOGGED_CHARS = 2_000  # of a warning an app logged (it may quote the client's text)


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
        if _already_reported(record):
            return  # e.g. uvicorn's "Exception in ASGI application" for what the host had
        host = _current_host.get()
        if host is None:
            if _unhosted and record.name.startswith(("wsplay", "uvicorn")):
                _unhosted[-1](record.getMessage())  # the server's own, outside any task
            return
        if record.exc_info and record.exc_info[1] is not None:
            host.on_error(record.exc_info[1])
        else:
            host.on_notice(shown_text(record.getMessage(), LOGGED_CHARS))


def is_disconnect(error: BaseException) -> bool:
    """Starlette's (and so FastAPI's) WebSocketDisconnect: the client left.

    Matched by name and package, so that no framework is imported to ask.
    """
    kind = type(error)
    return (
        kind.__name__ == "WebSocketDisconnect" and kind.__module__.partition(".")[0] == "starlette"
    )


def disconnect_code(error: BaseException) -> int | None:
    """The close code a WebSocketDisconnect (Starlette's or wsplay's) carries, else None."""
    if not is_disconnect(error) and not isinstance(error, WebSocketDisconnectError):
        return None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


def reason_text(reason: object) -> str:
    """A close frame's reason as an app gave it, as text: FastAPI closes a handshake whose
    parameters it could not fill with their list of validation errors as the reason."""
    if reason is None or isinstance(reason, str):
        return reason or ""
    if isinstance(reason, list) and reason and all(isinstance(item, dict) for item in reason):
        return unfilled_parameters(reason)
    return repr(reason)


def unfilled_parameters(errors: list[Any]) -> str:
    """FastAPI's validation errors, each as "`name` (where: why)": ``"`item_id` (path:
    Input should be a valid integer, unable to parse string as an integer)"``."""
    return ", ".join(
        f"`{error['loc'][-1]}` ({' '.join(map(str, error['loc'][:-1]))}: {error.get('msg')})"
        for error in errors
        if isinstance(error, dict) and error.get("loc")
    )


# The exceptions hosts were handed last (by identity: most built-in exceptions take no weak
# reference): what a server logs of them on their way out is not said twice.
_reported: deque[BaseException] = deque(maxlen=REMEMBERED_REPORTS)


def _was_reported(error: BaseException) -> bool:
    return any(seen is error for seen in list(_reported))


def first_report(error: BaseException) -> bool:
    """True the first time ``error`` is reported, and marks it: False ever after."""
    if _was_reported(error):
        return False
    _reported.append(error)
    return True


def _already_reported(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return error is not None and _was_reported(error)


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
