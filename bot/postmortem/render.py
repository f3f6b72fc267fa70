"""render(postmortem, fmt): the postmortem as Markdown, JSON or self-contained HTML bytes.

Every output passes a last redaction (the postmortem is built from redacted data already;
this guards text that reached it another way). JSON follows the schema generated from
document.py's models (`json_schema()`, committed as `postmortem.schema.json`).
"""

from __future__ import annotations

import json
from typing import Literal

from bot.domain.redaction import redact, redact_obj
from bot.postmortem.document import json_schema
from bot.postmortem.html_page import ChartLoader, read_chart, to_html
from bot.postmortem.markdown import to_markdown
from bot.postmortem.model import Postmortem

__all__ = ["FORMATS", "MEDIA_TYPES", "Format", "json_schema", "render"]

Format = Literal["md", "json", "html"]
FORMATS: tuple[Format, ...] = ("md", "json", "html")
MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


def render(postmortem: Postmortem, fmt: str, *, load_chart: ChartLoader = read_chart) -> bytes:
    """The postmortem in `fmt` (md, json or html) as UTF-8 bytes; ValueError for other formats."""
    if fmt == "md":
        return redact(to_markdown(postmortem)).encode()
    if fmt == "json":
        document = redact_obj(postmortem.to_dict())
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "html":
        return redact(to_html(postmortem, load_chart)).encode()
    raise ValueError(f"unknown postmortem format {fmt!r}; expected one of {', '.join(FORMATS)}")
