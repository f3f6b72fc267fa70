"""Work done exactly once: the outbox and ledger, stored deliveries and their normalisation,
the broker, and the claims and pacing that keep chat from repeating itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.domain.deliveries import IncidentOpening, PendingDelivery, RawDelivery
from bot.domain.incidents import Incident
from bot.domain.task_names import TaskName


class Outbox(Protocol):
    """Task messages written in the same transaction as the change they announce, and leased
    to the relayer that hands them to the broker."""

    def add(self, task: TaskName, args: list[Any], delay_s: float = 0.0) -> int: ...
    def claim(
        self,
        older_than_s: float,
        lease_s: float,
        only: Sequence[int] | None = None,
        limit: int = 500,
    ) -> list[tuple[int, str, list[Any]]]: ...
    def release(self, ids: Sequence[int]) -> None: ...
    def mark_dispatched(self, ids: Sequence[int]) -> None: ...


class Ledger(Protocol):
    """Side effects keyed by (incident, step): claimed before acting, never done twice."""

    def claim(self, incident_id: int, step: str) -> bool: ...
    def complete(
        self, incident_id: int, step: str, result: dict[str, Any] | None = None
    ) -> None: ...
    def result(self, incident_id: int, step: str) -> dict[str, Any] | None: ...
    def state(self, incident_id: int, step: str) -> str | None: ...
    def release(self, incident_id: int, step: str) -> None: ...


class LedgerLeases(Protocol):
    """Ledger claims held as leases: taken over once their holder is presumed dead."""

    def take_over(self, incident_id: int, step: str, lease_s: float) -> bool: ...
    def claim_age_s(self, incident_id: int, step: str) -> float | None: ...


class DeliveryQueue(Protocol):
    """Stored deliveries awaiting normalisation, oldest first."""

    def lock(self) -> None:
        """Be the only normaliser until the transaction ends (deliveries stay in order)."""

    def pending(self, limit: int) -> list[PendingDelivery]: ...
    def mark_normalised(
        self, delivery_ids: Sequence[int], at: datetime, failure: str | None = None
    ) -> None:
        """Done with these deliveries; `failure` says why they could not be stored, if so."""


class IncidentOpenings(Protocol):
    """Set-based writes for deliveries that open new incidents: a batch of them costs a few
    statements, not a few per delivery."""

    def known(
        self, groups: Sequence[tuple[str, str]], fingerprints: Sequence[str]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        """Of these (receiver, groupKey) pairs and alert fingerprints, those already stored."""

    def claim_groups(self, groups: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Create these groups, unpointed; answer those created here (not already there)."""

    def add_incidents(self, incidents: Sequence[Incident]) -> list[int]:
        """Insert the incidents; answer their ids, in order."""

    def write(self, openings: Sequence[IncidentOpening]) -> None:
        """Point each group at its incident and store every opening's rows."""


class DeliveryIntake(Protocol):
    """Where the webhook stores a delivery: one durable write, shared commits, async."""

    async def accept(self, delivery: RawDelivery) -> bool:
        """Durably store `delivery`; False for a duplicate body. Raises
        StoreUnavailableError when the database cannot take it."""

    async def close(self) -> None: ...


class TaskQueue(Protocol):
    """Hands a task to the workers; raises BrokerUnavailableError when it cannot."""

    def enqueue(self, task: str, args: list[Any]) -> None: ...
    def ping(self) -> None: ...


class OnceGuard(Protocol):
    """Claims a key for ttl_s: True the first time, False on a repeat (a retry, a double click)."""

    def claim(self, key: str, ttl_s: float) -> bool: ...
    def release(self, key: str) -> None: ...


class ChannelPacer(Protocol):
    """Paces posts per channel across processes: 0 when a post may go now, else seconds to wait.
    A post that `can_wait` yields to those that cannot while the channel is busy."""

    def acquire(self, channel: str, *, can_wait: bool = False) -> float: ...
