"""Run a task later without holding it in the broker for long.

A countdown message sits unacknowledged in a worker (and in Redis's unacked index) until it is
due; past the visibility timeout Redis hands it to another worker too, and a Redis restart makes
the worker restore it. So short delays stay countdowns, and longer ones become an outbox row
due at that time, which beat's relay sends when it is due.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from bot.ports import Store
from workers.app import max_countdown_s
from workers.runtime import container


def run_later(task: Task, args: list[Any], delay_s: float, store: Store | None = None) -> None:
    """Run `task(*args)` in about `delay_s` seconds, through the broker or the outbox."""
    c = container(task)
    if delay_s <= max_countdown_s(c.settings):
        task.apply_async(args, countdown=delay_s)
        return
    with (store or c.store).transaction() as tx:
        tx.outbox.add(task.name, args, delay_s=delay_s)
