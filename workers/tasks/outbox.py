"""Beat task: relay outbox rows the webhook could not hand to the broker."""

from __future__ import annotations

from celery import Task, shared_task

from bot.domain.task_names import TaskName
from bot.services.relay_outbox import relay_outbox
from workers.retrying import retry_on_unavailable
from workers.runtime import container

RELAY_AFTER_S = 3.0


@shared_task(bind=True, name=TaskName.RELAY_OUTBOX)
def relay(self: Task) -> int:
    """Enqueue every outbox row still pending a few seconds after it was written."""
    c = container(self)
    with retry_on_unavailable(self, max_retries=0):
        return relay_outbox(c.store, c.tasks, older_than_s=RELAY_AFTER_S)
    return 0
