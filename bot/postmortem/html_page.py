"""The HTML postmortem: one self-contained page — inline CSS, charts as base64 data: URIs.

No scripts, no external stylesheets, fonts or images; every piece of incident text goes
through `html.escape`. A chart file that cannot be read is named, not embedded.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.postmortem.model import Postmortem
from bot.summary.durations import clock, human_duration, stamp

_MIME_BY_SUFFIX = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAX_CHART_BYTES = 5 * 1024 * 1024

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1b1f24;line-height:1.45}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:3px}
.meta{color:#57606a}.elided td{color:#57606a;font-style:italic}
figure{margin:1rem 0}img{max-width:100%;border:1px solid #d0d7de}
"""

ChartLoader = Callable[[str], bytes | None]


def read_chart(path: str) -> bytes | None:
    """A chart file's bytes, or None when it is missing, unreadable or too large."""
    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size > MAX_CHART_BYTES:
            return None
        return file.read_bytes()
    except OSError:
        return None


def to_html(pm: Postmortem, load_chart: ChartLoader = read_chart) -> str:
    """The whole postmortem as one HTML document with its charts embedded."""
    e = _escape
    impact = pm.impact
    ended = stamp(impact.ended_at) if impact.ended_at else "ongoing"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Postmortem — {e(pm.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Postmortem — {e(pm.title)}</h1>",
        f'<p class="meta">Status: {e(pm.status)} · Severity: {e(pm.severity)} · '
        f"Generated: {e(stamp(pm.generated_at))}</p>",
        "<h2>Summary</h2>",
        f"<p>{e(pm.summary) or '—'}</p>",
        f'<p class="meta"><em>{e(pm.summary_source.provenance)}</em></p>',
        f'<p class="meta">LLM use for this incident: {e(pm.summary_source.llm_usage.text())}.</p>',
        "<h2>Impact</h2>",
        f"<p>{e(impact.description) or '—'}</p>",
        _table(
            ("Measure", "Value"),
            [
                ("Started", stamp(impact.started_at)),
                ("Ended", ended),
                ("Duration", human_duration(impact.duration_s)),
                ("Time to acknowledge (TTA)", _span(impact.time_to_acknowledge_s)),
                ("Time to mitigate (TTM)", _span(impact.time_to_mitigate_s)),
                ("Time to resolve (TTR)", _span(impact.time_to_resolve_s)),
                ("Alerts (firing / total)", f"{impact.alerts_firing} / {impact.alerts_total}"),
                ("Scope", ", ".join(f"{k}={v}" for k, v in sorted(impact.scope.items()))),
            ],
        ),
        "<h2>Root causes</h2>",
        "<ul>",
    ]
    for cause in pm.root_causes:
        confidence = "" if cause.confidence is None else f" (confidence {cause.confidence:.2f})"
        evidence = "".join(f"<li>{e(item)}</li>" for item in cause.evidence)
        parts.append(
            f"<li><strong>{e(cause.kind)}</strong>{e(confidence)}: {e(cause.explanation)}"
            + (f"<ul>{evidence}</ul>" if evidence else "")
            + "</li>"
        )
    parts += [
        "</ul>",
        f"<h2>Trigger</h2><p>{e(pm.trigger)}</p>",
        f"<h2>Detection</h2><p>{e(pm.detection)}</p>",
        f"<h2>Resolution</h2><p>{e(pm.resolution)}</p>",
        "<h2>Runbook runs</h2>",
        _runs(pm),
        "<h2>Similar incidents</h2>",
        _similar(pm),
        "<h2>Action items</h2>",
        _table(
            ("Priority", "Kind", "Action", "Source"),
            [(a.priority, a.kind, a.description, a.source) for a in pm.action_items],
        )
        if pm.action_items
        else "<p>None recorded.</p>",
        "<h2>Lessons learned</h2>",
    ]
    for heading, items in (
        ("What went well", pm.lessons.went_well),
        ("What went wrong", pm.lessons.went_wrong),
        ("Where we got lucky", pm.lessons.got_lucky),
    ):
        listed = "".join(f"<li>{e(item)}</li>" for item in items) or "<li>None recorded.</li>"
        parts.append(f"<h3>{heading}</h3><ul>{listed}</ul>")
    parts += ["<h2>Timeline (UTC)</h2>", "<table><tr><th>Time</th><th>Event</th>"]
    parts[-1] += "<th>Actor</th><th>Detail</th></tr>"
    for row in pm.timeline:
        css = ' class="elided"' if row.kind == "elided" else ""
        parts.append(
            f"<tr{css}><td>{e(clock(row.at))}</td><td>{e(row.kind)}</td>"
            f"<td>{e(row.actor)}</td><td>{e(row.message)}</td></tr>"
        )
    parts += ["</table>", "<h2>Supporting information</h2>"]
    if pm.alerts:
        parts.append(
            _table(
                ("Alert", "Status", "Since", "Annotations"),
                [
                    (a.name, a.status, clock(a.started_at) if a.started_at else "—", a.text)
                    for a in pm.alerts
                ],
            )
        )
    for chart in pm.charts:
        parts.append(_figure(chart.title, chart.path, load_chart))
    if pm.queries:
        parts.append("<ul>")
        for query in pm.queries:
            link = f' — <a href="{e(query.link)}">graph</a>' if query.link else ""
            parts.append(
                f"<li>{e(query.signal)}: <code>{e(query.promql)}</code> "
                f"(baseline median {e(str(query.baseline_median))}, peak {e(str(query.peak))}, "
                f"z {e(str(query.z))}){link}</li>"
            )
        parts.append("</ul>")
    if not pm.alerts and not pm.charts and not pm.queries:
        parts.append("<p>No charts or queries were attached.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _similar(pm: Postmortem) -> str:
    if not pm.similar:
        return "<p>No earlier incident looked like this one.</p>"
    items = []
    for match in pm.similar:
        reasons = "".join(f"<li>{_escape(r)}</li>" for r in match.reasons)
        items.append(
            f"<li><strong>{_escape(match.incident_ref)}</strong> {_escape(match.title)} "
            f"({_escape(stamp(match.triggered_at))}, {match.score:.0%} alike): "
            f"{_escape(match.outcome)}" + (f"<ul>{reasons}</ul>" if reasons else "") + "</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _runs(pm: Postmortem) -> str:
    if not pm.runs:
        return "<p>No runbook ran.</p>"
    parts = []
    for run in pm.runs:
        parts.append(
            f"<p><strong>{_escape(run.ref)} {_escape(run.runbook)}</strong> on "
            f"{_escape(run.target)}: {_escape(run.outcome)}</p>"
        )
        rows = [
            (
                s.phase,
                s.action,
                s.status,
                clock(s.started_at) if s.started_at else "—",
                clock(s.finished_at) if s.finished_at else "—",
                "—" if s.duration_s is None else human_duration(s.duration_s),
            )
            for s in run.steps
        ]
        parts.append(_table(("Phase", "Step", "Status", "Started", "Finished", "Took"), rows))
    return "".join(parts)


def _figure(title: str, path: str, load_chart: ChartLoader) -> str:
    mime = _MIME_BY_SUFFIX.get(Path(path).suffix.lower())
    data = load_chart(path) if mime else None
    if mime is None or data is None:
        return f"<p>Chart unavailable: <code>{_escape(path)}</code></p>"
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img alt="{_escape(title)}" src="data:{mime};base64,{encoded}">'
        f"<figcaption>{_escape(title)}</figcaption></figure>"
    )


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{_escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _escape(value: str | None) -> str:
    return html.escape(value or "", quote=True)


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else f"{human_duration(seconds)} ({round(seconds)} s)"
