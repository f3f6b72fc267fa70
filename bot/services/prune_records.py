"""Prune records past their retention: delivery hashes, dispatched outbox rows, and the
timelines of incidents resolved long ago. Batched, so no transaction holds the database long."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot.ports import RetentionStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of record is kept (0 keeps it forever), and the batch size."""

    deliveries_days: float = 14.0
    outbox_days: float = 7.0
    timeline_days: float = 0.0
    batch: int = 1000
    max_batches: int = 100  # per kind per run; the next run carries on


def prune_records(
    retention: RetentionStore, policy: RetentionPolicy, now: datetime
) -> dict[str, int]:
    """Delete what each retention allows, batch by batch; answer rows deleted per kind."""
    kinds: dict[str, tuple[float, Callable[[datetime, int], int]]] = {
        "deliveries": (policy.deliveries_days, retention.prune_deliveries),
        "outbox": (policy.outbox_days, retention.prune_dispatched_outbox),
        "timeline": (policy.timeline_days, retention.prune_resolved_timelines),
    }
    pruned: dict[str, int] = {}
    for kind, (days, prune) in kinds.items():
        if days <= 0:
            continue
        before = now - timedelta(days=days)
        total = 0
        for _ in range(policy.max_batches):
            deleted = prune(before, policy.batch)
            total += deleted
            if deleted < policy.batch:
                break
        pruned[kind] = total
    log.info("records_pruned", **pruned)
    return pruned
