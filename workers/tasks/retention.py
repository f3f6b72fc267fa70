"""Beat task: prune records past their retention (FIREBREAK_RETENTION_*)."""

from __future__ import annotations

from celery import Task, shared_task

from bot.domain.task_names import TaskName
from bot.services.prune_records import RetentionPolicy, prune_records
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name=TaskName.PRUNE_RECORDS)
def prune(self: Task) -> dict[str, int]:
    """Delete old delivery hashes, dispatched outbox rows and old resolved timelines."""
    c = container(self)
    s = c.settings
    policy = RetentionPolicy(
        s.retention_deliveries_days,
        s.retention_outbox_days,
        s.retention_timeline_days,
        batch=s.retention_batch,
    )
    with retry_on_unavailable(self, max_retries=0):
        return prune_records(c.retention, policy, c.clock())
    return {}
