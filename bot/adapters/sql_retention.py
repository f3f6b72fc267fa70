"""SqlRetention: the RetentionStore port — batched deletes of records past their retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError

from bot.adapters import sql_tables as t
from bot.adapters.sql_store import SqlStore
from bot.domain.errors import StoreUnavailableError
from bot.domain.incidents import IncidentStatus


class SqlRetention:
    """Each prune is one short transaction deleting at most `limit` rows, oldest first."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def prune_deliveries(self, before: datetime, limit: int) -> int:
        d = t.deliveries.c
        rows = (
            select(d.id)
            .where(d.normalised_at.is_not(None), d.received_at < before)
            .order_by(d.id)
            .limit(limit)
        )
        return self._delete(delete(t.deliveries).where(d.id.in_(rows)))

    def prune_dispatched_outbox(self, before: datetime, limit: int) -> int:
        rows = (
            select(t.outbox.c.id)
            .where(t.outbox.c.dispatched_at.is_not(None), t.outbox.c.dispatched_at < before)
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        return self._delete(delete(t.outbox).where(t.outbox.c.id.in_(rows)))

    def prune_resolved_timelines(self, before: datetime, limit: int) -> int:
        resolved = select(t.incidents.c.id).where(
            t.incidents.c.status == IncidentStatus.RESOLVED.value,
            t.incidents.c.resolved_at < before,
        )
        rows = (
            select(t.timeline_events.c.id)
            .where(t.timeline_events.c.incident_id.in_(resolved))
            .order_by(t.timeline_events.c.id)
            .limit(limit)
        )
        return self._delete(delete(t.timeline_events).where(t.timeline_events.c.id.in_(rows)))

    def _delete(self, statement: Any) -> int:
        store = self._store
        try:
            with store.writer_lock, store.engine.begin() as conn:
                return int(conn.execute(statement).rowcount)
        except DBAPIError as exc:
            raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
