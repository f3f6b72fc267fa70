"""The API's outbox relay: after a webhook commits, hand its rows to the broker in batches."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi.concurrency import run_in_threadpool

from bot.domain.errors import StoreUnavailableError
from bot.ports import Store, TaskQueue
from bot.services.relay_outbox import relay_outbox

log = structlog.get_logger(__name__)
BATCH_WINDOW_S = 0.005


class OutboxRelayLoop:
    """One background task per API process; `poke()` after a commit wakes it.

    Rows left behind (broker down, process killed) are relayed by the beat task instead.
    """

    def __init__(self, store: Store, tasks: TaskQueue) -> None:
        self._store = store
        self._tasks = tasks
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_WINDOW_S)
            self._wake.clear()
            try:
                await run_in_threadpool(relay_outbox, self._store, self._tasks)
            except StoreUnavailableError as exc:
                log.warning("outbox_relay_failed", reason=str(exc))
