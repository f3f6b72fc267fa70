"""Workers serve queues in priority order on real Redis: with triages waiting, a chat post
queued after them is taken first (the transport the worker consumes through, with the app's
own broker options)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kombu import Queue

from bot.settings import Settings
from workers.app import create_celery
from workers.routes import QUEUES


def consumed_order(make_settings: Callable[..., Settings], redis_url: str) -> list[str]:
    app = create_celery(make_settings(redis_url=redis_url))
    for i in range(3):
        app.send_task("firebreak.triage.incident", args=[i])
    for i in range(3):
        app.send_task("firebreak.incidents.process", args=[i])
    order: list[str] = []

    def take(_body: Any, message: Any) -> None:
        order.append(message.headers["task"])
        message.ack()

    queues = [Queue(q, routing_key=q) for q in QUEUES]
    with app.connection_for_read() as conn, conn.Consumer(queues, callbacks=[take]) as consumer:
        consumer.qos(prefetch_count=1)
        for _ in range(6):
            conn.drain_events(timeout=5)
    return order


def test_chat_posts_go_before_waiting_triages(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    order = consumed_order(make_settings, redis_url)
    assert order == ["firebreak.incidents.process"] * 3 + ["firebreak.triage.incident"] * 3
