"""Triage an incident: correlate its scope's metrics and announced changes, rank causes, relate
it to its storm."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from bot.correlation.catalogue import Catalogue
from bot.correlation.engine import correlate
from bot.domain.errors import NotFoundError
from bot.domain.findings import FindingStatus, TriageReport
from bot.domain.task_names import TaskName
from bot.domain.telemetry import TRIAGE_NO_DATA, TRIAGE_SECONDS, UNRECORDED
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import MetricsSource, Store, Telemetry, UnitOfWork
from bot.services.queue_triage import begin_triage, settle_triage
from bot.services.recall_incidents import recall, remember_triage
from bot.services.record_change import changes_before, land_changes
from bot.services.relate_incidents import join_storm

RECALLED_STEP = "memory:recalled"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TriageWindows:
    """How far back triage looks: the baseline, the lead before the alert, step and rate window."""

    baseline_s: float = 1800.0
    lead_s: float = 600.0
    step_s: float | None = None
    rate_window_s: float = 60.0


def triage_incident(
    store: Store,
    metrics: MetricsSource,
    incident_id: int,
    now: datetime,
    chart_dir: Path,
    windows: TriageWindows = TriageWindows(),  # frozen: sharing it is safe
    *,
    catalogue: Catalogue | None = None,
    follow_up_s: float = 0.0,
    token: int | None = None,
    telemetry: Telemetry = UNRECORDED,
) -> TriageReport | None:
    """Correlate, store the ranked report, note it on the timeline, and queue chat and runbooks.

    The incident joins its scope's storm (bot/services/relate_incidents.py) the first time; the
    storm's alert names (bounded) count as evidence too. Its traits are remembered for incident
    memory (bot/services/recall_incidents.py), and the first triage that finds earlier incidents
    like it notes the best one on the timeline. `follow_up_s` > 0 queues a follow-up
    triage that much later: until then no other triage is queued for the incident.

    `token` is the one the triage was queued with (bot/services/queue_triage.py): a triage whose
    token is spent (a redelivered task that already took effect) answers None and writes
    nothing, so at-least-once delivery stores one report, one timeline entry, one follow-up.

    Its duration is recorded by result (ok; degraded: a metrics source was unavailable;
    failed: it raised), and every signal it could not judge is counted.
    """
    started = time.perf_counter()
    try:
        report = _triage(
            store, metrics, incident_id, now, chart_dir, windows, catalogue, follow_up_s, token
        )
    except Exception:
        telemetry.observe(TRIAGE_SECONDS, time.perf_counter() - started, {"result": "failed"})
        raise
    if report is not None:
        result = "degraded" if report.unavailable else "ok"
        telemetry.observe(TRIAGE_SECONDS, time.perf_counter() - started, {"result": result})
        for finding in report.findings:
            if finding.status in (FindingStatus.INCONCLUSIVE, FindingStatus.UNAVAILABLE):
                labels = {"signal": finding.signal, "status": finding.status.value}
                telemetry.count(TRIAGE_NO_DATA, labels)
    return report


def _triage(
    store: Store,
    metrics: MetricsSource,
    incident_id: int,
    now: datetime,
    chart_dir: Path,
    windows: TriageWindows,
    catalogue: Catalogue | None,
    follow_up_s: float,
    token: int | None,
) -> TriageReport | None:
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        if not begin_triage(tx, incident_id, token):
            log.info("triage_skipped", incident_id=incident_id, token=token, reason="token_spent")
            return None
        alert_names = {a["name"] for a in tx.alerts.for_incident(incident_id)}
        storm = join_storm(tx, incident, alert_names, now)
        changes = changes_before(tx, incident, windows.lead_s, now)
    if storm is not None:
        alert_names |= set(storm.alert_names)
    report = correlate(
        metrics,
        dict(incident.labels),
        sorted(alert_names),
        incident.triggered_at,
        now,
        chart_dir=chart_dir.resolve() / incident.ref,  # absolute: any process may read them
        baseline_s=windows.baseline_s,
        lead_s=windows.lead_s,
        step_s=windows.step_s,
        rate_window_s=windows.rate_window_s,
        catalogue=catalogue,
        changes=changes,
    )
    related = storm.others(incident_id) if storm is not None else []
    document = {
        **report.to_dict(),
        "related_incidents": [m.id for m in related],
        "storm": storm.to_dict() if storm is not None else None,
    }
    with store.transaction() as tx:
        if not settle_triage(tx, incident_id, now, follow_up_s, token):
            log.info("triage_skipped", incident_id=incident_id, token=token, reason="settled")
            return None
        tx.triages.save(incident_id, document)
        land_changes(tx, incident, changes)
        remember_triage(tx, incident, document)
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
        _note_recalled(tx, incident_id, now)
        tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
        tx.outbox.add(TaskName.PLAN_RUNBOOKS, [incident_id])
    return report


def _note_recalled(tx: UnitOfWork, incident_id: int, now: datetime) -> None:
    """Once per incident: name the earlier incident most like it, and what became of it."""
    found = recall(tx, incident_id, limit=1)
    if not found or not tx.ledger.claim(incident_id, RECALLED_STEP):
        return
    best = found[0]
    tx.ledger.complete(incident_id, RECALLED_STEP, {"incident_id": best.past.incident_id})
    tx.timeline.append(
        TimelineEvent(
            incident_id,
            now,
            EventKind.NOTE,
            f"Seen before: {best.line(now)}",
            {"similar": best.to_dict(now)},
            actor="memory",
        )
    )
