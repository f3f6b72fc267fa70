"""Open new incidents for a batch of fresh deliveries at once.

A delivery is fresh when its group and every one of its alerts' fingerprints are new to the
store and to the deliveries before it in the batch, all its alerts fire, and none was set
aside: all `ingest_group` can do with it is open an incident with those alerts firing and
queue its first triage. So that is written for the whole batch in a few set-based statements
(the `IncidentOpenings` port), rows identical to the one-at-a-time path's. Every other delivery
takes `ingest_group`, in arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.alerts import AlertStatus, ParsedDelivery
from bot.domain.deliveries import IncidentOpening, PendingDelivery
from bot.domain.task_names import TaskName
from bot.ports import UnitOfWork
from bot.services.ingest_alerts import (
    alert_event,
    new_incident,
    opened_event,
    truncated_event,
)
from bot.services.queue_triage import PENDING_STEP, first_triage


@dataclass(frozen=True)
class Candidate:
    """A pending delivery and what its body parsed into."""

    delivery: PendingDelivery
    parsed: ParsedDelivery

    @property
    def group_id(self) -> tuple[str, str]:
        return self.parsed.group.receiver, self.parsed.group.group_key

    @property
    def fingerprints(self) -> list[str]:
        return [a.fingerprint_or_hash for a in self.parsed.group.alerts]


def fresh_deliveries(tx: UnitOfWork, candidates: Sequence[Candidate]) -> set[int]:
    """The ids of the candidates that can only open a new incident (in batch order)."""
    seen_groups, seen_fingerprints = tx.openings.known(
        [c.group_id for c in candidates], [f for c in candidates for f in c.fingerprints]
    )
    fresh: set[int] = set()
    for candidate in candidates:
        fingerprints = candidate.fingerprints
        alerts = candidate.parsed.group.alerts
        if (
            alerts
            and not candidate.parsed.rejected
            and all(a.status is AlertStatus.FIRING for a in alerts)
            and candidate.group_id not in seen_groups
            and len(set(fingerprints)) == len(fingerprints)
            and seen_fingerprints.isdisjoint(fingerprints)
        ):
            fresh.add(candidate.delivery.id)
        seen_groups.add(candidate.group_id)
        seen_fingerprints.update(fingerprints)
    return fresh


@dataclass(frozen=True)
class Opened:
    """What `open_incidents` did: the deliveries it opened incidents for, the outbox rows those
    queued, and the deliveries whose group another writer created meanwhile (they take the
    one-at-a-time path)."""

    delivery_ids: list[int]
    outbox_rows: int
    late: list[Candidate]


def open_incidents(tx: UnitOfWork, fresh: Sequence[Candidate]) -> Opened:
    """Open an incident for each fresh delivery whose group is still new."""
    claimed = tx.openings.claim_groups([c.group_id for c in fresh])
    opening = [c for c in fresh if c.group_id in claimed]
    incidents = [new_incident(c.parsed.group, c.delivery.received_at) for c in opening]
    for incident in incidents:
        incident.version += 1  # saved once with its first events, as ingest_group settles it
    ids = tx.openings.add_incidents(incidents)
    openings = []
    for candidate, incident, incident_id in zip(opening, incidents, ids, strict=True):
        incident.id = incident_id
        group, now = candidate.parsed.group, candidate.delivery.received_at
        events = [opened_event(incident, now)]
        events += [alert_event(incident_id, alert, now) for alert in group.alerts]
        if group.truncated_alerts:
            events.append(truncated_event(incident_id, group.truncated_alerts, now))
        pending, triage_args = first_triage(incident_id, now)
        openings.append(
            IncidentOpening(
                incident_id=incident_id,
                receiver=group.receiver,
                group_key=group.group_key,
                at=now,
                alerts=tuple(group.alerts),
                events=tuple(events),
                audit={"group_key": group.group_key},
                tasks=(
                    (TaskName.PROCESS_INCIDENT, [incident_id]),
                    (TaskName.TRIAGE_INCIDENT, triage_args),
                ),
                ledger=((PENDING_STEP, pending),),
            )
        )
    tx.openings.write(openings)
    return Opened(
        [c.delivery.id for c in opening],
        sum(len(o.tasks) for o in openings),
        [c for c in fresh if c.group_id not in claimed],
    )
