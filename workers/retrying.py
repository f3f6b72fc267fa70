"""Map Firebreak's retryable errors to Celery retries; everything else fails the task loudly."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from bot.domain.errors import (
    RateLimitedError,
    StepInFlightError,
    StoreUnavailableError,
    UpstreamUnavailableError,
)
from workers.app import max_countdown_s

MAX_BACKOFF_S = 300
RATE_LIMIT_JITTER_S = 1.0
UNBOUNDED = 2**31  # Celery reads `retry(max_retries=None)` as "the task's default" (3)


@contextmanager
def retry_on_unavailable(task: Task, max_retries: int = 10) -> Iterator[None]:
    """Retry after Retry-After on a rate limit, with exponential backoff on an outage."""
    try:
        yield
    except RateLimitedError as exc:
        # Never give up on a rate limit (the latest state must get through); jitter spreads
        # the retries of many paced tasks over the next second instead of one instant.
        countdown = exc.retry_after_s + random.uniform(0, RATE_LIMIT_JITTER_S)
        raise task.retry(exc=exc, countdown=countdown, max_retries=UNBOUNDED) from exc
    except StepInFlightError as exc:
        # Bounded by the claim's lease: after it the step is taken over, never waited on again.
        raise task.retry(exc=exc, countdown=exc.retry_after_s, max_retries=UNBOUNDED) from exc
    except (UpstreamUnavailableError, StoreUnavailableError, SoftTimeLimitExceeded) as exc:
        # An overrun (a slow Prometheus, say) is retried like an outage, never acked as done.
        # Below the broker's countdown bound, so a waiting retry is never redelivered early.
        settings = getattr(task.app, "firebreak_settings", None)
        bound = max_countdown_s(settings) if settings is not None else MAX_BACKOFF_S
        countdown = min(MAX_BACKOFF_S, bound, 2**task.request.retries)
        raise task.retry(exc=exc, countdown=countdown, max_retries=max_retries) from exc
