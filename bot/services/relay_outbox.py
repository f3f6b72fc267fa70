"""Relay outbox rows to the task broker; rows stay pending while the broker is down."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from bot.domain.errors import BrokerUnavailableError
from bot.ports import Store, TaskQueue

log = structlog.get_logger(__name__)
LEASE_S = 60.0


def relay_outbox(
    store: Store, tasks: TaskQueue, older_than_s: float = 0.0, only: Sequence[int] | None = None
) -> int:
    """Enqueue pending outbox rows (all older than `older_than_s`, or just `only`); answer how many.

    Rows are leased before they are sent, so concurrent relayers (the API, tasks, beat) never
    send a row twice; a row is marked dispatched only after the broker took it, and a relayer
    that dies mid-way leaves a lease that expires, so the row is sent later rather than lost.
    """
    with store.transaction() as tx:
        rows = tx.outbox.claim(older_than_s, LEASE_S, only)
    sent: list[int] = []
    try:
        for row_id, task, args in rows:
            tasks.enqueue(task, args)
            sent.append(row_id)
    except BrokerUnavailableError as exc:
        log.warning(
            "outbox_relay_deferred", sent=len(sent), pending=len(rows) - len(sent), reason=str(exc)
        )
    if rows:
        with store.transaction() as tx:
            tx.outbox.mark_dispatched(sent)
            tx.outbox.release([row_id for row_id, _, _ in rows[len(sent) :]])
    return len(sent)
