"""Beat task: keep the silences each open incident shows in step with Alertmanager."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from bot.domain.errors import NotConfiguredError, UpstreamUnavailableError
from bot.domain.task_names import TaskName
from bot.services.silence_incident import sync_silences
from workers.runtime import container

log = structlog.get_logger(__name__)


@shared_task(bind=True, name=TaskName.SYNC_SILENCES)
def sync(self: Task) -> list[int]:
    """Record the Alertmanager silences covering each open incident; skipped without an
    Alertmanager URL, and when it cannot be reached (the next beat tries again)."""
    c = container(self)
    try:
        return sync_silences(c.store, c.silences, c.clock())
    except NotConfiguredError:
        return []
    except UpstreamUnavailableError as exc:
        log.warning("silence_sync_skipped", reason=str(exc))
        return []
