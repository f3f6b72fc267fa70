"""Deliveries that open new incidents are written together, in a few statements per batch, and
the rows are exactly those the one-at-a-time path writes, on SQLite and PostgreSQL: a batch
mixing fresh deliveries with resolves, a second receiver's copy, a set-aside alert, a body that
does not parse, a repeated fingerprint and a known alert ends in the same tables either way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from bot.adapters import sql_tables as t
from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import delivery_hash
from bot.services import normalise_deliveries
from bot.services.normalise_deliveries import Normalised, normalise_pending
from tests.conftest import postgres_database
from tests.payloads import alert, body, group

NOW = datetime(2026, 11, 28, 10, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
WALL_CLOCK = {
    "outbox": {"created_at"},
    "ledger": {"claimed_at", "completed_at"},
    "audit_log": {"at"},
}
TABLES = [
    t.incidents,
    t.incident_groups,
    t.alerts,
    t.rejected_alerts,
    t.timeline_events,
    t.outbox,
    t.ledger,
    t.audit_log,
    t.deliveries,
]


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two empty databases of one kind, migrated to head."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            urls = [f"sqlite:///{tmp_path / name}.db" for name in ("a", "b")]
        else:
            urls = [stack.enter_context(postgres_database()) for _ in range(2)]
        for url in urls:
            upgrade(url)
        yield SqlStore.from_url(urls[0]), SqlStore.from_url(urls[1])


def store_all(store: SqlStore, payloads: list[dict[str, Any] | bytes], start: int) -> None:
    with store.engine.begin() as conn:
        for offset, payload in enumerate(payloads):
            content = payload if isinstance(payload, bytes) else body(payload)
            conn.execute(
                insert(t.deliveries),
                {
                    "digest": delivery_hash(content),
                    "receiver": "r",
                    "group_key": "g",
                    "body": content,
                    "received_at": NOW + timedelta(seconds=start + offset),
                },
            )


def dump(store: SqlStore) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for table in TABLES:
            skip = WALL_CLOCK.get(table.name, set())
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            tables[table.name] = [
                {k: v for k, v in row._mapping.items() if k not in skip} for row in rows
            ]
    return tables


def normalise(store: SqlStore) -> Normalised:
    return normalise_pending(store, NOW, WINDOW, budget_s=600.0)


def first_batch() -> list[dict[str, Any] | bytes]:
    fired = alert(fingerprint="a1"), alert(fingerprint="a2", instance="b")
    return [
        group(*fired, group_key="g1"),
        group(alert(fingerprint="b1"), group_key="g2", truncated=3),
        group(
            alert(fingerprint="a1", status="resolved", ends_at="2026-11-28T10:03:00Z"),
            fired[1],
            group_key="g1",
        ),
        group(alert(fingerprint="b1"), group_key="g2", receiver="pager"),
        group(alert(fingerprint="r1"), alert(fingerprint="r2", starts_at="nope"), group_key="g4"),
        b"{not json",
        group(alert(fingerprint=""), group_key="g5"),
        group(
            alert(fingerprint="s1"),
            alert(fingerprint="s1", starts_at="2026-11-28T10:02:00Z"),
            group_key="g6",
        ),
        group(alert(fingerprint="d1", starts_at="2026-11-28T10:04:00Z"), group_key="g7"),
    ]


def second_batch() -> list[dict[str, Any] | bytes]:
    return [
        group(alert(fingerprint="a2", instance="b"), group_key="g8"),
        group(alert(fingerprint="e1"), alert(fingerprint="e2"), group_key="g9"),
        group(
            alert(fingerprint="b1", status="resolved", ends_at="2026-11-28T10:06:00Z"),
            group_key="g2",
        ),
    ]


def test_batched_openings_store_what_one_at_a_time_stores(
    stores: tuple[SqlStore, SqlStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    batched, single = stores
    for store in stores:
        store_all(store, first_batch(), 0)
    first = normalise(batched)
    assert (first.deliveries, first.failed) == (9, 1)
    with monkeypatch.context() as patch:
        patch.setattr(normalise_deliveries, "fresh_deliveries", lambda *_: set())
        assert normalise(single) == first
    for store in stores:
        store_all(store, second_batch(), 100)
    normalise(batched)
    with monkeypatch.context() as patch:
        patch.setattr(normalise_deliveries, "fresh_deliveries", lambda *_: set())
        normalise(single)
    assert dump(batched) == dump(single)
    incidents = {row["group_key"]: row for row in dump(batched)["incidents"]}
    assert incidents["g2"]["status"] == "resolved"
    assert incidents["g1"]["status"] == "triggered"
    assert "pager" not in {row["receiver"] for row in dump(batched)["incidents"]}


def test_a_batch_of_fresh_deliveries_costs_a_few_statements(database_url: str) -> None:
    """Fifty new groups of two new alerts each: one batch, a bounded number of statements.

    SQLite inserts the incidents a row at a time (it cannot promise a multi-row RETURNING's
    order); it runs in process, so those cost microseconds, not round trips."""
    store = SqlStore.from_url(database_url)
    store_all(
        store,
        [
            group(alert(fingerprint=f"x{i}"), alert(fingerprint=f"y{i}"), group_key=f"n{i}")
            for i in range(50)
        ],
        0,
    )
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert normalise(store) == Normalised(deliveries=50, failed=0, outbox_rows=100)
    per_row = 50 if store.engine.dialect.name == "sqlite" else 0
    assert len(statements) < 25 + per_row, statements
    with store.transaction() as tx:
        assert len(tx.incidents.list()) == 50
        assert len(tx.outbox.pending()) == 100
