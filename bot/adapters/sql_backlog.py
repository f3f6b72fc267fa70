"""SqlBacklog: the BacklogReader port — each stage's state in the database, read at scrape time.

A handful of aggregate reads on one connection, no transaction of the writers' (so SQLite's
single writer is never waited for): incidents by status, pending deliveries and outbox rows
with the age of the oldest (partial and plain indexes cover both), runbook runs by runbook
and state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from bot.adapters import sql_tables as t
from bot.adapters.sql_store import SqlStore
from bot.domain.errors import StoreUnavailableError
from bot.domain.telemetry import Backlog


def _age_s(now: datetime, oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


class SqlBacklog:
    """Reads, never writes; raises StoreUnavailableError when the database cannot answer."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def backlog(self, now: datetime) -> Backlog:
        i, d, o, r = t.incidents.c, t.deliveries.c, t.outbox.c, t.runbook_runs.c
        incidents = select(i.status, func.count()).group_by(i.status)
        deliveries = select(func.count(), func.min(d.received_at)).where(d.normalised_at.is_(None))
        outbox = select(func.count(), func.min(o.created_at)).where(
            o.dispatched_at.is_(None), o.created_at <= now
        )
        runs = select(r.runbook, r.state, func.count()).group_by(r.runbook, r.state)
        try:
            with self._store.engine.connect() as conn:
                by_status = {str(s): int(n) for s, n in conn.execute(incidents)}
                pending, oldest_delivery = conn.execute(deliveries).one()
                due, oldest_row = conn.execute(outbox).one()
                by_run = {(str(b), str(s)): int(n) for b, s, n in conn.execute(runs)}
        except DBAPIError as exc:
            raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
        return Backlog(
            incidents=by_status,
            deliveries_pending=int(pending),
            deliveries_oldest_age_s=_age_s(now, oldest_delivery),
            outbox_pending=int(due),
            outbox_oldest_age_s=_age_s(now, oldest_row),
            runs=by_run,
        )
