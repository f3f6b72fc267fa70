"""The worker's delivery normaliser: a thread in the worker's main process (a bootstep).

It turns the deliveries the webhook stored into incidents and relays the tasks they queue. The
main process forks pool children (at start, and to replace one that died), and a fork copies
the thread's objects into the child without the thread. So a fork waits until the thread is
between batches: no transaction or connection of it is in use, and nothing the child inherits
can be finalised mid-transaction (with SQLite, a rollback from the child would reach the
parent's database through shared memory).
"""

from __future__ import annotations

import os
from typing import Any

from celery import bootsteps

from bot.bootstrap import Container
from bot.services.normalise_deliveries import DeliveryNormaliser
from bot.settings import Settings

_parent: Container | None = None  # the thread's adapters, built in the worker's main process
_running: DeliveryNormaliser | None = None


def _before_fork() -> None:
    if _running is not None:
        _running.working.acquire()


def _after_fork_in_parent() -> None:
    if _running is not None:
        _running.working.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent)


class Normaliser(bootsteps.StartStopStep):  # type: ignore[misc]
    """Worker bootstep: run a DeliveryNormaliser while the worker runs."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.normaliser: DeliveryNormaliser | None = None

    def start(self, parent: Any) -> None:
        global _parent, _running
        settings: Settings = parent.app.firebreak_settings
        _parent = Container(settings)
        self.normaliser = _running = _parent.normaliser()
        self.normaliser.start()

    def stop(self, parent: Any) -> None:
        if self.normaliser is not None:
            self.normaliser.stop()
            self.normaliser = None
