"""``to_html`` draws every event whatever text it holds (issue 19.5), in real Chromium.

The page embeds the timeline's rows as JSON in a ``<script>`` element. A message or a
refused path holding ``<!--<script>`` used to make the parser skip the element's real end,
so the page drew nothing; ``</script>`` could end it early and run what follows. The rows
are escaped for ``<``, ``>``, ``&``, U+2028 and U+2029: the page draws each event with its
text as sent, and no script from the data runs.
"""

from __future__ import annotations

from pathlib import Path

from tests.jupyterlab import TIMEOUT_MS, require_chromium
from wsplay.runtime.timeline.kinds import ACCEPT, CLOSE, HANDSHAKE, REJECT, Kind
from wsplay.runtime.timeline.store import Event, Timeline

RAN = "window.__injected = (window.__injected || 0) + 1"
PAYLOADS = [
    "<!--<script>",
    f"</script><script>{RAN}</script>",
    f"<img src=x onerror='{RAN}'>",
    "a\u2028b\u2029c & &amp; <b>bold</b>",
]


def hostile_timeline() -> Timeline:
    timeline = Timeline()
    for number, payload in enumerate(PAYLOADS, 1):
        refused, talked = 2 * number, 2 * number + 1
        path = f"/{payload}"
        timeline.record(Event(1.0, refused, "server", HANDSHAKE, path=path))
        timeline.record(Event(1.1, refused, "server", REJECT, code=403, reason=payload))
        timeline.record(Event(1.2, talked, "server", HANDSHAKE, path="/echo"))
        timeline.record(Event(1.3, talked, "server", ACCEPT))
        timeline.message(talked, "server", "in", payload)
        timeline.message(talked, "server", "out", payload)
        timeline.record(Event(1.4, talked, "server", CLOSE, code=1000, reason="", by="client"))
    return timeline


def test_a_page_with_script_like_text_draws_every_event_and_runs_none(
    browser, tmp_path: Path
) -> None:
    require_chromium()
    timeline = hostile_timeline()
    page_file = timeline.to_html(tmp_path / "hostile.html")
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_file.as_uri())
        events = len([e for e in timeline.events() if e.side == "server"])
        page.wait_for_function(
            f"() => document.querySelectorAll('.wsplay-timeline .wsp-row').length === {events}",
            timeout=TIMEOUT_MS,
        )
        labels = page.locator(".wsplay-timeline .wsp-label").all_text_contents()
        for payload in PAYLOADS:
            assert f"GET /{payload} Upgrade: websocket" in labels
            assert any(label.startswith(f"text {payload} (") for label in labels), payload
        assert page.evaluate("() => window.__injected") is None, "a script from the data ran"
        assert page.locator(".wsplay-timeline img, .wsplay-timeline b").count() == 0
        # The kind filter offers the Python side's kinds, sent with the rows (no JS copy).
        offered = page.locator("select.wsp-f-kind option").all_text_contents()
        assert offered == ["every kind", *[kind.value for kind in Kind]]
        assert errors == []
    finally:
        page.close()
