"""Record a change: decide it at the gate, keep it, and put it on the incidents it touches.

A model's deploy or config change is decided by the gate as it is recorded, in the same
transaction. While the gate is closed the change is kept as *held* — the pipeline is told to
hold it — unless an approver's exception lets it through. The next change recorded for a model
uses its exception whether or not the gate needed it, so an exception never lingers for a
later, unrelated deploy; two changes racing for one exception cannot both use it. Rollbacks
(Firebreak's own included) and service-wide changes are never held.

A recorded change lands on the timeline of every open or recently resolved incident on its
scope (bot/domain/storms.py `storm_scope`), once per incident, with a chat refresh queued in
the same transaction. A held change says so once per model version and incident, however
often a pipeline retries it; in the incident holding it the line reads
"deploy of reranker-v2 2.4.1 held: INC-12 open" and reaches the incident's thread through the
timeline and `firebreak.incidents.process`.

Triage puts the changes it read from before an incident opened on its timeline too
(`land_changes`), and the run journal records Firebreak's own rollbacks (`record_rollback`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.changes import (
    FIREBREAK_SOURCE,
    RECENT_INCIDENT,
    Change,
    ChangeKind,
    DeployException,
    GateAnswer,
    GateDecision,
)
from bot.domain.incidents import Incident
from bot.domain.runbooks import Run
from bot.domain.storms import storm_scope
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork
from bot.services.check_gate import check_gate, gate_decision

DEPLOY_LOOKBACK = timedelta(minutes=30)  # triage reads changes this long before its window


@dataclass(frozen=True)
class RecordedChange:
    """A stored change, the gate's decision on it (None when the gate does not decide it), the
    exception it used, and the incidents whose timeline it landed on."""

    change: Change
    decision: GateDecision | None
    exception: DeployException | None
    incident_ids: tuple[int, ...]

    @property
    def allowed(self) -> bool:
        return not self.change.held

    def answer(self) -> GateAnswer:
        change = self.change
        return GateAnswer(change.model, self.allowed, change.reasons, change.ref)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.change.to_dict(),
            "allowed": self.allowed,
            "exception": None if self.exception is None else self.exception.describe(),
            "incidents": [f"INC-{i}" for i in self.incident_ids],
        }


def record_change(store: Store, change: Change, now: datetime) -> RecordedChange:
    """Decide, keep and land one change in one transaction."""
    with store.transaction() as tx:
        return record_change_in(tx, change, now)


def record_change_in(tx: UnitOfWork, change: Change, now: datetime) -> RecordedChange:
    """`record_change` inside a transaction the caller holds."""
    decision = gate_decision(tx, change.model, now) if change.gated else None
    used = None
    offered = decision.exception if decision is not None else None
    if offered is not None and offered.id is not None and tx.deploy_exceptions.use(offered.id, now):
        used = offered
    blockers = decision.blockers if decision is not None else ()
    reasons = tuple(b.reason for b in blockers)
    if blockers and used is not None:
        reasons += (used.describe(),)
    stored = tx.changes.add(
        replace(
            change,
            held=bool(blockers) and used is None,
            reasons=reasons,
            exception_id=None if used is None else used.id,
        ),
        now,
    )
    holding = decision.incident_ids if decision is not None else ()
    audited = holding[0] if holding else None
    action = "change_held" if stored.held else "change_recorded"
    tx.audit.record(stored.actor, action, audited, stored.to_dict())
    if used is not None:
        detail = {"exception_id": used.id, "granted_by": used.granted_by, "change": stored.ref}
        tx.audit.record(stored.actor, "deploy_exception_used", audited, detail)
    landed = _land(tx, stored, set(holding) if stored.held else set(), now)
    return RecordedChange(stored, decision, used, landed)


def record_rollback(tx: UnitOfWork, run: Run, version: str, now: datetime) -> RecordedChange:
    """A rollback a runbook run made, recorded as a change by Firebreak (never held)."""
    incident = tx.incidents.get(run.incident_id)
    model = (incident.labels.get("model_name") if incident is not None else None) or run.target
    change = Change(
        model=model,
        version=version,
        kind=ChangeKind.ROLLBACK,
        at=now,
        source=FIREBREAK_SOURCE,
        actor=FIREBREAK_SOURCE,
        description=f"RUN-{run.id} {run.runbook} on {run.target}",
    )
    return record_change_in(tx, change, now)


def changes_before(
    tx: UnitOfWork, incident: Incident, lead_s: float, now: datetime
) -> list[Change]:
    """The changes on an incident's scope from DEPLOY_LOOKBACK before its window until now."""
    scope = storm_scope(incident.labels)
    if scope is None:
        return []
    start = incident.triggered_at - timedelta(seconds=lead_s) - DEPLOY_LOOKBACK
    return tx.changes.on_scope(scope, start, now)


def land_changes(tx: UnitOfWork, incident: Incident, changes: Sequence[Change]) -> int:
    """Put changes that went out (not held ones) on an incident's timeline, each once; answer
    how many were new there."""
    landed = 0
    for change in changes:
        if change.held or change.id is None or change.scope != storm_scope(incident.labels):
            continue
        landed += _note(tx, incident.id, f"change:{change.id}", change, change.timeline_line())
    return landed


def _land(tx: UnitOfWork, change: Change, holding: set[int], now: datetime) -> tuple[int, ...]:
    label, value = change.scope.split("=", 1)
    step = _held_step(change) if change.held else f"change:{change.id}"
    landed = []
    for incident_id in tx.scope_watch.incident_ids(label, value, now - RECENT_INCIDENT):
        incident = tx.incidents.get(incident_id)
        if incident is None or storm_scope(incident.labels) != change.scope:
            continue
        held_here = incident.id in holding
        message = change.held_line(incident) if held_here else change.timeline_line()
        if _note(tx, incident.id, step, change, message):
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident.id])
            landed.append(incident.id)
    return tuple(landed)


def _held_step(change: Change) -> str:
    """The ledger step of a held change: one per model version, however often it is retried."""
    digest = hashlib.sha256(f"{change.scope}\0{change.version}".encode()).hexdigest()[:32]
    return f"change:held:{digest}"


def _note(tx: UnitOfWork, incident_id: int, step: str, change: Change, message: str) -> int:
    """Append the change's timeline event once per (incident, step); 1 when appended."""
    if not tx.ledger.claim(incident_id, step):
        return 0
    tx.ledger.complete(incident_id, step, {"change": change.id})
    tx.timeline.append(
        TimelineEvent(
            incident_id,
            change.at,
            EventKind.CHANGE,
            message,
            change.to_dict(),
            actor=change.actor or FIREBREAK_SOURCE,
        )
    )
    return 1


class StoreChangeGate:
    """The ChangeGate port on the local database (`firebreak gate check` and `firebreak changes
    record` without an API URL)."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def check(self, model: str) -> GateAnswer:
        return check_gate(self._store, model, self._clock()).answer()

    def record(self, change: Change) -> GateAnswer:
        return record_change(self._store, change, self._clock()).answer()
