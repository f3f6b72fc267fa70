"""The relational schema: one Table per record Firebreak keeps (Alembic migrates it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and always read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("receiver", Text(), nullable=True),
    Column("group_key", Text(), nullable=True),
    Column("body", LargeBinary(), nullable=True),  # None when normalised as it arrived
    Column("received_at", UTCDateTime(), nullable=False),
    Column("normalised_at", UTCDateTime(), nullable=True),
    Column("failure", Text(), nullable=True),
    Index(
        "ix_deliveries_pending",
        "id",
        postgresql_where=text("normalised_at IS NULL"),
        sqlite_where=text("normalised_at IS NULL"),
    ),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("receiver", String(255), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("title", String(255), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("labels", JSON, nullable=False),
    Column("triggered_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime()),
    Column("acknowledged_by", String(255)),
    Column("mitigated_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    Column("resolved_by", String(255)),
    Column("reopened_count", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=0),
    Column("triage", JSON),
    Column("chat_channel", String(64)),
    Column("chat_ts", String(64)),
    Column("chat_mark", BigInteger, nullable=False, default=0),
    Column("chat_digest", String(64)),
)

incident_groups = Table(
    "incident_groups",
    metadata,
    Column("group_hash", String(64), primary_key=True),
    Column("incident_id", Id, ForeignKey("incidents.id")),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("identity", String(200), nullable=False, unique=True),
    Column("fingerprint", String(128), nullable=False, index=True),
    Column("incident_id", Id, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("starts_at", UTCDateTime()),  # NULL: Alertmanager sent its zero time (unset)
    Column("ends_at", UTCDateTime()),
    Column("generator_url", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_alerts_status_incident", alerts.c.status, alerts.c.incident_id)

# Alerts refused one by one from a delivery whose other alerts were stored: which, and why.
rejected_alerts = Table(
    "rejected_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, index=True),
    Column("incident_id", Id, ForeignKey("incidents.id"), index=True),
    Column("position", Integer, nullable=False),
    Column("fingerprint", Text),
    Column("errors", JSON, nullable=False),
    Column("alert", JSON, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("actor", String(255), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task", String(128), nullable=False),
    Column("args", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_until", UTCDateTime()),
    Column("dispatched_at", UTCDateTime(), index=True),
)

ledger = Table(
    "ledger",
    metadata,
    Column("incident_id", Id, primary_key=True),
    Column("step", String(255), primary_key=True),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    Column("result", JSON),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("incident_id", Id, index=True),
    Column("detail", JSON, nullable=False),
)

# Runbook runs (bot/adapters/sql_runs.py): one row per run, its document as JSON beside the
# columns the engine queries; `active_target` is set while a run is unfinished and is unique,
# so two runs can never hold one target. `runbook_steps` is the runs' step ledger.
runbook_runs = Table(
    "runbook_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("runbook", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("active_target", String(255), unique=True),
    Column("wake_at", UTCDateTime()),
    Column("approval_deadline", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("tick_holder", String(64)),
    Column("tick_until", UTCDateTime()),
    Column("document", JSON, nullable=False),
)

runbook_steps = Table(
    "runbook_steps",
    metadata,
    Column("run_id", Id, ForeignKey("runbook_runs.id"), primary_key=True),
    Column("step", String(64), primary_key=True),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("claims", Integer, nullable=False, default=1),
    Column("completed_at", UTCDateTime()),
    Column("result", JSON),
)

# Incident memory (bot/adapters/sql_memory.py): one row per triaged incident holding what similar
# incidents are found by (bot/domain/memory.py). Each lookup key has an index ending in
# `triggered_at`, so "the most recent earlier incidents with this key" is one index range scan.
incident_memory = Table(
    "incident_memory",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id"), primary_key=True),
    Column("triggered_at", UTCDateTime(), nullable=False),
    Column("model", Text),
    Column("namespace", Text),
    Column("node", Text),
    Column("hypothesis", String(32)),
    Column("confidence", Float),
    Column("nodes", JSON, nullable=False),
    Column("signals", JSON, nullable=False),
    Column("matches", JSON),  # the earlier incidents found like it at triage, best first
    Index("ix_incident_memory_model", "model", "triggered_at"),
    Index("ix_incident_memory_namespace", "namespace", "triggered_at"),
    Index("ix_incident_memory_node", "node", "triggered_at"),
    Index("ix_incident_memory_hypothesis", "hypothesis", "triggered_at"),
)

# Alertmanager silences covering an incident (bot/adapters/sql_silences.py): those Firebreak
# made for it (`origin` firebreak) and those the periodic sync found in Alertmanager whose
# matchers all match the incident's labels (`origin` alertmanager); expired ones stay as history.
incident_silences = Table(
    "incident_silences",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id"), primary_key=True),
    Column("silence_id", String(64), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Changes and the deploy gate (bot/adapters/sql_changes.py): changes to models as pipelines,
# people and Firebreak announce them, by scope (`model_name=…` or `service=…`) and time; freezes,
# one row per frozen scope (a model, or `*` for every model); and approvers' single-use
# exceptions, `used_at` set by the one change that used each.
changes = Table(
    "changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope", String(300), nullable=False),
    Column("model", String(255), nullable=False),
    Column("service", String(255), nullable=False),
    Column("version", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("source", Text, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("held", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("exception_id", Id),
    Index("ix_changes_scope", "scope", "at"),
)

deploy_freezes = Table(
    "deploy_freezes",
    metadata,
    Column("scope", String(255), primary_key=True),
    Column("until", UTCDateTime(), nullable=False),
    Column("frozen_by", String(255), nullable=False),
    Column("frozen_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
)

deploy_exceptions = Table(
    "deploy_exceptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model", String(255), nullable=False, index=True),
    Column("granted_by", String(255), nullable=False),
    Column("granted_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("used_at", UTCDateTime()),
)
