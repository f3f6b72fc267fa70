"""render(): Markdown, JSON (valid against its schema) and self-contained HTML."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from bot.postmortem import build_postmortem, json_schema, render
from bot.postmortem.model import Postmortem
from bot.summary.offline import OfflineSummariser
from tests.fakes.summary import make_dossier, tiny_png

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
SECTIONS = [
    "Summary",
    "Impact",
    "Root causes",
    "Trigger",
    "Detection",
    "Resolution",
    "Runbook runs",
    "Similar incidents",
    "Action items",
    "Lessons learned",
    "Timeline (UTC)",
    "Supporting information",
]


@pytest.fixture
def postmortem(tmp_path: Path) -> Postmortem:
    chart = tmp_path / "queue_depth.png"
    chart.write_bytes(tiny_png())
    dossier = make_dossier(
        events=400,
        chart_paths=[str(chart)],
        description=f"<script>alert(1)</script> & token {SECRET}",
    )
    summary = OfflineSummariser().summarise(dossier)
    return build_postmortem(dossier, summary, prometheus_url="http://127.0.0.1:9090")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        self._in_heading = tag == "h2"
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag in {"script", "link", "iframe"} or (
            tag == "img" and not (values.get("src") or "").startswith("data:")
        ):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data)


def test_markdown_has_every_section(postmortem: Postmortem) -> None:
    """The Markdown postmortem has a heading for every Google SRE section."""
    markdown = render(postmortem, "md").decode()
    for section in SECTIONS:
        assert f"\n## {section}\n" in markdown
    assert "| Time to acknowledge (TTA) | 12 min (720 s) |" in markdown
    assert "### What went well" in markdown


def test_markdown_escapes_html_and_redacts(postmortem: Postmortem) -> None:
    """Alert text cannot inject raw HTML into Markdown and secrets never appear."""
    markdown = render(postmortem, "md").decode()
    assert "<script>" not in markdown
    assert SECRET not in markdown


def test_json_validates_against_its_schema(postmortem: Postmortem) -> None:
    """The JSON output validates against postmortem.schema.json, a valid 2020-12 schema."""
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(render(postmortem, "json"))
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    assert document["impact"]["time_to_resolve_s"] == 2460
    assert SECRET not in json.dumps(document)


def test_schema_rejects_a_document_missing_a_section(postmortem: Postmortem) -> None:
    """The schema is strict enough to catch a missing section."""
    document = json.loads(render(postmortem, "json"))
    del document["lessons"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())


def test_html_parses_embeds_charts_and_loads_nothing_external(postmortem: Postmortem) -> None:
    """The HTML parses, has every section, embeds charts as data URIs and has no external assets."""
    page = _Page()
    html_text = render(postmortem, "html").decode()
    page.feed(html_text)
    page.close()
    assert page.headings == SECTIONS
    assert page.images == [f"data:image/png;base64,{base64.b64encode(tiny_png()).decode()}"]
    assert page.external == []
    assert "<script>" not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; token" in html_text
    assert SECRET not in html_text


def test_html_names_a_missing_chart_instead_of_failing(tmp_path: Path) -> None:
    """A chart file that is gone is listed as unavailable, not embedded and not an error."""
    dossier = make_dossier(chart_paths=[str(tmp_path / "gone.png")])
    pm = build_postmortem(dossier, OfflineSummariser().summarise(dossier))
    html_text = render(pm, "html").decode()
    assert "Chart unavailable" in html_text
    assert "data:image" not in html_text


def test_unknown_format_is_refused(postmortem: Postmortem) -> None:
    """Only md, json and html are rendered."""
    with pytest.raises(ValueError, match="unknown postmortem format"):
        render(postmortem, "pdf")


def test_rendering_is_deterministic(postmortem: Postmortem) -> None:
    """The same postmortem renders to identical bytes in every format."""
    for fmt in ("md", "json", "html"):
        assert render(postmortem, fmt) == render(postmortem, fmt)
