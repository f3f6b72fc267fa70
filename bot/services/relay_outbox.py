"""Relay outbox rows to the task broker; rows stay pending while the broker is down."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from bot.domain.errors import BrokerUnavailableError
from bot.ports import Store, TaskQueue

log = structlog.get_logger(__name__)


def relay_outbox(
    store: Store, tasks: TaskQueue, older_than_s: float = 0.0, only: Sequence[int] | None = None
) -> int:
    """Enqueue pending outbox rows (all older than `older_than_s`, or just `only`); answer how many.

    A row is marked dispatched only after the broker took it, so a crash re-sends rather than
    loses; tasks are idempotent, so a re-send is harmless.
    """
    with store.transaction() as tx:
        rows = tx.outbox.pending(older_than_s)
    if only is not None:
        wanted = set(only)
        rows = [row for row in rows if row[0] in wanted]
    sent: list[int] = []
    try:
        for row_id, task, args in rows:
            tasks.enqueue(task, args)
            sent.append(row_id)
    except BrokerUnavailableError as exc:
        log.warning(
            "outbox_relay_deferred", sent=len(sent), pending=len(rows) - len(sent), reason=str(exc)
        )
    if sent:
        with store.transaction() as tx:
            tx.outbox.mark_dispatched(sent)
    return len(sent)
