"""The Origin policy: pages from other sites cannot reach the handlers in a learner's kernel.

The policy's rules are checked directly, then in a real ipykernel against the real
``websockets`` client sending the Origin a browser would send (a browser cannot lie about
it, and this client can: that is what lets the test play every site).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.kernel import Kernel
from wsplay.runtime.server.origins import OriginPolicy, origin_of

TIMEOUT = 10


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        ("http://127.0.0.1:8888", True),
        ("http://127.8.9.10:1", True),
        ("http://localhost:8888", True),
        ("https://localhost", True),
        ("http://[::1]:9000", True),
        ("http://app.localhost:3000", True),
        ("https://evil.example", False),
        ("http://127.0.0.1.evil.example", False),
        ("http://localhost.evil.example", False),
        ("null", False),
        ("file://", False),
        ("not a url", False),
        ("http://10.0.0.5:8888", False),
    ],
)
def test_what_the_default_policy_lets_in(origin: str | None, accepted: bool) -> None:
    headers = [] if origin is None else [(b"origin", origin.encode())]
    assert (OriginPolicy().refusal(headers) is None) is accepted


def test_allowed_origins_widen_it_and_star_turns_it_off() -> None:
    policy = OriginPolicy(["https://class.example"])
    assert policy.refusal([(b"origin", b"https://class.example")]) is None
    assert policy.refusal([(b"origin", b"https://class.example:443")]) is None
    assert policy.refusal([(b"origin", b"https://other.example")]) is not None
    assert OriginPolicy("*").refusal([(b"origin", b"null")]) is None
    with pytest.raises(ValueError, match="allowed_origins takes origins"):
        OriginPolicy(["class.example"])


def test_the_hub_origin_and_the_jupyter_page_are_trusted(monkeypatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/")
    policy = OriginPolicy()
    assert policy.refusal([(b"origin", b"https://hub.example.org")]) is None
    policy.trust("https://lab.example.net/user/ada/lab/tree/01.ipynb")
    assert policy.refusal([(b"origin", b"https://lab.example.net")]) is None
    assert origin_of("HTTPS://Lab.Example.NET:443/x") == "https://lab.example.net"


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(
            textwrap.dedent("""
            import wsplay
            from wsplay import WebSocket, ws

            secret = "the notebook's variables"

            @ws("/echo")
            async def echo(websocket: WebSocket):
                await websocket.accept()
                await websocket.send_text(secret)

            pg = wsplay.start()
            """)
        )
        yield kernel


def handshake(url: str, origin: str | None) -> int | str:
    try:
        with connect(f"{url}/echo", origin=origin, open_timeout=TIMEOUT) as client:
            return client.recv(timeout=TIMEOUT)
    except InvalidStatus as refused:
        return refused.response.status_code


def test_a_page_from_another_site_is_refused_and_told_once(kernel: Kernel) -> None:
    url = kernel.value("pg.url")
    before = len(kernel.stray_output)
    assert handshake(url, "https://evil.example") == 403
    assert handshake(url, "https://evil.example") == 403
    assert handshake(url, "null") == 403
    for origin in (None, "http://127.0.0.1:9999", "http://localhost:8888"):
        assert handshake(url, origin) == "the notebook's variables"
    rejects = kernel.value("[(e.code, e.reason) for e in pg.timeline.events(kind='reject')]")
    assert rejects == [
        [403, "Origin https://evil.example is not allowed"],
        [403, "Origin https://evil.example is not allowed"],
        [403, "Origin null is not allowed"],
    ]
    shown = kernel.run("pass").stderr + "".join(
        message["content"].get("text", "")
        for message in kernel.stray_output[before:]
        if message["msg_type"] == "stream"
    )
    assert shown.count("refused a WebSocket handshake from https://evil.example") == 1
    assert "wsplay.start(allowed_origins=['https://evil.example'])" in shown
    assert "Exception" not in shown and "without completing handshake" not in shown


def test_allowed_origins_lets_a_trusted_site_in(kernel: Kernel) -> None:
    kernel.run('pg = wsplay.start(allowed_origins=["https://class.example"])')
    url = kernel.value("pg.url")
    assert handshake(url, "https://class.example") == "the notebook's variables"
    assert handshake(url, "https://evil.example") == 403
    kernel.run('pg = wsplay.start(allowed_origins="*")')
    assert handshake(kernel.value("pg.url"), "https://evil.example") == "the notebook's variables"
    kernel.run("pg = wsplay.start(allowed_origins=())")
