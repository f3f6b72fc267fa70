"""Retention on SQLite and PostgreSQL: old records go in batches; what is still needed stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.adapters import sql_tables as t
from bot.adapters.sql_retention import SqlRetention
from bot.adapters.sql_store import SqlStore
from bot.services.prune_records import RetentionPolicy, prune_records
from tests.unit.test_safe_defaults import firebreak
from tests.unit.test_storms import START, ingest, node_group


def count(store: SqlStore, table: t.Table, *where: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def resolved(payload: dict[str, object]) -> dict[str, object]:
    alerts = payload["alerts"]
    assert isinstance(alerts, list)
    alerts[0] = {**alerts[0], "status": "resolved", "endsAt": "2026-11-28T10:05:00Z"}
    return {**payload, "status": "resolved", "alerts": alerts}


def test_prune_in_batches_keeps_what_is_needed(database_url: str) -> None:
    """Deliveries and dispatched outbox rows past retention go; pending rows stay; only timelines
    of incidents resolved before the cut-off go."""
    store = SqlStore.from_url(database_url)
    old = ingest(store, node_group(1, service="a"))
    ingest(store, resolved(node_group(1, service="a")), START + timedelta(minutes=5))
    still_open = ingest(store, node_group(2, service="b"))
    with store.transaction() as tx:
        rows = tx.outbox.pending()
        tx.outbox.mark_dispatched([row_id for row_id, _, _ in rows[1:]])
    deliveries = count(store, t.deliveries)
    assert deliveries == 3
    retention = SqlRetention(store)
    soon = datetime.now(UTC) + timedelta(days=1)
    assert prune_records(retention, RetentionPolicy(batch=2), soon) == {
        "deliveries": 0,
        "outbox": 0,
    }
    later = datetime.now(UTC) + timedelta(days=30)
    policy = RetentionPolicy(timeline_days=1, batch=2)
    pruned = prune_records(retention, policy, later)
    assert pruned["deliveries"] == 3
    assert pruned["outbox"] == len(rows) - 1
    assert count(store, t.deliveries) == 0
    assert count(store, t.outbox) == 1
    assert count(store, t.timeline_events, t.timeline_events.c.incident_id == old) == 0
    assert count(store, t.timeline_events, t.timeline_events.c.incident_id == still_open) > 0
    assert pruned["timeline"] > 2
    store.dispose()


def test_db_upgrade_masks_the_password(postgres_url: str) -> None:
    """`firebreak db upgrade` says where the database is without printing its password."""
    url = postgres_url.replace("postgres@", "postgres:hunter2-not-shown@")
    done = firebreak("db", "upgrade", FIREBREAK_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert "hunter2-not-shown" not in done.stdout + done.stderr
    assert "postgres:***@127.0.0.1" in done.stdout
