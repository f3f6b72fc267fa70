"""The Markdown postmortem: headings per section, tables for impact, actions and the timeline.

Incident text is data, so it is escaped: `<` and `>` become entities (no raw HTML reaches a
Markdown viewer), table cells lose their pipes and newlines, PromQL sits in code spans.
"""

from __future__ import annotations

from datetime import datetime

from bot.postmortem.model import Postmortem
from bot.summary.durations import clock, human_duration, stamp


def to_markdown(pm: Postmortem) -> str:
    """The whole postmortem as one Markdown document."""
    impact = pm.impact
    lines = [
        f"# Postmortem — {text(pm.title)}",
        "",
        f"**Status:** {pm.status} · **Severity:** {pm.severity} · "
        f"**Generated:** {stamp(pm.generated_at)}",
        "",
        "## Summary",
        "",
        text(pm.summary) or "—",
        "",
        f"_{text(pm.summary_source.provenance)}_",
        "",
        f"LLM use for this incident: {pm.summary_source.llm_usage.text()}.",
        "",
        "## Impact",
        "",
        text(impact.description) or "—",
        "",
        "| Measure | Value |",
        "| --- | --- |",
        f"| Started | {stamp(impact.started_at)} |",
        f"| Ended | {stamp(impact.ended_at) if impact.ended_at else 'ongoing'} |",
        f"| Duration | {human_duration(impact.duration_s)} |",
        f"| Time to acknowledge (TTA) | {_span(impact.time_to_acknowledge_s)} |",
        f"| Time to mitigate (TTM) | {_span(impact.time_to_mitigate_s)} |",
        f"| Time to resolve (TTR) | {_span(impact.time_to_resolve_s)} |",
        f"| Alerts (firing / total) | {impact.alerts_firing} / {impact.alerts_total} |",
    ]
    if impact.scope:
        scope = ", ".join(f"{k}={v}" for k, v in sorted(impact.scope.items()))
        lines.append(f"| Scope | {cell(scope)} |")
    lines += ["", "## Root causes", ""]
    for cause in pm.root_causes:
        confidence = "" if cause.confidence is None else f" (confidence {cause.confidence:.2f})"
        lines.append(f"- **{text(cause.kind)}**{confidence}: {text(cause.explanation)}")
        lines += [f"  - {text(e)}" for e in cause.evidence]
    lines += [
        "",
        "## Trigger",
        "",
        text(pm.trigger),
        "",
        "## Detection",
        "",
        text(pm.detection),
        "",
        "## Resolution",
        "",
        text(pm.resolution),
        "",
        "## Runbook runs",
        "",
        *_runs(pm),
        "",
        "## Similar incidents",
        "",
    ]
    for match in pm.similar:
        lines.append(
            f"- **{match.incident_ref}** {text(match.title)} ({stamp(match.triggered_at)}, "
            f"{match.score:.0%} alike): {text(match.outcome)}"
        )
        lines += [f"  - {text(reason)}" for reason in match.reasons]
    if not pm.similar:
        lines.append("No earlier incident looked like this one.")
    lines += [
        "",
        "## Action items",
        "",
    ]
    if pm.action_items:
        lines += ["| Priority | Kind | Action | Source |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {a.priority} | {a.kind} | {cell(a.description)} | {a.source} |"
            for a in pm.action_items
        ]
    else:
        lines.append("None recorded.")
    lines += ["", "## Lessons learned", ""]
    for heading, items in (
        ("What went well", pm.lessons.went_well),
        ("What went wrong", pm.lessons.went_wrong),
        ("Where we got lucky", pm.lessons.got_lucky),
    ):
        lines += [f"### {heading}", ""]
        lines += [f"- {text(item)}" for item in items] or ["- None recorded."]
        lines.append("")
    lines += [
        "## Timeline (UTC)",
        "",
        "| Time | Event | Actor | Detail |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {clock(r.at)} | {cell(r.kind)} | {cell(r.actor)} | {cell(r.message)} |"
        for r in pm.timeline
    ]
    lines += ["", "## Supporting information", ""]
    for alert in pm.alerts:
        started = f" since {clock(alert.started_at)}" if alert.started_at else ""
        lines.append(f"- Alert {text(alert.name)} ({alert.status}{started}): {text(alert.text)}")
    for chart in pm.charts:
        lines.append(f"- Chart: {text(chart.title)} (`{code(chart.path)}`)")
    for query in pm.queries:
        numbers = f"baseline median {query.baseline_median}, peak {query.peak}, z {query.z}"
        link = f" — [graph]({query.link})" if query.link else ""
        lines.append(f"- {text(query.signal)}: `{code(query.promql)}` ({numbers}){link}")
    if not pm.alerts and not pm.charts and not pm.queries:
        lines.append("No charts or queries were attached.")
    return "\n".join(lines).rstrip() + "\n"


def _runs(pm: Postmortem) -> list[str]:
    """Per run: a line saying how it ended, then its steps with their real times."""
    if not pm.runs:
        return ["No runbook ran."]
    lines: list[str] = []
    for run in pm.runs:
        head = f"**{text(run.ref)} {text(run.runbook)}** on {text(run.target)}"
        lines.append(f"{head}: {text(run.outcome)}")
        lines += ["", "| Phase | Step | Status | Started | Finished | Took |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {s.phase} | {cell(s.action)} | {cell(s.status)} | {_at(s.started_at)} | "
            f"{_at(s.finished_at)} | {_took(s.duration_s)} |"
            for s in run.steps
        ]
        lines.append("")
    return lines[:-1]


def _at(at: datetime | None) -> str:
    return clock(at) if at is not None else "—"


def _took(seconds: float | None) -> str:
    return "—" if seconds is None else human_duration(seconds)


def text(value: str) -> str:
    """Incident text made inert for Markdown viewers (no raw HTML)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell(value: str) -> str:
    """Text safe inside one table cell."""
    return text(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def code(value: str) -> str:
    """Text safe inside a single-backtick code span."""
    return value.replace("`", "'").replace("\n", " ")


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else f"{human_duration(seconds)} ({round(seconds)} s)"
