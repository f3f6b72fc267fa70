"""Beat task: reconcile firing alerts with what Alertmanager still holds."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.task_names import TaskName
from bot.services.reconcile_alerts import reconcile_alerts
from workers.runtime import container

log = structlog.get_logger(__name__)


@shared_task(bind=True, name=TaskName.RECONCILE_ALERTS)
def reconcile(self: Task) -> list[int]:
    """Resolve alerts Alertmanager no longer has; skipped when no Alertmanager URL is set."""
    c = container(self)
    if c.alert_source is None:
        return []
    try:
        return reconcile_alerts(c.store, c.alert_source, c.clock())
    except UpstreamUnavailableError as exc:
        log.warning("reconcile_skipped", reason=str(exc))
        return []
