"""Widgets: the panel, the handler editor and the browser-side client (ipywidgets and
anywidget)."""

from .browser_client import BrowserClient
from .editor import HandlerEditor
from .panel import Panel, panel

__all__ = ["BrowserClient", "HandlerEditor", "Panel", "panel"]
