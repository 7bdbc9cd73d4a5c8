"""Who may reach the playground: the Origin policy and the Host check.

Why: a handler runs with the kernel's rights and can read the notebook's variables, and any
page open in the learner's browser can try ``new WebSocket("ws://127.0.0.1:<port>/...")`` or
``fetch("http://127.0.0.1:<port>/...")``. Browsers send the page's origin with every
WebSocket handshake (and with every cross-site HTTP request) and cannot lie about it, so the
playground accepts only:

- no ``Origin`` at all (the kernel's client, command-line tools, tests: not a browser page);
- pages on loopback (``localhost``, ``127.0.0.0/8``, ``[::1]``, any port: the learner's
  Jupyter, or a page they serve themselves);
- the Jupyter server's own public origin behind a hub (read from JupyterHub's environment,
  or told by wsplay's widgets, which run in the Jupyter page);
- what ``wsplay.start(allowed_origins=[...])`` adds; ``"*"`` turns the check off.

A page can also rename the playground (DNS rebinding: ``evil.example`` first resolves to the
attacker, then to 127.0.0.1); its requests are then "same-origin" and carry no ``Origin``,
but they still say ``Host: evil.example``. So the ``Host`` is checked too, for HTTP and
WebSocket alike: loopback names, the hub's host, the Jupyter page's host, the address the
playground was asked to listen on, and ``wsplay.start(allowed_hosts=[...])``; ``"*"`` turns
it off. A page's ``<img>`` or no-cors ``fetch`` sends no ``Origin`` either, but the browser
says ``Sec-Fetch-Site: cross-site`` (which no page can forge): without an ``Origin``, that is
refused too, unless its ``Referer`` names a page the policy allows (a link clicked in the
Jupyter page on localhost, to 127.0.0.1) or ``allowed_origins="*"``. Everything else gets
HTTP 403 before the app runs, whatever the app is.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...framework.shown import SHOWN_CHARS, shown_text

# Where JupyterHub (and so Binder) says the public address of the learner's server.
_HUB_VARIABLES = ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST")
# Verdicts kept per header value: a page sends the same one with every handshake, and
# parsing it (two URL splits, an IP address) cost more than the rest of the recorder's work
# per connection. Bounded: past this many different values, the memo starts again.
_MEMO_SIZE = 64
# Addresses that mean "every interface": the learner asked to share the playground.
_WILDCARDS = {"", "0.0.0.0", "::"}
# The status of every refusal: 403, as for a refused WebSocket origin (SPEC 5b), and as
# Jupyter server and Vite answer a foreign Host. Not 421 Misdirected Request: browsers retry
# a 421 on a fresh connection (it is meant for HTTP/2 connection reuse), and a rebinding page
# would simply be answered twice.
REFUSED_STATUS = 403
# Browsers say with every request whether a page of another site made it, and a page cannot
# forge it; an <img> or a no-cors fetch carries no Origin, but this says "cross-site".
SEC_FETCH_SITE = "Sec-Fetch-Site"
_GATE_HEADERS = ("Origin", "Host", SEC_FETCH_SITE)  # what the gate can refuse a request for


@dataclass(frozen=True)
class Refusal:
    """Why a request may not reach the app: which header (``Origin`` or ``Host``), as sent."""

    header: str
    value: str

    @property
    def reason(self) -> str:
        """The timeline's short reason (its event keeps the header itself: ``headers``)."""
        return f"{self.header} {self.value} is not allowed"

    @property
    def headers(self) -> tuple[tuple[str, str]]:
        """The refused header, as the timeline's event for the refusal keeps it."""
        return ((self.header, self.value),)

    @classmethod
    def recorded(cls, headers: Sequence[tuple[str, str]]) -> Refusal | None:
        """The refusal whose ``headers`` an event kept, or None if they are not one (a value
        the timeline cut is followed by its note of the cut)."""
        if not headers or headers[0][0] not in _GATE_HEADERS:
            return None
        return cls(*headers[0])

    def explain(self, request: str = "a WebSocket handshake") -> str:
        """The problem and the fix, in the learner's words (said in the notebook, and the
        body of the 403: browsers hide it from the page, tools show it)."""
        raw = self.value
        shown = shown_text(raw)
        if self.header == "Host":
            name = host_name(raw) or raw
            return (
                f"The playground refused {request} addressed to {shown}: only requests for "
                "this machine (localhost, 127.0.0.1) or the Jupyter server may reach your "
                "handlers, because a web page can give the playground's address a name of "
                "its own (DNS rebinding) and read what they answer. If you reach the "
                "playground by that name on purpose, allow it: "
                f"wsplay.start(allowed_hosts=[{name[:SHOWN_CHARS]!r}]) "
                "(or allowed_hosts='*' for any)."
            )
        if self.header == SEC_FETCH_SITE:
            return (
                f"The playground refused {request} that a page on another site made without "
                "saying its origin (Sec-Fetch-Site: cross-site): an <img> or a no-cors fetch "
                "from any page in your browser could run your handlers, which have the "
                "kernel's rights. Open the page that makes it from this machine "
                "(http://localhost:<port>/...) or the Jupyter page; or, while you try it, "
                "wsplay.start(allowed_origins='*') turns the check off."
            )
        if origin_of(raw, strict=True) is None:
            what = "a page with no origin of its own" if raw == "null" else shown
            return (
                f"The playground refused {request} from {what} (Origin: {shown}): only pages "
                "on this machine (localhost, 127.0.0.1) and the Jupyter page may connect, "
                "because handlers run with the kernel's rights. Serve that page over HTTP "
                "from this machine (e.g. `python -m http.server` and open "
                "http://localhost:8000/...), or, while you try it, "
                "wsplay.start(allowed_origins='*') turns the check off."
            )
        return (
            f"The playground refused {request} from {shown}: only pages on this machine "
            "(localhost, 127.0.0.1) and the Jupyter page may connect, because handlers run "
            "with the kernel's rights. If you trust that page, allow it: "
            f"wsplay.start(allowed_origins=[{raw[:SHOWN_CHARS]!r}]) "
            "(or allowed_origins='*' for any)."
        )


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


def host_name(host: str) -> str | None:
    """The name in a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), lower-cased,
    without a trailing dot; None if it is not a host at all."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif host.count(":") > 1:
        name = host  # an IPv6 address without brackets (an entry, not a Host header)
    else:
        name, colon, port = host.rpartition(":")
        if not colon:
            name = port
        elif not port.isdigit():
            return None
    name = name.removesuffix(".")
    if not name or any(char in name for char in "/@?#\\ \t"):
        return None
    return name


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


def _is_ip_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _hub_urls() -> list[str]:
    return [value for name in _HUB_VARIABLES if (value := os.environ.get(name))]


class _HeaderPolicy:
    """Decides a request by one header's values, with a bounded memo of verdicts.

    ``allowed`` holds what a subclass makes of each entry the learner gave (``_entry``), of
    the hub's URLs and of the Jupyter page's (``_of_url``); ``"*"`` turns the check off.
    """

    header = b""

    def __init__(self, allowed: Iterable[str] | str = ()) -> None:
        entries = [allowed] if isinstance(allowed, str) else list(allowed)
        self.allow_all = "*" in entries
        self.allowed = {self._entry(entry) for entry in entries if entry != "*"}
        self.allowed |= {key for url in _hub_urls() if (key := self._of_url(url))}
        self._verdicts: dict[bytes, Refusal | None] = {}

    def trust(self, page_url: str) -> None:
        """Accept the page wsplay's own widgets run in (the Jupyter page)."""
        key = self._of_url(page_url)
        if key:
            self.allowed.add(key)
            self._forget()

    def refusal(self, headers: Iterable[tuple[bytes, bytes]]) -> Refusal | None:
        """What must be refused, or None when the request may go on (or has no such header)."""
        if self.allow_all:
            return None
        for name, value in headers:
            if name == self.header:
                verdict = self.verdict(value)
                if verdict is not None:
                    return verdict
        return None

    def verdict(self, sent: bytes) -> Refusal | None:
        """The refusal for one value of the header, as sent (remembered), or None."""
        try:
            return self._verdicts[sent]
        except KeyError:
            verdict = self._verdict(sent.decode("latin-1"))
        if len(self._verdicts) >= _MEMO_SIZE:
            self._verdicts = {}
        self._verdicts[sent] = verdict
        return verdict

    def _forget(self) -> None:
        self._verdicts = {}

    def _entry(self, entry: str) -> str:
        raise NotImplementedError

    def _of_url(self, url: str) -> str | None:
        raise NotImplementedError

    def _verdict(self, raw: str) -> Refusal | None:
        raise NotImplementedError


class OriginPolicy(_HeaderPolicy):
    """Decides each request by its ``Origin`` header; see the module's docstring."""

    header = b"origin"

    def _entry(self, entry: str) -> str:
        origin = origin_of(entry)
        if origin is None:
            raise ValueError(
                f"allowed_origins takes origins such as 'https://class.example' or "
                f"'http://localhost:3000' (or '*' for any); got {entry!r}."
            )
        return origin

    def _of_url(self, url: str) -> str | None:
        return origin_of(url)

    def _verdict(self, raw: str) -> Refusal | None:
        origin = origin_of(raw, strict=True)
        if origin is not None and (is_loopback_origin(origin) or origin in self.allowed):
            return None
        return Refusal("Origin", raw)


class HostPolicy(_HeaderPolicy):
    """Decides each request by the name in its ``Host`` header; see the module's docstring.

    Any port: a rebinding page needs a name of its own, the port is the playground's anyway.
    """

    header = b"host"

    def __init__(self, allowed: Iterable[str] | str = ()) -> None:
        super().__init__(allowed)
        self.any_address = False  # listening on every interface: any IP address is fine

    def _entry(self, entry: str) -> str:
        name = host_name(entry)
        if name is None or "://" in entry:
            raise ValueError(
                "allowed_hosts takes host names such as 'class.example' or "
                f"'192.168.1.20', without a scheme or path (or '*' for any); got {entry!r}."
            )
        return name

    def _of_url(self, url: str) -> str | None:
        name = urlsplit(url).hostname
        return name.removesuffix(".") if name else None

    def listening_on(self, address: str) -> None:
        """Accept the address the playground listens on (any IP address on a wildcard: who
        asked for 0.0.0.0 shares it, and an IP address cannot be rebound, only a name)."""
        if address in _WILDCARDS:
            self.any_address = True
        elif not is_loopback_host(address):
            self.allowed.add(address.strip("[]").lower())
        self._forget()

    def _verdict(self, raw: str) -> Refusal | None:
        name = host_name(raw)  # an IPv6 address without its brackets
        if name is not None and (
            is_loopback_host(name)
            or name in self.allowed
            or (self.any_address and _is_ip_address(name))
        ):
            return None
        return Refusal("Host", raw)


class Gate:
    """Both checks, for any request: the Host first (a rebound page sends no Origin)."""

    def __init__(
        self, allowed_origins: Iterable[str] | str = (), allowed_hosts: Iterable[str] | str = ()
    ) -> None:
        self.origins = OriginPolicy(allowed_origins)
        self.hosts = HostPolicy(allowed_hosts)

    def trust(self, page_url: str) -> None:
        """The page wsplay's widgets run in (the Jupyter page) may connect, by its name too."""
        self.origins.trust(page_url)
        self.hosts.trust(page_url)

    def refusal(self, headers: Sequence[tuple[bytes, bytes]]) -> Refusal | None:
        """The refusal for a request with ``headers``, or None: its Host first (a rebound
        page sends no Origin), then its Origin, then a cross-site request without one.

        One pass over the headers: this runs on every handshake and HTTP request.
        """
        hosts, origins = self.hosts, self.origins
        if hosts.allow_all and origins.allow_all:
            return None
        by_origin: Refusal | None = None
        has_origin = cross_site = False
        referer = b""
        for name, value in headers:
            if name == b"host":
                if not hosts.allow_all and (verdict := hosts.verdict(value)) is not None:
                    return verdict
            elif name == b"origin":
                has_origin = True
                if by_origin is None and not origins.allow_all:
                    by_origin = origins.verdict(value)
            elif name == b"sec-fetch-site":
                cross_site = cross_site or value.strip().lower() == b"cross-site"
            elif name == b"referer":
                referer = value
        if by_origin is not None or has_origin or not cross_site or origins.allow_all:
            return by_origin
        return self._cross_site(referer)

    def _cross_site(self, referer: bytes) -> Refusal | None:
        """A request a page of another site made without an ``Origin`` (an ``<img>``, a
        no-cors fetch): refused, as its origin would be. With an ``Origin``, that decides: the
        Jupyter page on localhost:8888 is "cross-site" to 127.0.0.1 and must get in. So does
        a link clicked in it: its ``Referer`` (which a page may leave out, never forge) names
        a page the policy allows."""
        page = origin_of(referer.decode("latin-1")) if referer else None
        if page is not None and self.origins.verdict(page.encode()) is None:
            return None
        return Refusal(SEC_FETCH_SITE, "cross-site")
