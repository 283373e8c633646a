"""The query side of the window: what a drop or paste holds, and the panel showing the query."""

from photofind.gui.query_panel.mime import DropPayload, accepts, parse_mime, remote_message
from photofind.gui.query_panel.panel import QueryPanel

__all__ = ["DropPayload", "QueryPanel", "accepts", "parse_mime", "remote_message"]
