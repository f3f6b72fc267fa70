"""The records kept beside incidents: the outbox, the side-effect ledger and the audit log."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.adapters import sql_tables as t
from bot.adapters.sql_rows import audit_row, outbox_row, utc_now


def insert_ignoring_conflict(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written."""
    return conn.execute(_insert_or_skip(conn.dialect.name, table), values).first() is not None


@functools.cache
def _insert_or_skip(dialect_name: str, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING <key>, built once per dialect and table."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    return dialect.insert(table).on_conflict_do_nothing().returning(key)


class SqlOutbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, task: str, args: list[Any], delay_s: float = 0.0) -> int:
        """A row for the relayer; with `delay_s` it is not relayed before that many seconds
        (delayed work waits here, in the database, not as a countdown message in the broker).
        `created_at` is when a row is due: its write time, or later for delayed work."""
        result = self._conn.execute(insert(t.outbox), outbox_row(task, args, delay_s))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def claim(
        self,
        older_than_s: float,
        lease_s: float,
        only: Sequence[int] | None = None,
        limit: int = 500,
    ) -> list[tuple[int, str, list[Any]]]:
        """Lease undispatched rows to this relayer; rows leased by another are skipped."""
        now = utc_now()
        free = (
            t.outbox.c.dispatched_at.is_(None),
            or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now),
        )
        candidates = (
            select(t.outbox.c.id)
            .where(*free, t.outbox.c.created_at <= now - timedelta(seconds=older_than_s))
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        if only is not None:
            candidates = candidates.where(t.outbox.c.id.in_(list(only)))
        statement = (
            update(t.outbox)
            .where(t.outbox.c.id.in_(candidates.scalar_subquery()), *free)
            .values(claimed_until=now + timedelta(seconds=lease_s))
            .returning(t.outbox.c.id, t.outbox.c.task, t.outbox.c.args)
        )
        rows = sorted(self._conn.execute(statement), key=lambda r: int(r.id))
        return [(int(r.id), r.task, list(r.args)) for r in rows]

    def release(self, ids: Sequence[int]) -> None:
        if ids:
            self._conn.execute(
                update(t.outbox).where(t.outbox.c.id.in_(list(ids))).values(claimed_until=None)
            )

    def mark_dispatched(self, ids: Sequence[int]) -> None:
        if ids:
            self._conn.execute(
                update(t.outbox).where(t.outbox.c.id.in_(list(ids))).values(dispatched_at=utc_now())
            )

    def pending(self) -> list[tuple[int, str, list[Any]]]:
        """Every due row not yet dispatched, oldest first (for inspection and tests); delayed
        work not yet due is left out."""
        query = (
            select(t.outbox.c.id, t.outbox.c.task, t.outbox.c.args)
            .where(t.outbox.c.dispatched_at.is_(None), t.outbox.c.created_at <= utc_now())
            .order_by(t.outbox.c.id)
        )
        return [(int(r.id), r.task, list(r.args)) for r in self._conn.execute(query)]

    def count_pending(self) -> int:
        """How many rows `pending()` would answer: the backlog a broker outage leaves."""
        query = select(func.count()).where(
            t.outbox.c.dispatched_at.is_(None), t.outbox.c.created_at <= utc_now()
        )
        return int(self._conn.execute(query).scalar_one())


class SqlLedger:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, incident_id: int, step: str) -> bool:
        values = {"incident_id": incident_id, "step": step, "claimed_at": utc_now()}
        return insert_ignoring_conflict(self._conn, t.ledger, values)

    def complete(self, incident_id: int, step: str, result: dict[str, Any] | None = None) -> None:
        self._conn.execute(
            update(t.ledger)
            .where(t.ledger.c.incident_id == incident_id, t.ledger.c.step == step)
            .values(completed_at=utc_now(), result=result or {})
        )

    def result(self, incident_id: int, step: str) -> dict[str, Any] | None:
        query = select(t.ledger.c.result).where(
            t.ledger.c.incident_id == incident_id,
            t.ledger.c.step == step,
            t.ledger.c.completed_at.is_not(None),
        )
        value = self._conn.execute(query).scalar_one_or_none()
        return None if value is None else dict(value)

    def release(self, incident_id: int, step: str) -> None:
        """Forget an uncompleted claim: the side effect is known not to have happened."""
        self._conn.execute(
            delete(t.ledger).where(
                t.ledger.c.incident_id == incident_id,
                t.ledger.c.step == step,
                t.ledger.c.completed_at.is_(None),
            )
        )

    def state(self, incident_id: int, step: str) -> str | None:
        """None when never claimed, else 'claimed' or 'completed'."""
        query = select(t.ledger.c.completed_at).where(
            t.ledger.c.incident_id == incident_id, t.ledger.c.step == step
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return "claimed" if row.completed_at is None else "completed"


class SqlLedgerLeases:
    """Claims held as leases, taken over once their holder is presumed dead."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def take_over(self, incident_id: int, step: str, lease_s: float) -> bool:
        """Re-claim a step whose open claim is older than `lease_s` (its holder died or hung past
        every time limit); True when this caller now holds it. Its outcome is unknown."""
        now = utc_now()
        result = self._conn.execute(
            update(t.ledger)
            .where(
                t.ledger.c.incident_id == incident_id,
                t.ledger.c.step == step,
                t.ledger.c.completed_at.is_(None),
                t.ledger.c.claimed_at < now - timedelta(seconds=lease_s),
            )
            .values(claimed_at=now)
        )
        return result.rowcount == 1

    def claim_age_s(self, incident_id: int, step: str) -> float | None:
        """Seconds since an open (uncompleted) claim was made; None when there is none."""
        query = select(t.ledger.c.claimed_at).where(
            t.ledger.c.incident_id == incident_id,
            t.ledger.c.step == step,
            t.ledger.c.completed_at.is_(None),
        )
        claimed_at = self._conn.execute(query).scalar_one_or_none()
        return None if claimed_at is None else (utc_now() - claimed_at).total_seconds()


class SqlAuditLog:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(
        self, actor: str, action: str, incident_id: int | None, detail: dict[str, Any]
    ) -> None:
        self._conn.execute(insert(t.audit_log), audit_row(actor, action, incident_id, detail))

    def for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        query = (
            select(t.audit_log)
            .where(t.audit_log.c.incident_id == incident_id)
            .order_by(t.audit_log.c.id)
        )
        return [
            {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "detail": r.detail}
            for r in self._conn.execute(query)
        ]
