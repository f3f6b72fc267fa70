"""The worker's delivery normaliser: a thread in the worker's main process (a bootstep).

It turns the deliveries the webhook stored into incidents and relays the tasks they queue.
Started after the pool has forked its children; a child forked later (one replaced after a
crash) drops the inherited database connections without closing them, so the parent's stay
intact.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps
from celery.signals import worker_process_init

from bot.bootstrap import Container
from bot.services.normalise_deliveries import DeliveryNormaliser
from bot.settings import Settings

_parent: Container | None = None  # held so a forked child never closes the parent's sockets


class Normaliser(bootsteps.StartStopStep):  # type: ignore[misc]
    """Worker bootstep: run a DeliveryNormaliser while the worker runs."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.normaliser: DeliveryNormaliser | None = None

    def start(self, parent: Any) -> None:
        global _parent
        settings: Settings = parent.app.firebreak_settings
        _parent = Container(settings)
        self.normaliser = _parent.normaliser()
        self.normaliser.start()

    def stop(self, parent: Any) -> None:
        if self.normaliser is not None:
            self.normaliser.stop()
            self.normaliser = None


@worker_process_init.connect
def _forget_parent_connections(**_: Any) -> None:
    if _parent is not None and "store" in _parent.__dict__:
        _parent.store.engine.dispose(close=False)
