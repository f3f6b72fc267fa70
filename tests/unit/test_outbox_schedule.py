"""Delayed work waits in the outbox until it is due, then is relayed like any other row."""

from __future__ import annotations

import time

from bot.adapters.sql_store import SqlStore


def test_delayed_row_is_claimed_only_once_due(sqlite_store: SqlStore) -> None:
    """A row added with a delay is neither pending nor claimable before its time; after, it is."""
    with sqlite_store.transaction() as tx:
        now_id = tx.outbox.add("firebreak.incidents.process", [1])
        later_id = tx.outbox.add("firebreak.triage.incident", [1, False], delay_s=0.5)
    with sqlite_store.transaction() as tx:
        assert [row_id for row_id, _, _ in tx.outbox.pending()] == [now_id]
        assert [row[0] for row in tx.outbox.claim(0.0, 60.0)] == [now_id]
        tx.outbox.mark_dispatched([now_id])
    time.sleep(0.6)
    with sqlite_store.transaction() as tx:
        assert tx.outbox.count_pending() == 1
        assert tx.outbox.claim(0.0, 60.0) == [(later_id, "firebreak.triage.incident", [1, False])]
