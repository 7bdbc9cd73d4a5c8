"""What a request the gate refused (origins.py) is answered: HTTP 403 with a sentence.

The sentence names the problem and the fix. Browsers hide it from the page (a WebSocket
only sees 1006, a rebinding page must not read it anyway), but curl, the kernel's client and
the learner's tools show it; the notebook is told too, through the playground's notices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ...framework.shown import shown_text
from ..server.origins import REFUSED_STATUS, Refusal
from ..timeline.kinds import GATE, SERVER, WARNING
from ..timeline.store import Event, Timeline


def plain_text(text: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(headers, body) of a plain-text answer."""
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    return headers, body


async def refuse_http(
    scope: dict[str, Any],
    send: Any,
    refusal: Refusal,
    timeline: Timeline,
    on_refused: Callable[[Refusal, str], None],
) -> None:
    """A plain HTTP request the gate refused: 403 with the sentence, never the app's body (a
    rebinding page could read it). Drawn on the server's line of the timeline, as the
    server's other warnings are: an HTTP request is no connection of its own."""
    path = shown_text(scope.get("path", ""))
    request = f"an HTTP request ({scope.get('method', 'GET')} {path})"
    timeline.record(
        Event(
            time.time(),
            0,
            SERVER,
            WARNING,
            code=REFUSED_STATUS,
            reason=refusal.reason,
            preview=f"refused {request}: {refusal.reason}",
            asked_by=GATE,
            headers=refusal.headers,
        )
    )
    on_refused(refusal, request)
    headers, body = plain_text(refusal.explain(request))
    await send({"type": "http.response.start", "status": REFUSED_STATUS, "headers": headers})
    await send({"type": "http.response.body", "body": body})
