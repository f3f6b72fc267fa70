"""build_postmortem: a Postmortem from an incident dossier and its summary, everything redacted.

Durations come from the incident's transition timestamps (never typed in); the timeline is the
dossier's, in time order, with repeated alert events collapsed into counts and the lifecycle
transitions added when no status event records them; PromQL gets a Prometheus graph link
when `prometheus_url` is given. Similar incidents arrive as incident memory's dicts
(bot/services/recall_incidents.py `SimilarIncident.to_dict`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from bot.domain.redaction import redact, redact_obj
from bot.domain.timeline import EventKind
from bot.postmortem.lessons import action_items, detection_delay_s, earliest_onset, lessons
from bot.postmortem.model import (
    AlertRow,
    Chart,
    Impact,
    Postmortem,
    Query,
    RootCause,
    SimilarIncident,
    SummarySource,
    TimelineRow,
)
from bot.postmortem.runs import runbook_runs
from bot.summary.compaction import collapse_timeline
from bot.summary.dossier import IncidentDossier, alert_name, alert_started
from bot.summary.durations import as_utc, clock, human_duration, parse_time
from bot.summary.offline import finding_sentence, run_sentence
from bot.summary.summary import Summary, SuspectedCause, llm_usage

MIN_ROOT_CAUSE_CONFIDENCE = 0.3


def build_postmortem(
    dossier: IncidentDossier,
    summary: Summary,
    *,
    prometheus_url: str | None = None,
    generated_at: datetime | None = None,
    similar: Sequence[Mapping[str, Any]] = (),
) -> Postmortem:
    """The postmortem of `dossier`; `generated_at` defaults to the dossier's 'now'."""
    dossier = dossier.redacted(timeline=False)  # the kept timeline rows are redacted below
    summary = _redacted_summary(summary)
    incident = dossier.incident
    return Postmortem(
        incident_ref=incident.ref,
        title=f"{incident.ref}: {incident.title}",
        status=str(incident.status),
        severity=str(incident.severity),
        generated_at=as_utc(generated_at or dossier.observed_until),
        summary=" ".join(p for p in (summary.what_happened, summary.current_state) if p),
        summary_source=SummarySource(
            summary.model,
            summary.ai_generated,
            summary.provenance,
            summary.dropped_sentences,
            llm_usage(dossier.timeline),
        ),
        impact=_impact(dossier, summary),
        root_causes=_root_causes(dossier, summary.suspected_cause),
        trigger=_trigger(dossier),
        detection=_detection(dossier),
        resolution=_resolution(dossier),
        action_items=action_items(dossier, summary),
        lessons=lessons(dossier),
        timeline=_timeline(dossier),
        charts=tuple(Chart(PurePath(p).stem.replace("_", " "), p) for p in dossier.chart_paths),
        queries=_queries(dossier, prometheus_url),
        alerts=_alerts(dossier),
        similar=tuple(_similar(redact_obj(dict(match))) for match in similar),
        runs=runbook_runs(dossier),
    )


def _similar(match: Mapping[str, Any]) -> SimilarIncident:
    outcome = match.get("outcome") or {}
    verified = outcome.get("verified")
    return SimilarIncident(
        incident_ref=str(match["ref"]),
        title=str(match.get("title", "")),
        triggered_at=parse_time(match.get("triggered_at")) or datetime.fromtimestamp(0, UTC),
        score=float(match.get("score", 0.0)),
        reasons=tuple(str(r) for r in match.get("reasons") or ()),
        runbook=None if outcome.get("runbook") is None else str(outcome["runbook"]),
        verified=verified if isinstance(verified, bool) else None,
        time_to_mitigate_s=_float(outcome.get("time_to_mitigate_s")),
        held=str(outcome.get("held", "open")),
        outcome=str(outcome.get("text", "")),
    )


def _alerts(dossier: IncidentDossier) -> tuple[AlertRow, ...]:
    rows = []
    for alert in dossier.alerts:
        annotations = alert.get("annotations") or {}
        parts = [str(annotations.get(k, "")) for k in ("summary", "description")]
        rows.append(
            AlertRow(
                name=alert_name(alert),
                status=str(alert.get("status", "")),
                started_at=alert_started(alert),
                text=" — ".join(p for p in parts if p),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.started_at is None, r.started_at, r.name)))


def _impact(dossier: IncidentDossier, summary: Summary) -> Impact:
    incident = dossier.incident
    started = as_utc(incident.triggered_at)
    ended = as_utc(incident.resolved_at) if incident.resolved_at else None
    spans = incident.durations_s()
    return Impact(
        started_at=started,
        ended_at=ended,
        duration_s=((ended or dossier.observed_until) - started).total_seconds(),
        time_to_acknowledge_s=spans["tta_s"],
        time_to_mitigate_s=spans["ttm_s"],
        time_to_resolve_s=spans["ttr_s"],
        alerts_total=len(dossier.alerts),
        alerts_firing=len(dossier.firing_alerts),
        scope=dict(incident.labels),
        description=summary.impact,
    )


def _root_causes(dossier: IncidentDossier, cause: SuspectedCause) -> tuple[RootCause, ...]:
    causes = []
    for rank, hypothesis in enumerate(dossier.hypotheses):
        confidence = hypothesis.get("confidence")
        value = float(confidence) if isinstance(confidence, int | float) else None
        if rank > 0 and (value is None or value < MIN_ROOT_CAUSE_CONFIDENCE):
            continue
        causes.append(
            RootCause(
                kind=str(hypothesis.get("kind", "unknown")),
                confidence=value,
                explanation=str(hypothesis.get("explanation", "")),
                evidence=tuple(str(e) for e in hypothesis.get("evidence") or []),
            )
        )
    if not causes:
        causes.append(RootCause(cause.kind, cause.confidence, cause.text))
    return tuple(causes)


def _trigger(dossier: IncidentDossier) -> str:
    onset = earliest_onset(dossier)
    first = next(
        (f for f in dossier.findings if onset and parse_time(f.get("onset")) == onset[0]), None
    )
    if first is not None:
        return f"The first signal to move: {finding_sentence(first)}"
    for alert in dossier.alerts:
        annotations = alert.get("annotations") or {}
        text = annotations.get("summary") or annotations.get("description")
        if text:
            return f"{alert_name(alert)}: {text}"
    return "Not determined from the available data."


def _detection(dossier: IncidentDossier) -> str:
    incident = dossier.incident
    names = sorted({alert_name(a) for a in dossier.alerts}) or ["an alert"]
    text = f"Alertmanager alert {', '.join(names[:3])} triggered {incident.ref} at "
    text += f"{clock(incident.triggered_at)}"
    delay_s = detection_delay_s(dossier)
    onset = earliest_onset(dossier)
    if delay_s is not None and onset is not None:
        when = "after" if delay_s >= 0 else "before"
        text += f", {human_duration(abs(delay_s))} {when} {onset[1]} began to move"
    text += "."
    tta_s = incident.durations_s()["tta_s"]
    if tta_s is not None:
        who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        text += f" Acknowledged{who} {human_duration(tta_s)} after it triggered."
    else:
        text += " It was never acknowledged."
    return text


def _resolution(dossier: IncidentDossier) -> str:
    incident = dossier.incident
    parts = [run_sentence(run) for run in dossier.runbook_runs]
    spans = incident.durations_s()
    if incident.mitigated_at is not None and spans["ttm_s"] is not None:
        parts.append(
            f"Mitigated at {clock(incident.mitigated_at)}, "
            f"{human_duration(spans['ttm_s'])} after it triggered."
        )
    if incident.resolved_at is not None and spans["ttr_s"] is not None:
        who = f" by {incident.resolved_by}" if incident.resolved_by else ""
        parts.append(
            f"Resolved{who} at {clock(incident.resolved_at)}, "
            f"{human_duration(spans['ttr_s'])} after it triggered."
        )
    else:
        parts.append(f"Not resolved yet; the incident is {incident.status}.")
    return " ".join(parts)


def _timeline(dossier: IncidentDossier) -> tuple[TimelineRow, ...]:
    rows: list[TimelineRow] = []
    for row in collapse_timeline(dossier.timeline):
        if "elided" in row:
            start = parse_time(row["from"]) or dossier.observed_until
            end = parse_time(row["to"]) or start
            span = f" ({clock(start)} to {clock(end)})" if end > start else ""
            rows.append(TimelineRow(start, "elided", "", f"{row['elided']}{span}"))
            continue
        row_at = parse_time(row["at"]) or dossier.observed_until
        rows.append(TimelineRow(row_at, row["kind"], redact(row["actor"]), redact(row["message"])))
    status_times = [as_utc(e.at) for e in dossier.timeline if e.kind is EventKind.STATUS_CHANGED]
    incident = dossier.incident
    transitions: tuple[tuple[str, datetime | None, str | None], ...] = (
        ("triggered", incident.triggered_at, None),
        ("acknowledged", incident.acknowledged_at, incident.acknowledged_by),
        ("mitigated", incident.mitigated_at, None),
        ("resolved", incident.resolved_at, incident.resolved_by),
    )
    for label, at, by in transitions:
        if at is None:
            continue
        recorded = any(abs((t - as_utc(at)).total_seconds()) <= 1 for t in status_times)
        opened = label == "triggered" and any(
            e.kind is EventKind.INCIDENT_OPENED for e in dossier.timeline
        )
        if not recorded and not opened:
            rows.append(TimelineRow(as_utc(at), "status_changed", by or "firebreak", label))
    return tuple(sorted(rows, key=lambda r: r.at))


def _queries(dossier: IncidentDossier, prometheus_url: str | None) -> tuple[Query, ...]:
    incident = dossier.incident
    end = (as_utc(incident.resolved_at) if incident.resolved_at else dossier.observed_until) + (
        timedelta(minutes=10)
    )
    start = as_utc(incident.triggered_at) - timedelta(minutes=30)
    range_min = max(1, math.ceil((end - start).total_seconds() / 60))
    queries = []
    for finding in dossier.findings:
        promql = str(finding.get("promql", ""))
        if not promql:
            continue
        link = None
        if prometheus_url:
            link = (
                f"{prometheus_url.rstrip('/')}/graph?g0.expr={quote(promql, safe='')}"
                f"&g0.tab=0&g0.range_input={range_min}m"
                f"&g0.end_input={quote(end.strftime('%Y-%m-%d %H:%M:%S'))}"
            )
        queries.append(
            Query(
                signal=str(finding.get("signal", "")),
                promql=promql,
                link=link,
                baseline_median=_float(finding.get("baseline_median")),
                peak=_float(finding.get("peak")),
                z=_float(finding.get("z")),
            )
        )
    return tuple(queries)


def _redacted_summary(summary: Summary) -> Summary:
    cause = summary.suspected_cause
    return dataclasses.replace(
        summary,
        what_happened=redact(summary.what_happened),
        impact=redact(summary.impact),
        suspected_cause=dataclasses.replace(cause, text=redact(cause.text)),
        actions_taken=tuple(redact_obj(list(summary.actions_taken))),
        current_state=redact(summary.current_state),
        next_steps=tuple(redact_obj(list(summary.next_steps))),
    )


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
