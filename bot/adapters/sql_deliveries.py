"""SqlDeliveryQueue: stored webhook deliveries awaiting normalisation, oldest first.

One normaliser at a time holds the queue: on PostgreSQL a transaction-scoped advisory lock, on
SQLite the database's single writer. So deliveries are normalised in the order they arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from bot.adapters import sql_tables as t
from bot.domain.deliveries import PendingDelivery

NORMALISER_LOCK_KEY = 0x46_42_4E_4F_52_4D  # "FBNORM"


class SqlDeliveryQueue:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock(self) -> None:
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NORMALISER_LOCK_KEY})

    def pending(self, limit: int) -> list[PendingDelivery]:
        d = t.deliveries.c
        query = (
            select(d.id, d.digest, d.body, d.received_at)
            .where(d.normalised_at.is_(None))
            .order_by(d.id)
            .limit(limit)
        )
        return [
            PendingDelivery(r.id, r.digest, bytes(r.body or b""), r.received_at)
            for r in self._conn.execute(query)
        ]

    def mark_normalised(
        self, delivery_ids: Sequence[int], at: datetime, failure: str | None = None
    ) -> None:
        if delivery_ids:
            self._conn.execute(
                update(t.deliveries)
                .where(t.deliveries.c.id.in_(list(delivery_ids)))
                .values(normalised_at=at, failure=failure)
            )
