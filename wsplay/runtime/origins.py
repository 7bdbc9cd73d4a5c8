"""Which web pages may open a WebSocket to the playground: the Origin policy.

Why: a handler runs with the kernel's rights and can read the notebook's variables, and any
page open in the learner's browser can try ``new WebSocket("ws://127.0.0.1:<port>/...")``.
Browsers send the page's origin with every WebSocket handshake and cannot lie about it, so
the playground accepts only:

- no ``Origin`` at all (the kernel's client, command-line tools, tests: not a browser page);
- pages on loopback (``localhost``, ``127.0.0.0/8``, ``[::1]``, any port: the learner's
  Jupyter, or a page they serve themselves);
- the Jupyter server's own public origin behind a hub (read from JupyterHub's environment,
  or told by wsplay's widgets, which run in the Jupyter page);
- what ``wsplay.start(allowed_origins=[...])`` adds; ``"*"`` turns the check off.

Everything else gets HTTP 403 before the app runs, whatever the app is.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

# Where JupyterHub (and so Binder) says the public address of the learner's server.
_HUB_VARIABLES = ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST")
# Verdicts kept per Origin header value: a page sends the same one with every handshake,
# and parsing it (two URL splits, an IP address) cost more than the rest of the recorder's
# work per connection. Bounded: past this many different origins, the memo starts again.
_MEMO_SIZE = 64


def origin_of(url: str, *, strict: bool = False) -> str | None:
    """``scheme://host[:port]`` of ``url``, lower-cased; None if it is not an http(s) URL
    (or, ``strict``, if it is more than an origin: a path, a query, a user)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if strict and (parts.path or parts.query or parts.fragment or "@" in parts.netloc):
        return None  # a browser's Origin is scheme://host[:port] and nothing more
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host.lower()}{suffix}"


def is_loopback_origin(origin: str) -> bool:
    return is_loopback_host(urlsplit(origin).hostname or "")


def is_loopback_host(hostname: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 or ::1: only this machine reaches it."""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


class OriginPolicy:
    """Decides each handshake by its ``Origin`` header; see the module's docstring."""

    def __init__(self, allowed: Iterable[str] | str = ()) -> None:
        entries = [allowed] if isinstance(allowed, str) else list(allowed)
        self.allow_all = "*" in entries
        self.allowed: set[str] = set()
        for entry in entries:
            if entry == "*":
                continue
            origin = origin_of(entry)
            if origin is None:
                raise ValueError(
                    f"allowed_origins takes origins such as 'https://class.example' or "
                    f"'http://localhost:3000' (or '*' for any); got {entry!r}."
                )
            self.allowed.add(origin)
        self._verdicts: dict[bytes, tuple[str, str] | None] = {}
        self.allowed |= {
            origin
            for name in _HUB_VARIABLES
            if (value := os.environ.get(name)) and (origin := origin_of(value))
        }

    def trust(self, page_url: str) -> None:
        """Accept the origin of a page wsplay's own widgets run in (the Jupyter page)."""
        origin = origin_of(page_url)
        if origin is not None:
            self.allowed.add(origin)
            self._verdicts = {}

    def refusal(self, headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, str] | None:
        """(origin, why) when the handshake must be refused; None when it may go on."""
        if self.allow_all:
            return None
        sent = None
        for name, value in headers:
            if name == b"origin":
                sent = value
                break
        if sent is None:
            return None
        try:
            return self._verdicts[sent]
        except KeyError:
            verdict = self._verdict(sent.decode("latin-1"))
        if len(self._verdicts) >= _MEMO_SIZE:
            self._verdicts = {}
        self._verdicts[sent] = verdict
        return verdict

    def _verdict(self, raw: str) -> tuple[str, str] | None:
        origin = origin_of(raw, strict=True)
        if origin is not None and (is_loopback_origin(origin) or origin in self.allowed):
            return None
        return raw, self.explain(raw)

    @staticmethod
    def explain(raw: str) -> str:
        shown = "a page with no origin of its own (Origin: null)" if raw == "null" else raw
        return (
            f"The playground refused a WebSocket handshake from {shown}: only pages on "
            "this machine (localhost, 127.0.0.1) and the Jupyter page may connect, because "
            "handlers run with the kernel's rights. If you trust that page, allow it: "
            f"wsplay.start(allowed_origins=[{raw!r}]) (or allowed_origins='*' for any)."
        )
