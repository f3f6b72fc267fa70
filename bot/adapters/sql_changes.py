"""The change gate's records on SQL: changes, freezes, deploy exceptions, and the incidents and
firing alerts of a scope (read from their label JSON, the same way on SQLite and PostgreSQL).

An exception is used with one conditional UPDATE (`used_at IS NULL AND expires_at > now`):
PostgreSQL makes a second transaction wait on the row and then find it used; SQLite admits one
writer at a time. Either way only one change can use it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from bot.adapters import sql_tables as t
from bot.domain.alerts import AlertStatus
from bot.domain.changes import (
    ALL_MODELS,
    Change,
    ChangeKind,
    DeployException,
    FiringAlert,
    Freeze,
)
from bot.domain.incidents import OPEN_STATUSES, IncidentStatus

MAX_FIRING = 200
MAX_INCIDENTS = 50


def _change(row: Row[Any]) -> Change:
    return Change(
        model=row.model,
        version=row.version,
        kind=ChangeKind(row.kind),
        at=row.at,
        source=row.source,
        service=row.service,
        actor=row.actor,
        description=row.description,
        held=bool(row.held),
        reasons=tuple(str(r) for r in row.reasons),
        exception_id=None if row.exception_id is None else int(row.exception_id),
        id=int(row.id),
    )


class SqlChanges:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, change: Change, recorded_at: datetime) -> Change:
        values = {
            "scope": change.scope,
            "model": change.model,
            "service": change.service,
            "version": change.version,
            "kind": change.kind.value,
            "at": change.at,
            "recorded_at": recorded_at,
            "source": change.source,
            "actor": change.actor,
            "description": change.description,
            "held": change.held,
            "reasons": list(change.reasons),
            "exception_id": change.exception_id,
        }
        result = self._conn.execute(insert(t.changes), values)
        new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return replace(change, id=new_id)

    def on_scope(
        self, scope: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[Change]:
        query = (
            select(t.changes)
            .where(t.changes.c.scope == scope, t.changes.c.at >= start, t.changes.c.at <= end)
            .order_by(t.changes.c.at, t.changes.c.id)
            .limit(limit)
        )
        return [_change(row) for row in self._conn.execute(query)]


class SqlFreezes:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def put(self, freeze: Freeze) -> None:
        self._conn.execute(delete(t.deploy_freezes).where(t.deploy_freezes.c.scope == freeze.scope))
        self._conn.execute(
            insert(t.deploy_freezes),
            {
                "scope": freeze.scope,
                "until": freeze.until,
                "frozen_by": freeze.frozen_by,
                "frozen_at": freeze.frozen_at,
                "reason": freeze.reason,
            },
        )

    def lift(self, scope: str) -> Freeze | None:
        statement = (
            delete(t.deploy_freezes)
            .where(t.deploy_freezes.c.scope == scope)
            .returning(*t.deploy_freezes.c)
        )
        row = self._conn.execute(statement).first()
        return None if row is None else _freeze(row)

    def covering(self, model: str, now: datetime) -> list[Freeze]:
        query = select(t.deploy_freezes).where(
            t.deploy_freezes.c.scope.in_([model, ALL_MODELS]), t.deploy_freezes.c.until > now
        )
        return [_freeze(row) for row in self._conn.execute(query)]


def _freeze(row: Row[Any]) -> Freeze:
    return Freeze(row.scope, row.until, row.frozen_by, row.frozen_at, row.reason)


def _exception(row: Row[Any]) -> DeployException:
    return DeployException(
        model=row.model,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        reason=row.reason,
        used_at=row.used_at,
        id=int(row.id),
    )


class SqlDeployExceptions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def grant(self, exception: DeployException) -> DeployException:
        table = t.deploy_exceptions
        self._conn.execute(
            update(table)
            .where(
                table.c.model == exception.model,
                table.c.used_at.is_(None),
                table.c.expires_at > exception.granted_at,
            )
            .values(expires_at=exception.granted_at)
        )
        result = self._conn.execute(
            insert(table),
            {
                "model": exception.model,
                "granted_by": exception.granted_by,
                "granted_at": exception.granted_at,
                "expires_at": exception.expires_at,
                "reason": exception.reason,
                "used_at": None,
            },
        )
        new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return replace(exception, id=new_id)

    def usable(self, model: str, now: datetime) -> DeployException | None:
        table = t.deploy_exceptions
        query = (
            select(table)
            .where(table.c.model == model, table.c.used_at.is_(None), table.c.expires_at > now)
            .order_by(table.c.id.desc())
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _exception(row)

    def use(self, exception_id: int, now: datetime) -> bool:
        table = t.deploy_exceptions
        result = self._conn.execute(
            update(table)
            .where(table.c.id == exception_id, table.c.used_at.is_(None), table.c.expires_at > now)
            .values(used_at=now)
        )
        return result.rowcount == 1


class SqlScopeWatch:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def incident_ids(self, label: str, value: str, resolved_since: datetime | None) -> list[int]:
        incidents = t.incidents
        state: ColumnElement[bool] = incidents.c.status.in_([s.value for s in OPEN_STATUSES])
        if resolved_since is not None:
            state = or_(
                state,
                (incidents.c.status == IncidentStatus.RESOLVED.value)
                & (incidents.c.resolved_at >= resolved_since),
            )
        query = (
            select(incidents.c.id)
            .where(incidents.c.labels[label].as_string() == value, state)
            .order_by(incidents.c.id.desc())
            .limit(MAX_INCIDENTS)
        )
        return [int(i) for i in self._conn.execute(query).scalars()]

    def firing_for_model(self, model: str) -> list[FiringAlert]:
        alerts = t.alerts
        query = (
            select(alerts.c.name, alerts.c.labels, alerts.c.incident_id)
            .where(
                alerts.c.status == AlertStatus.FIRING.value,
                alerts.c.labels["model_name"].as_string() == model,
            )
            .order_by(alerts.c.id)
            .limit(MAX_FIRING)
        )
        return [
            FiringAlert(row.name, dict(row.labels), int(row.incident_id))
            for row in self._conn.execute(query)
        ]
