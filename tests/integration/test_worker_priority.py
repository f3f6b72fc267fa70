"""`firebreak worker` with FIREBREAK_WORKER_NICE runs below the API's CPU priority: the worker
process and the pool processes it forks, on the real local Redis."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bot.settings import Settings
from tests.processes import child_pids, start_worker

NICE = 7


def test_worker_and_its_pool_run_at_the_lowered_priority(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    """The worker is NICE steps nicer than the process that started it, and so is each pool
    process; the default leaves it at the same priority."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = start_worker(make_settings(redis_url=redis_url, worker_nice=NICE), tmp_path, 2)
    try:
        pid = lowered.process.pid
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, base + NICE)
        pool = child_pids(pid)
        assert pool
        assert {os.getpriority(os.PRIO_PROCESS, child) for child in pool} == {min(19, base + NICE)}
    finally:
        lowered.stop()
    plain = start_worker(make_settings(redis_url=redis_url), tmp_path / "plain")
    try:
        assert os.getpriority(os.PRIO_PROCESS, plain.process.pid) == base
    finally:
        plain.stop()
