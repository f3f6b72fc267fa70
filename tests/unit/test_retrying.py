"""Rate limits and claims in flight are retried for as long as they last; outages are bounded."""

from __future__ import annotations

from celery import Celery, Task

from bot.domain.errors import RateLimitedError, StoreUnavailableError
from workers.retrying import retry_on_unavailable

app = Celery("retrying-test")
attempts: list[int] = []


@app.task(bind=True)
def paced(self: Task, fail_times: int, error: str) -> str:
    attempts.append(self.request.retries)
    with retry_on_unavailable(self, max_retries=2):
        if len(attempts) <= fail_times:
            if error == "rate":
                raise RateLimitedError("C0 is paced", retry_after_s=0)
            raise StoreUnavailableError("database unavailable")
    return "posted"


def test_a_rate_limit_is_retried_past_celerys_default_limit() -> None:
    """Six rate limits in a row (Celery's default gives up after three) still end posted."""
    attempts.clear()
    result = paced.apply(args=(6, "rate"))
    assert result.get(disable_sync_subtasks=False) == "posted"
    assert attempts == [0, 1, 2, 3, 4, 5, 6]


def test_an_outage_gives_up_after_its_bound() -> None:
    """A database outage is retried `max_retries` times, then the task fails loudly."""
    attempts.clear()
    result = paced.apply(args=(6, "outage"))
    assert result.failed()
    assert attempts == [0, 1, 2]
