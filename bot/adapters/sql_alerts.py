"""SqlAlerts and SqlRejections: alerts by identity, and the alerts a delivery could not store.

Deliveries that share an alert are serialised on its fingerprint: PostgreSQL takes a
transaction-scoped advisory lock per fingerprint, in one global order so two deliveries never
wait on each other in a cycle; SQLite needs none, as `BEGIN IMMEDIATE` already admits one
writer at a time. Without the lock two receivers delivering the same alert at once would both
insert it and one would fail on the unique identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection

from bot.adapters import sql_tables as t
from bot.adapters.sql_rows import alert_row
from bot.domain.alerts import Alert, AlertStatus, RejectedAlert, StoredAlert
from bot.domain.text import sanitised_data

_ADVISORY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(CAST(:keys AS bigint[])) AS k "
    "ORDER BY k) AS ordered"
)


def _lock_key(fingerprint: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(b"firebreak-alert\0" + fingerprint.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlAlerts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def stored(self, identity: str) -> StoredAlert | None:
        query = select(t.alerts.c.incident_id, t.alerts.c.status, t.alerts.c.ends_at).where(
            t.alerts.c.identity == identity
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return StoredAlert(identity, int(row.incident_id), AlertStatus(row.status), row.ends_at)

    def insert(self, incident_id: int, alert: Alert, at: datetime) -> None:
        self._conn.execute(insert(t.alerts), alert_row(incident_id, alert, at))

    def update(self, stored: StoredAlert, alert: Alert, at: datetime) -> str:
        """A resolve is final for its identity: a firing delivered after it is stale."""
        where = t.alerts.c.identity == stored.identity
        if alert.status is AlertStatus.FIRING:
            return "same"
        if stored.status is AlertStatus.FIRING:
            self._conn.execute(
                update(t.alerts)
                .where(where)
                .values(status=AlertStatus.RESOLVED.value, ends_at=alert.ends_at, updated_at=at)
            )
            return "resolved"
        if alert.ends_at and (stored.ends_at is None or alert.ends_at > stored.ends_at):
            self._conn.execute(
                update(t.alerts).where(where).values(ends_at=alert.ends_at, updated_at=at)
            )
        return "same"

    def for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        query = (
            select(t.alerts).where(t.alerts.c.incident_id == incident_id).order_by(t.alerts.c.id)
        )
        return [
            {
                "fingerprint": row.fingerprint,
                "name": row.name,
                "status": row.status,
                "labels": row.labels,
                "annotations": row.annotations,
                "starts_at": row.starts_at.isoformat() if row.starts_at else None,
                "ends_at": row.ends_at.isoformat() if row.ends_at else None,
                "generator_url": row.generator_url,
            }
            for row in self._conn.execute(query)
        ]

    def mark_resolved(self, identity: str, at: datetime) -> bool:
        result = self._conn.execute(
            update(t.alerts)
            .where(t.alerts.c.identity == identity, t.alerts.c.status == AlertStatus.FIRING.value)
            .values(status=AlertStatus.RESOLVED.value, ends_at=at, updated_at=at)
        )
        return bool(result.rowcount)


class SqlAlertIndex:
    """Which stored alerts a fingerprint or identity names, and their incidents."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_fingerprints(self, fingerprints: Sequence[str]) -> None:
        if self._conn.dialect.name != "postgresql" or not fingerprints:
            return
        keys = sorted({_lock_key(f) for f in fingerprints})
        self._conn.execute(_ADVISORY_LOCKS, {"keys": keys})

    def newer_start(self, fingerprint: str, start: datetime) -> datetime | None:
        query = select(func.min(t.alerts.c.starts_at)).where(
            t.alerts.c.fingerprint == fingerprint, t.alerts.c.starts_at > start
        )
        value: datetime | None = self._conn.execute(query).scalar_one_or_none()
        return value

    def supersede(self, fingerprint: str, start: datetime, at: datetime) -> list[tuple[int, str]]:
        statement = (
            update(t.alerts)
            .where(
                t.alerts.c.fingerprint == fingerprint,
                t.alerts.c.status == AlertStatus.FIRING.value,
                t.alerts.c.starts_at < start,
            )
            .values(status=AlertStatus.RESOLVED.value, ends_at=start, updated_at=at)
            .returning(t.alerts.c.incident_id, t.alerts.c.identity)
        )
        return sorted((int(r.incident_id), r.identity) for r in self._conn.execute(statement))

    def incident_of(self, identity: str) -> int | None:
        query = select(t.alerts.c.incident_id).where(t.alerts.c.identity == identity)
        value = self._conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    def last_incident_of(self, fingerprint: str) -> int | None:
        query = select(func.max(t.alerts.c.incident_id)).where(
            t.alerts.c.fingerprint == fingerprint
        )
        value = self._conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)


class SqlFiringAlerts:
    """The alerts still firing."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def count(self, incident_id: int) -> int:
        query = select(func.count()).where(
            t.alerts.c.incident_id == incident_id, t.alerts.c.status == AlertStatus.FIRING.value
        )
        return int(self._conn.execute(query).scalar_one())

    def open_alerts(self) -> list[tuple[int, str, str]]:
        """(incident id, identity, fingerprint) of every alert still firing."""
        query = select(t.alerts.c.incident_id, t.alerts.c.identity, t.alerts.c.fingerprint).where(
            t.alerts.c.status == AlertStatus.FIRING.value
        )
        return [(int(r.incident_id), r.identity, r.fingerprint) for r in self._conn.execute(query)]


class SqlRejections:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(
        self,
        digest: str,
        incident_id: int | None,
        rejected: Sequence[RejectedAlert],
        at: datetime,
    ) -> None:
        if not rejected:
            return
        self._conn.execute(
            insert(t.rejected_alerts),
            [
                dict(
                    digest=digest,
                    incident_id=incident_id,
                    position=r.position,
                    fingerprint=r.fingerprint,
                    errors=[{"field": f, "error": e} for f, e in r.errors],
                    alert=sanitised_data(r.raw),
                    received_at=at,
                )
                for r in rejected
            ],
        )

    def for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        query = (
            select(t.rejected_alerts)
            .where(t.rejected_alerts.c.incident_id == incident_id)
            .order_by(t.rejected_alerts.c.id)
        )
        return [
            {
                "position": r.position,
                "fingerprint": r.fingerprint,
                "errors": r.errors,
                "received_at": r.received_at.isoformat(),
            }
            for r in self._conn.execute(query)
        ]
