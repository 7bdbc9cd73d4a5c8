"""A panel client whose handshake fails leaves "connecting", says why, and can connect again.

The websockets client refuses some inputs before sending anything (a subprotocol that is not
a token, a header value outside Latin-1): the panel says so next to its boxes, and a client
model given them directly (a cell) ends its attempt with the reason, never stuck.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest

from tests.kernel import Kernel
from tests.test_ui_kernel import SETUP

BAD_INPUTS = [
    ("subprotocols", "chat/v1", "'chat/v1' cannot be offered as a subprotocol"),
    ("headers", "x-name: €", "The value of header 'x-name' cannot be sent"),
]


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(SETUP)
        yield kernel


@pytest.mark.parametrize(("box", "typed", "said"), BAD_INPUTS, ids=["subprotocol", "header"])
def test_the_panel_says_what_cannot_be_sent_and_stays_ready(
    kernel: Kernel, box: str, typed: str, said: str
) -> None:
    result = kernel.run(
        textwrap.dedent(
            f"""
            import html, json
            c.path.value, c.headers.value, c.subprotocols.value = "/echo", "", ""
            c.{box}.value = {typed!r}
            c.connect_button.click()
            wait_for(c.connect_error, "value", lambda v: {said!r} in html.unescape(v))
            said = [html.unescape(c.connect_error.value), c.model.busy, c.connect_button.disabled]
            c.{box}.value = ""
            c.connect_button.click()  # fixed: it connects
            wait_for(c.status, "value", lambda v: "open" in v)
            c.close_button.click()
            wait_for(c.connect_button, "disabled", lambda d: not d)
            print(json.dumps(said))
            """
        )
    )
    error, busy, disabled = json.loads(result.stdout.strip().splitlines()[-1])
    assert said in error and "e.g." in error  # what is wrong, and what to type
    assert not busy and not disabled  # never "connecting": Connect stays available


@pytest.mark.parametrize(
    ("headers", "subprotocols", "said"),
    [([], ["chat/v1"], "invalid subprotocol: chat/v1"), ([("x-name", "€")], [], "x-name")],
    ids=["subprotocol", "header"],
)
def test_a_handshake_failing_before_any_io_leaves_connecting(
    kernel: Kernel, headers: list, subprotocols: list, said: str
) -> None:
    result = kernel.run(
        textwrap.dedent(
            f"""
            import json
            c.model.connect("/echo", {headers!r}, {subprotocols!r})
            wait_for(c.status, "value", lambda v: "✗" in v and {said!r} in v)
            wait_for(c.connect_button, "disabled", lambda d: not d)
            print(json.dumps([c.model.busy, c.status.value]))
            """
        )
    )
    busy, status = json.loads(result.stdout.strip().splitlines()[-1])
    assert not busy
    assert "Could not connect:" in status and said in status
    assert "refused" not in status  # nothing reached the server: it refused nothing
