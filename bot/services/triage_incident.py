"""Triage an incident: correlate its scope's metrics, rank causes, link related incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.correlation.catalogue import Catalogue
from bot.correlation.engine import correlate
from bot.domain.errors import NotFoundError
from bot.domain.findings import TriageReport
from bot.domain.incidents import Incident
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import MetricsSource, Store, UnitOfWork
from bot.services.ingest_alerts import PROCESS_TASK

PLAN_TASK = "firebreak.runbooks.plan"
RELATED_LABELS = ("model_name", "service")
RELATED_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class TriageWindows:
    """How far back triage looks: the baseline, the lead before the alert, step and rate window."""

    baseline_s: float = 1800.0
    lead_s: float = 600.0
    step_s: float | None = None
    rate_window_s: float = 60.0


def related_incidents(tx: UnitOfWork, incident: Incident) -> list[Incident]:
    """Other incidents on the same model or service that overlap this one in time."""
    scope = {k: incident.labels[k] for k in RELATED_LABELS if k in incident.labels}
    if not scope:
        return []
    related = []
    for other in tx.incidents.list(limit=200):
        if other.id == incident.id or not any(other.labels.get(k) == v for k, v in scope.items()):
            continue
        ended = other.resolved_at or incident.triggered_at
        if ended >= incident.triggered_at - RELATED_WINDOW and other.triggered_at <= (
            incident.resolved_at or other.triggered_at + RELATED_WINDOW
        ):
            related.append(other)
    return related


def triage_incident(
    store: Store,
    metrics: MetricsSource,
    incident_id: int,
    now: datetime,
    chart_dir: Path,
    windows: TriageWindows = TriageWindows(),  # frozen: sharing it is safe
    *,
    catalogue: Catalogue | None = None,
) -> TriageReport:
    """Correlate, store the ranked report, note it on the timeline, and queue chat and runbooks.

    The alerts of related incidents (same model or service, overlapping in time) count as
    evidence too, and each related incident is linked both ways once.
    """
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        related = related_incidents(tx, incident)
        alert_names = {a["name"] for a in tx.alerts.for_incident(incident_id)}
        for other in related:
            alert_names |= {a["name"] for a in tx.alerts.for_incident(other.id)}
    report = correlate(
        metrics,
        dict(incident.labels),
        sorted(alert_names),
        incident.triggered_at,
        now,
        chart_dir=chart_dir / incident.ref,
        baseline_s=windows.baseline_s,
        lead_s=windows.lead_s,
        step_s=windows.step_s,
        rate_window_s=windows.rate_window_s,
        catalogue=catalogue,
    )
    document = {**report.to_dict(), "related_incidents": [o.id for o in related]}
    with store.transaction() as tx:
        tx.incidents.save_triage(incident_id, document)
        tx.timeline.append(
            TimelineEvent(
                incident_id,
                now,
                EventKind.TRIAGED,
                f"Triage: {report.headline()}",
                {
                    "hypotheses": [h.to_dict() for h in report.hypotheses[:3]],
                    "queries": len(report.queries),
                    "unavailable": dict(report.unavailable),
                    "duration_s": round(report.duration_s, 3),
                },
                actor="triage",
            )
        )
        for other in related:
            _link(tx, incident, other, now)
        tx.outbox.add(PROCESS_TASK, [incident_id])
        tx.outbox.add(PLAN_TASK, [incident_id])
    return report


def _link(tx: UnitOfWork, incident: Incident, other: Incident, now: datetime) -> None:
    """Record the relation on both timelines, once per pair."""
    low, high = sorted((incident.id, other.id))
    if not tx.ledger.claim(low, f"related:{high}"):
        return
    tx.ledger.complete(low, f"related:{high}")
    for this, that in ((incident, other), (other, incident)):
        tx.timeline.append(
            TimelineEvent(
                this.id,
                now,
                EventKind.NOTE,
                f"Related to {that.ref} ({that.title}): same model or service, overlapping in time",
                {"related_incident": that.id},
                actor="triage",
            )
        )
        tx.outbox.add(PROCESS_TASK, [this.id])
