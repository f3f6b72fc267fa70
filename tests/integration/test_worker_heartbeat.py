"""The worker's heartbeat file is touched only while the broker (the real local Redis) answers."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from structlog.testing import capture_logs

from bot.settings import Settings
from tests.processes import free_port
from workers.app import create_celery
from workers.heartbeat import HEARTBEAT_MAX_AGE_S, Heartbeat, heartbeat_age_s


def heartbeat(settings: Settings) -> Heartbeat:
    """The consumer bootstep as Celery builds it, on an app made from `settings`."""
    settings.home.mkdir(parents=True, exist_ok=True)  # start() makes it before the first beat
    return Heartbeat(SimpleNamespace(app=create_celery(settings)))


def test_beat_touches_the_file_while_the_broker_answers(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    """A PING answered by Redis touches the file, so `worker --check` sees a fresh heartbeat."""
    settings = make_settings(redis_url=redis_url)
    assert heartbeat_age_s(settings) is None
    heartbeat(settings).beat()
    age_s = heartbeat_age_s(settings)
    assert age_s is not None
    assert age_s < HEARTBEAT_MAX_AGE_S


def test_beat_skips_and_says_why_when_the_broker_is_gone(
    make_settings: Callable[..., Settings],
) -> None:
    """With nothing listening at the broker's address the file is left alone and the skip is
    logged with the broker's failure."""
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with capture_logs() as logs:
        heartbeat(settings).beat()
    assert heartbeat_age_s(settings) is None
    [skipped] = [e for e in logs if e["event"] == "worker_heartbeat_skipped"]
    assert "broker unreachable" in skipped["reason"]
