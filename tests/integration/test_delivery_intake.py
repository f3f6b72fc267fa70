"""The webhook's one durable write and the normaliser behind it, on SQLite and PostgreSQL:
shared commits, duplicates, arrival order, exactly-once across a crash, a poison delivery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from bot.adapters import sql_tables as t
from bot.adapters.sql_deliveries import SqlDeliveryQueue
from bot.adapters.sql_intake import SqlDeliveryIntake
from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import delivery_hash
from bot.domain.deliveries import RawDelivery
from bot.domain.errors import StoreUnavailableError
from bot.services.normalise_deliveries import Normalised, normalise_pending
from tests.payloads import alert, body, group
from tests.processes import free_port

NOW = datetime(2026, 11, 28, 10, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def normalise(store: SqlStore, budget_s: float = 600.0) -> Normalised:
    """One batch with a budget no loaded machine spends, so the counts are exact."""
    return normalise_pending(store, NOW, WINDOW, budget_s=budget_s)


@pytest.fixture
def store(database_url: str) -> SqlStore:
    upgrade(database_url)
    return SqlStore.from_url(database_url)


def raw(payload: dict[str, Any], at: datetime = NOW) -> RawDelivery:
    content = body(payload)
    return RawDelivery(delivery_hash(content), "firebreak", payload["groupKey"], content, at)


def accept_all(store: SqlStore, deliveries: list[RawDelivery]) -> list[bool]:
    """Accept every delivery concurrently, as concurrent requests would."""

    async def run() -> list[bool]:
        intake = SqlDeliveryIntake(store)
        try:
            return list(await asyncio.gather(*(intake.accept(d) for d in deliveries)))
        finally:
            await intake.close()

    return asyncio.run(run())


def count(store: SqlStore, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_concurrent_deliveries_share_commits_and_duplicates_are_answered(store: SqlStore) -> None:
    """Forty concurrent deliveries of twenty distinct bodies: twenty stored, each body
    answered new exactly once, in fewer commits than deliveries."""
    distinct = [raw(group(alert(fingerprint=f"fp-{i}"), group_key=f"g-{i}")) for i in range(20)]
    answers = accept_all(store, distinct + distinct)
    assert answers == [True] * 20 + [False] * 20
    assert count(store, t.deliveries) == 20
    assert accept_all(store, distinct[:3]) == [False] * 3


def test_deliveries_become_incidents_in_arrival_order(store: SqlStore) -> None:
    """A firing then its resolve, stored in that order, end resolved; nothing normalises twice."""
    firing = group(alert(fingerprint="order"), group_key="order")
    resolved = group(
        alert(fingerprint="order", status="resolved", ends_at="2026-11-28T10:05:00Z"),
        group_key="order",
    )
    assert accept_all(store, [raw(firing)]) == [True]
    assert accept_all(store, [raw(resolved, NOW + timedelta(seconds=1))]) == [True]
    first = normalise(store)
    assert (first.deliveries, first.failed) == (2, 0)
    assert normalise(store).deliveries == 0
    with store.transaction() as tx:
        [incident] = tx.incidents.list()
        assert incident.status.value == "resolved"
        assert len(tx.alerts.for_incident(incident.id)) == 1


def test_a_crash_mid_batch_leaves_the_deliveries_pending(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A normaliser that dies before its commit normalised nothing: the next one does it all
    once (one incident, one alert)."""
    accept_all(store, [raw(group(alert(fingerprint="crash"), group_key="crash"))])

    def die(*_: Any, **__: Any) -> None:
        raise SystemExit("killed before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(SqlDeliveryQueue, "mark_normalised", die)
        with pytest.raises(SystemExit):
            normalise(store)
    assert count(store, t.incidents) == 0
    assert normalise(store).deliveries == 1
    assert normalise(store).deliveries == 0
    assert (count(store, t.incidents), count(store, t.alerts)) == (1, 1)


def test_a_delivery_that_cannot_be_stored_is_set_aside(store: SqlStore) -> None:
    """A stored body that no longer parses is marked with why; the deliveries after it are
    normalised in the same batch."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.deliveries),
            {
                "digest": "0" * 64,
                "receiver": "r",
                "group_key": "g",
                "body": b"{not json",
                "received_at": NOW,
            },
        )
    accept_all(store, [raw(group(alert(fingerprint="after"), group_key="after"))])
    result = normalise(store)
    assert (result.deliveries, result.failed) == (2, 1)
    assert count(store, t.incidents) == 1
    with store.engine.connect() as conn:
        failure = conn.execute(
            select(t.deliveries.c.failure).where(t.deliveries.c.digest == "0" * 64)
        ).scalar_one()
    assert "Expecting property name" in failure


def test_a_database_that_is_down_refuses_the_delivery() -> None:
    """The intake raises StoreUnavailableError (the webhook's 503) when PostgreSQL is gone."""
    store = SqlStore.from_url(f"postgresql://postgres@127.0.0.1:{free_port()}/firebreak")
    with pytest.raises(StoreUnavailableError):
        accept_all(store, [raw(group(alert()))])


def test_upgrade_keeps_earlier_delivery_hashes(sqlite_url: str) -> None:
    """Deliveries recorded before the intake existed still deduplicate after the upgrade."""
    upgrade(sqlite_url, "0004")
    store = SqlStore.from_url(sqlite_url)
    payload = group(alert(fingerprint="old"), group_key="old")
    digest = delivery_hash(body(payload))
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO deliveries (digest, received_at) VALUES (?, ?)",
            (digest, "2026-11-28 10:00:00"),
        )
    upgrade(sqlite_url)
    assert accept_all(store, [raw(payload)]) == [False]
    assert normalise(store).deliveries == 0


def test_a_request_cancelled_mid_commit_does_not_stall_the_others(store: SqlStore) -> None:
    """A client that hangs up while its delivery is being written cancels only its own wait;
    the delivery is still stored and every other request gets its answer."""

    async def run() -> list[bool]:
        intake = SqlDeliveryIntake(store)
        deliveries = [raw(group(alert(fingerprint=f"c-{i}"), group_key=f"c-{i}")) for i in range(6)]
        try:
            waits = [asyncio.ensure_future(intake.accept(d)) for d in deliveries]
            await asyncio.sleep(0)
            waits[0].cancel()
            answers = await asyncio.gather(*waits[1:])
            return [*answers, await intake.accept(deliveries[0])]
        finally:
            await intake.close()

    assert asyncio.run(run()) == [True] * 5 + [False]
    assert count(store, t.deliveries) == 6


def test_a_batch_stops_taking_deliveries_when_its_time_is_up(store: SqlStore) -> None:
    """A batch whose time budget is spent commits what it did; the rest stay pending, in order,
    for the next batch."""
    accept_all(
        store, [raw(group(alert(fingerprint=f"b-{i}"), group_key=f"b-{i}")) for i in range(3)]
    )
    assert normalise(store, budget_s=0).deliveries == 1
    with store.transaction() as tx:
        assert [i.group_key for i in tx.incidents.list()] == ["b-0"]
    assert normalise(store).deliveries == 2
