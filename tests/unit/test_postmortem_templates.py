"""The Jinja2 postmortem templates: hostile incident text stays inert in HTML and Markdown, a
postmortem without runs reads as such, and the templates ship with the package."""

from __future__ import annotations

import dataclasses
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

from bot.postmortem import build_postmortem, render
from bot.postmortem.html_page import TEMPLATE as HTML_TEMPLATE
from bot.postmortem.markdown import TEMPLATE as MD_TEMPLATE
from bot.postmortem.model import Chart, Postmortem, TimelineRow
from bot.summary.offline import OfflineSummariser
from tests.fakes.summary import T0, make_dossier, tiny_png

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert('pwned')</script>"


def hostile_postmortem() -> Postmortem:
    """An incident whose alerts' summaries are a script tag, built without triage findings (so
    the trigger quotes the alert), with a chart whose title tries to break out of `alt`."""
    dossier = make_dossier(triage=False)
    alerts = tuple(
        {**alert, "annotations": {**alert["annotations"], "summary": SCRIPT}}
        for alert in dossier.alerts
    )
    pm = build_postmortem(
        dataclasses.replace(dossier, alerts=alerts), OfflineSummariser().summarise(dossier)
    )
    return dataclasses.replace(pm, charts=(Chart('x" onload="alert(1)', "queue_depth.png"),))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_a_script_in_an_alert_summary() -> None:
    """A `<script>` alert summary shows as text in the trigger and alerts table, never as a tag."""
    page = render(hostile_postmortem(), "html", load_chart=lambda path: tiny_png()).decode()
    parser = _Tags()
    parser.feed(page)
    parser.close()
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names
    assert "<script" not in page
    assert f"<p>VLLMHighLatency: {SCRIPT.replace('<', '&lt;').replace('>', '&gt;')}" in (
        page.replace("&#39;", "'")
    )
    assert sum(SCRIPT in chunk for chunk in parser.text) >= 3  # trigger and both alert rows
    [image] = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert image["alt"] == 'x" onload="alert(1)'
    assert "onload" not in image


def test_markdown_keeps_hostile_text_inert_and_table_rows_whole() -> None:
    """In Markdown a script tag becomes entities and a timeline message with a pipe and a
    newline stays one cell of one row."""
    pm = hostile_postmortem()
    message = TimelineRow(T0, "note", "al|ice", "a | b\nc <b>bold</b>")
    markdown = render(dataclasses.replace(pm, timeline=(message,)), "md").decode()
    assert "<script>" not in markdown
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in markdown
    assert "| 12:03:27 UTC | note | al\\|ice | a \\| b c &lt;b&gt;bold&lt;/b&gt; |\n" in markdown


def test_markdown_of_a_postmortem_with_no_runs() -> None:
    """Without runbook runs the section says so and holds no steps table."""
    dossier = dataclasses.replace(make_dossier("resolved"), runbook_runs=())
    pm = build_postmortem(dossier, OfflineSummariser().summarise(dossier))
    markdown = render(pm, "md").decode()
    assert "\n## Runbook runs\n\nNo runbook ran.\n\n## Similar incidents\n" in markdown
    assert "| Phase |" not in markdown
    assert markdown == markdown.rstrip() + "\n"


def test_templates_ship_as_package_data() -> None:
    """Every template file is matched by pyproject's package-data for bot.postmortem."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["bot.postmortem"]
    package = ROOT / "bot" / "postmortem"
    templates = sorted(p.relative_to(package).as_posix() for p in package.glob("templates/*"))
    assert {f"templates/{MD_TEMPLATE}", f"templates/{HTML_TEMPLATE}"} <= set(templates)
    for template in templates:
        assert any(fnmatch(template, pattern) for pattern in patterns), template
