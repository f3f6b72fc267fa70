"""Webhook deliveries as received: what the intake stores and the normaliser later reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.alerts import Alert
from bot.domain.timeline import TimelineEvent


@dataclass(frozen=True)
class RawDelivery:
    """One accepted webhook body, before it becomes alerts and incidents."""

    digest: str
    receiver: str
    group_key: str
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class PendingDelivery:
    """A stored delivery awaiting normalisation; `id` is the order deliveries arrived in."""

    id: int
    digest: str
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class IncidentOpening:
    """What a delivery that opens a new incident writes beside the incident row: its group's
    pointer, its alerts, timeline events, audit detail, queued tasks and ledger records."""

    incident_id: int
    receiver: str
    group_key: str
    at: datetime
    alerts: tuple[Alert, ...]
    events: tuple[TimelineEvent, ...]
    audit: dict[str, Any]
    tasks: tuple[tuple[str, list[Any]], ...]
    ledger: tuple[tuple[str, dict[str, Any]], ...]
