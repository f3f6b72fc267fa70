"""Postmortems: built from an incident dossier and its summary, rendered as md, json or html.

pm = build_postmortem(dossier, summary, prometheus_url=settings.prometheus_url)
body = render(pm, "html")
"""

from bot.postmortem.build import build_postmortem
from bot.postmortem.document import json_schema
from bot.postmortem.model import Postmortem
from bot.postmortem.render import FORMATS, MEDIA_TYPES, render

__all__ = ["FORMATS", "MEDIA_TYPES", "Postmortem", "build_postmortem", "json_schema", "render"]
