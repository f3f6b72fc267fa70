"""SqlStore: the Store port on SQLAlchemy Core; SQLite (WAL) by default, PostgreSQL too."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from bot.adapters import sql_tables as t
from bot.adapters.sql_alerts import SqlAlertIndex, SqlAlerts, SqlFiringAlerts, SqlRejections
from bot.adapters.sql_changes import SqlChanges, SqlDeployExceptions, SqlFreezes, SqlScopeWatch
from bot.adapters.sql_deliveries import SqlDeliveryQueue
from bot.adapters.sql_memory import SqlIncidentMemory
from bot.adapters.sql_openings import SqlIncidentOpenings
from bot.adapters.sql_records import (
    SqlAuditLog,
    SqlLedger,
    SqlLedgerLeases,
    SqlOutbox,
    insert_ignoring_conflict,
)
from bot.adapters.sql_rows import event_row, group_hash, incident_row, utc_now
from bot.adapters.sql_silences import SqlSilenceRecords
from bot.adapters.sqlite_writer import SqliteWriterLock
from bot.domain.alerts import Severity
from bot.domain.cards import ChatState, MessageRef
from bot.domain.errors import StoreUnavailableError
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.timeline import EventKind, TimelineEvent


def _incident(row: Row[Any]) -> Incident:
    return Incident(
        id=row.id,
        receiver=row.receiver,
        group_key=row.group_key,
        title=row.title,
        severity=Severity(row.severity),
        status=IncidentStatus(row.status),
        triggered_at=row.triggered_at,
        labels=dict(row.labels),
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        reopened_count=row.reopened_count,
        version=row.version,
    )


class SqlIncidents:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        query = select(t.incidents).where(t.incidents.c.id == incident_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _incident(row)

    def add(self, incident: Incident) -> Incident:
        result = self._conn.execute(insert(t.incidents), incident_row(incident))
        incident.id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return incident

    def save(self, incident: Incident) -> None:
        self._conn.execute(
            update(t.incidents)
            .where(t.incidents.c.id == incident.id)
            .values(**incident_row(incident))
        )

    def list(
        self, status: Sequence[IncidentStatus] | None = None, limit: int = 100
    ) -> list[Incident]:
        query = select(t.incidents).order_by(t.incidents.c.id.desc()).limit(limit)
        if status:
            query = query.where(t.incidents.c.status.in_([s.value for s in status]))
        return [_incident(row) for row in self._conn.execute(query)]


class SqlIncidentGroups:
    """Which incident an Alertmanager group (receiver, groupKey) feeds."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock(self, receiver: str, group_key: str) -> int | None:
        """Create-or-lock the group row so concurrent deliveries of a group serialise."""
        key = group_hash(receiver, group_key)
        insert_ignoring_conflict(self._conn, t.incident_groups, {"group_hash": key})
        query = select(t.incident_groups.c.incident_id).where(t.incident_groups.c.group_hash == key)
        value = self._conn.execute(query.with_for_update()).scalar_one()
        return None if value is None else int(value)

    def point(self, receiver: str, group_key: str, incident_id: int) -> None:
        self._conn.execute(
            update(t.incident_groups)
            .where(t.incident_groups.c.group_hash == group_hash(receiver, group_key))
            .values(incident_id=incident_id)
        )


class SqlChatStates:
    """Where an incident's root message is and how much of its thread is posted."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, incident_id: int) -> ChatState:
        columns = (t.incidents.c.chat_channel, t.incidents.c.chat_ts, t.incidents.c.chat_mark)
        query = select(*columns, t.incidents.c.chat_digest).where(t.incidents.c.id == incident_id)
        row = self._conn.execute(query).one()
        ref = MessageRef(row.chat_channel, row.chat_ts) if row.chat_ts else None
        return ChatState(ref=ref, thread_mark=row.chat_mark or 0, card_digest=row.chat_digest)

    def save(self, incident_id: int, state: ChatState) -> None:
        self._conn.execute(
            update(t.incidents)
            .where(t.incidents.c.id == incident_id)
            .values(
                chat_channel=state.ref.channel if state.ref else None,
                chat_ts=state.ref.ts if state.ref else None,
                chat_mark=state.thread_mark,
                chat_digest=state.card_digest,
            )
        )


class SqlTriageReports:
    """The latest triage report of each incident."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, incident_id: int) -> dict[str, Any] | None:
        query = select(t.incidents.c.triage).where(t.incidents.c.id == incident_id)
        value = self._conn.execute(query).scalar_one_or_none()
        return None if value is None else dict(value)

    def save(self, incident_id: int, report: dict[str, Any]) -> None:
        self._conn.execute(
            update(t.incidents).where(t.incidents.c.id == incident_id).values(triage=report)
        )


class SqlTimeline:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, event: TimelineEvent) -> TimelineEvent:
        result = self._conn.execute(insert(t.timeline_events), event_row(event))
        new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return TimelineEvent(
            event.incident_id, event.at, event.kind, event.message, event.data, event.actor, new_id
        )

    def for_incident(self, incident_id: int, after_id: int = 0) -> list[TimelineEvent]:
        query = (
            select(t.timeline_events)
            .where(
                t.timeline_events.c.incident_id == incident_id, t.timeline_events.c.id > after_id
            )
            .order_by(t.timeline_events.c.at, t.timeline_events.c.id)
        )
        return [
            TimelineEvent(
                r.incident_id, r.at, EventKind(r.kind), r.message, dict(r.data), r.actor, r.id
            )
            for r in self._conn.execute(query)
        ]


class SqlUnitOfWork:
    """Every repository on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.incidents = SqlIncidents(conn)
        self.groups = SqlIncidentGroups(conn)
        self.chat_states = SqlChatStates(conn)
        self.triages = SqlTriageReports(conn)
        self.alerts = SqlAlerts(conn)
        self.alert_index = SqlAlertIndex(conn)
        self.firing = SqlFiringAlerts(conn)
        self.timeline = SqlTimeline(conn)
        self.outbox = SqlOutbox(conn)
        self.ledger = SqlLedger(conn)
        self.ledger_leases = SqlLedgerLeases(conn)
        self.audit = SqlAuditLog(conn)
        self.rejections = SqlRejections(conn)
        self.changes = SqlChanges(conn)
        self.freezes = SqlFreezes(conn)
        self.deploy_exceptions = SqlDeployExceptions(conn)
        self.scope_watch = SqlScopeWatch(conn)
        self.memory = SqlIncidentMemory(conn)
        self.silences = SqlSilenceRecords(conn)
        self.deliveries = SqlDeliveryQueue(conn)
        self.openings = SqlIncidentOpenings(conn)
        self._conn = conn

    def record_delivery(self, digest: str) -> bool:
        now = utc_now()
        values = {"digest": digest, "received_at": now, "normalised_at": now}
        return insert_ignoring_conflict(self._conn, t.deliveries, values)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self._conn.begin_nested():
            yield


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE so writers serialise instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def writer_lock_for(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """What writers queue on: SQLite's single writer, across processes for a database file;
    nothing for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    database = engine.url.database
    if not database or database == ":memory:":
        return threading.Lock()
    return SqliteWriterLock(Path(database))


class SqlStore:
    """The Store port: `with store.transaction() as tx:` commits on a clean exit.

    SQLite allows one writer at a time; its busy handler sleeps and retries, which turns
    contention into long tail latency. Transactions therefore queue on a writer lock instead,
    shared by every process writing the same file (bot/adapters/sqlite_writer.py).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer_lock = writer_lock_for(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlStore:
        if url.startswith("sqlite"):
            engine = create_engine(url, poolclass=StaticPool if ":memory:" in url else None)
            _configure_sqlite(engine)
        else:
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                connect_args={"connect_timeout": 5},
            )
        return cls(engine)

    def create_schema(self) -> None:
        """Create every table directly (tests); production uses `firebreak db upgrade`."""
        t.metadata.create_all(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self.writer_lock, self.engine.begin() as conn:
                yield SqlUnitOfWork(conn)
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
            raise

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
