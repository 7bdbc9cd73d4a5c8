"""Widgets: the panel and the handler editor (ipywidgets, with an anywidget timeline)."""

from .editor import HandlerEditor
from .panel import Panel, panel

__all__ = ["HandlerEditor", "Panel", "panel"]
