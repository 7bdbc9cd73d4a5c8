"""A handler editor: a route pattern, the handler's body, and a Deploy button.

The body is what goes inside ``async def handler(websocket, <route parameters>):``, as in
``%%wsplay``; deploying again replaces the handler for new connections.

    wsplay.HandlerEditor("/echo")
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..framework import InvalidRouteError
from ..framework.routing import compile_pattern
from ..runtime.deploy.live import HandlerSourceError, deploy

EXAMPLE_BODY = """await websocket.accept()
while True:
    message = await websocket.receive_text()
    await websocket.send_text(message)
"""


class HandlerEditor(widgets.VBox):
    """Edit and deploy one handler; syntax and signature errors appear under it."""

    def __init__(
        self,
        pattern: str = "/echo",
        body: str = EXAMPLE_BODY,
        namespace: dict[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace if namespace is not None else _notebook_namespace()
        self.pattern = widgets.Text(value=pattern, description="Route")
        self.signature = widgets.HTML()
        self.body = widgets.Textarea(value=body, layout=widgets.Layout(width="98%", height="160px"))
        self.deploy_button = widgets.Button(
            description="Deploy", button_style="success", icon="upload"
        )
        self.result = widgets.HTML()
        self.pattern.observe(lambda _: self._show_signature(), names="value")
        self.deploy_button.on_click(lambda _: self.deploy())
        self._show_signature()
        super().__init__([self.pattern, self.signature, self.body, self.deploy_button, self.result])

    def _show_signature(self) -> None:
        try:
            parameters = ["websocket", *compile_pattern(self.pattern.value).parameters]
        except InvalidRouteError as error:
            self.signature.value = f"<span style='color:#b00'>⚠ {html.escape(str(error))}</span>"
            return
        self.signature.value = f"<code>async def handler({', '.join(parameters)}):</code>"

    def deploy(self) -> bool:
        """Deploy the body for the pattern; True if it is live."""
        try:
            deploy(self.pattern.value, self.body.value, self.namespace)
        except (InvalidRouteError, HandlerSourceError) as error:
            self.result.value = f"<pre style='color:#b00'>⚠ {html.escape(str(error))}</pre>"
            return False
        self.result.value = (
            f"<span style='color:green'>✓ {html.escape(self.pattern.value)} is live: new "
            "connections use this code.</span>"
        )
        return True


def _notebook_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}
