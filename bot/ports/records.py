"""Records a transaction reads and writes: incidents, their groups, chat state and triage,
alerts, timeline, audit, rejections, memory and silences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.domain.alerts import Alert, RejectedAlert, StoredAlert
from bot.domain.cards import ChatState
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.memory import IncidentTraits, PastIncident
from bot.domain.resemblance import Resemblance
from bot.domain.silences import Silence
from bot.domain.timeline import TimelineEvent


class IncidentRepository(Protocol):
    """Incidents: read, add, save, list."""

    def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None: ...
    def add(self, incident: Incident) -> Incident: ...
    def save(self, incident: Incident) -> None: ...
    def list(
        self, status: Sequence[IncidentStatus] | None = None, limit: int = 100
    ) -> list[Incident]: ...


class IncidentGroups(Protocol):
    """Which incident an Alertmanager group (receiver, groupKey) feeds."""

    def lock(self, receiver: str, group_key: str) -> int | None:
        """Create-or-lock the group, so concurrent deliveries of it serialise; answer the
        incident it points at (None for a new group)."""

    def point(self, receiver: str, group_key: str, incident_id: int) -> None: ...


class ChatStates(Protocol):
    """Where each incident's root message is, how much of its thread is posted, and the digest
    of the card last rendered."""

    def get(self, incident_id: int) -> ChatState: ...
    def save(self, incident_id: int, state: ChatState) -> None: ...


class TriageReports(Protocol):
    """The latest triage report of each incident."""

    def get(self, incident_id: int) -> dict[str, Any] | None: ...
    def save(self, incident_id: int, report: dict[str, Any]) -> None: ...


class AlertRepository(Protocol):
    """Alerts by identity (fingerprint + startsAt), each attached to one incident."""

    def stored(self, identity: str) -> StoredAlert | None: ...
    def insert(self, incident_id: int, alert: Alert, at: datetime) -> None: ...
    def update(self, stored: StoredAlert, alert: Alert, at: datetime) -> str:
        """Apply a later delivery of a stored alert; answer `resolved` or `same`."""
        ...

    def mark_resolved(self, identity: str, at: datetime) -> bool: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...


class AlertIndex(Protocol):
    """Which stored alerts a fingerprint or identity names, and their incidents."""

    def lock_fingerprints(self, fingerprints: Sequence[str]) -> None:
        """Hold these fingerprints until the transaction ends, so deliveries sharing an alert
        (through any receiver) are stored one after the other."""
        ...

    def newer_start(self, fingerprint: str, start: datetime) -> datetime | None:
        """The earliest known `startsAt` of this fingerprint later than `start`."""
        ...

    def supersede(self, fingerprint: str, start: datetime, at: datetime) -> list[tuple[int, str]]:
        """Resolve, at `start`, this fingerprint's firing alerts that started before `start`;
        answer (incident id, identity) of each."""
        ...

    def incident_of(self, identity: str) -> int | None: ...
    def last_incident_of(self, fingerprint: str) -> int | None: ...


class FiringAlerts(Protocol):
    """The alerts still firing."""

    def count(self, incident_id: int) -> int: ...
    def open_alerts(self) -> list[tuple[int, str, str]]:
        """(incident id, identity, fingerprint) of every alert still firing."""
        ...


class RejectionLog(Protocol):
    """Alerts refused one by one from a delivery whose other alerts were stored."""

    def record(
        self,
        digest: str,
        incident_id: int | None,
        rejected: Sequence[RejectedAlert],
        at: datetime,
    ) -> None: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...


class TimelineRepository(Protocol):
    def append(self, event: TimelineEvent) -> TimelineEvent: ...
    def for_incident(self, incident_id: int) -> list[TimelineEvent]: ...


class AuditLog(Protocol):
    def record(
        self, actor: str, action: str, incident_id: int | None, detail: dict[str, Any]
    ) -> None: ...
    def for_incident(self, incident_id: int) -> list[dict[str, Any]]: ...


class IncidentMemory(Protocol):
    """What triaged incidents looked like, and what became of them (bot/domain/memory.py)."""

    def remember(self, traits: IncidentTraits, matches: Sequence[Resemblance]) -> None:
        """Store an incident's traits and the earlier incidents found like it, replacing what
        an earlier triage stored."""

    def traits(self, incident_id: int) -> IncidentTraits | None: ...
    def matches(self, incident_id: int) -> list[Resemblance] | None:
        """The matches stored at its triage, best first; None when none were stored."""
        ...

    def candidates(self, traits: IncidentTraits, limit_per_key: int) -> list[IncidentTraits]:
        """Earlier incidents sharing its model, namespace, node or top hypothesis that had ended
        by the time it triggered: at most `limit_per_key` per key, the most recent."""
        ...

    def outcomes(self, incident_ids: Sequence[int]) -> dict[int, PastIncident]:
        """What became of each: lifecycle, the run that acted, a recurrence on its scope."""
        ...


class SilenceRecords(Protocol):
    """The Alertmanager silences covering each incident, as last made or synced."""

    def save(self, incident_id: int, silence: Silence, at: datetime) -> None:
        """Record or update one; a silence Firebreak made stays marked as Firebreak's."""

    def for_incident(self, incident_id: int) -> list[Silence]: ...
    def expire(self, incident_id: int, silence_id: str, at: datetime) -> None: ...
