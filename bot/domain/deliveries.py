"""Webhook deliveries as received: what the intake stores and the normaliser later reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
