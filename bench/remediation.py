"""Remediation benchmark on the simulator with real Prometheus, Redis guards and SQLite.

Per shipped runbook: a fault is injected, its alert ingested, triage's hypothesis stored,
runbooks planned (approval given at once where required) and the run ticked as the worker
would; prints seconds from alert to the first action on the fleet and to verified recovery.
Then a burst of 50 duplicate incidents on one model is planned from 8 threads at once
(twice: while the first run holds the target, and again inside its cooldown) and the
actions that reached the fleet's control API are counted; it must be 1.
Not a test: figures, never a gate. By default the runbooks' waits and verification windows
are shortened (bot/demo/fast_runbooks.py; scale-out verifies from 10 s after scaling, as long as
the simulated queue takes to drain at 30x); `--shipped` uses them as shipped (minutes per run).

    python bench/remediation.py [--shipped] [--burst 50] [--speed 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bot.adapters.http_target import HttpTarget  # noqa: E402
from bot.adapters.prometheus import PrometheusMetricsSource  # noqa: E402
from bot.adapters.redis_guards import RedisGuardStore  # noqa: E402
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from bot.adapters.sql_runs import SqlRunStore  # noqa: E402
from bot.adapters.sql_store import SqlStore  # noqa: E402
from bot.demo.fast_runbooks import SHIPPED, write_fast_runbooks  # noqa: E402
from bot.demo.monitoring import start_prometheus  # noqa: E402
from bot.domain.alerts import AlertGroup, delivery_hash  # noqa: E402
from bot.domain.runbooks import RunState  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.runbook.actions.registry import action_named  # noqa: E402
from bot.runbook.executor import RunbookExecutor  # noqa: E402
from bot.runbook.guards import Guards  # noqa: E402
from bot.runbook.loader import load_directory  # noqa: E402
from bot.runbook.targets import BoundTarget, TargetRegistry  # noqa: E402
from bot.services.ingest_alerts import ingest_alerts  # noqa: E402
from bot.services.remediate import Remediation  # noqa: E402
from bot.services.run_journal import StoreRunJournal  # noqa: E402
from simulator.server import start_in_thread  # noqa: E402
from tests.fakes.remediation import RecordingTaskQueue  # noqa: E402
from tests.payloads import alert, body, group  # noqa: E402
from tests.redis_server import redis_server  # noqa: E402
from tests.servers.control_proxy import ControlProxy  # noqa: E402

MODEL = "llama-3-70b-instruct"
SCENARIOS = (  # runbook, fault, alert, triage hypothesis
    ("scale-out", "saturation", "LLMKVCacheSaturated", "capacity_saturation"),
    ("failover", "gpu_xid", "GPUXidError", "gpu_fault"),
    ("rollback", "bad_deploy", "LLMModelDrift", "bad_deploy"),
)


def clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Rig:
    remediation: Remediation
    store: SqlStore
    runs: SqlRunStore
    proxy: ControlProxy


@contextmanager
def rig(folder: Path, runbooks: Path, redis_url: str, speed: float) -> Iterator[Rig]:
    """A fresh simulator behind a counting proxy, Prometheus scraping it, a fresh database."""
    simulator = start_in_thread(seed=3, speed=speed)
    prometheus = start_prometheus(folder, [f"127.0.0.1:{simulator.port}"], rule_files=[])
    proxy = ControlProxy(simulator.url)
    url = f"sqlite:///{folder / 'firebreak.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    runs = SqlRunStore.on(store)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    target = HttpTarget(proxy.url, timeout_s=5)
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, target)])
    guards = Guards(RedisGuardStore(client), clock)
    metrics = PrometheusMetricsSource(prometheus.url, timeout_s=5)
    journal = StoreRunJournal(store, clock)
    executor = RunbookExecutor(runs, registry, guards, metrics, journal, clock)
    remediation = Remediation(
        store,
        runs,
        load_directory(runbooks),
        registry,
        guards,
        executor,
        RecordingTaskQueue(),
        clock,
    )
    try:
        time.sleep(3)  # a few scrapes, so rate() windows have data
        yield Rig(remediation, store, runs, proxy)
    finally:
        metrics.close()
        target.close()
        proxy.stop()
        prometheus.stop()
        simulator.stop()


def open_incident(store: SqlStore, name: str, key: str, hypothesis: str) -> int:
    """Ingest one alert as Alertmanager sends it, and store triage's top hypothesis."""
    starts = clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = group(alert(name, fingerprint=f"fp-{key}", starts_at=starts), group_key=key)
    result = ingest_alerts(
        store,
        AlertGroup.model_validate(payload),
        delivery_hash(body(payload)),
        clock(),
        timedelta(minutes=30),
    )
    incident_id = result.incident_ids[0]
    with store.transaction() as tx:
        tx.triages.save(incident_id, {"hypotheses": [{"kind": hypothesis}]})
    return incident_id


def first_target_step(rig: Rig, run_id: int) -> int:
    run = rig.runs.load(run_id)
    assert run is not None
    return next(
        i for i, s in enumerate(run.steps) if (a := action_named(s.action)) and a.TOUCHES_TARGET
    )


def timed_run(rig: Rig, runbook: str, fault: str, name: str, hypothesis: str) -> str:
    """One scenario: seconds from the alert to the action and to verified recovery."""
    import httpx

    httpx.post(
        f"{rig.proxy.upstream}/faults", json={"kind": fault, "model": MODEL}
    ).raise_for_status()
    time.sleep(2)  # the fault shows in a couple of scrapes before the alert
    started = time.monotonic()
    incident_id = open_incident(rig.store, name, runbook, hypothesis)
    outcomes = rig.remediation.plan_incident(incident_id)
    created = [o for o in outcomes if o.runbook == runbook and o.run_id is not None]
    if not created:
        return f"{runbook:<10} {fault:<11} not run: {[(o.runbook, o.outcome) for o in outcomes]}"
    run_id = created[0].run_id or 0
    if created[0].reason == RunState.AWAITING_APPROVAL.value:
        rig.remediation.approve(run_id, "bench")
    acting_step = first_target_step(rig, run_id)
    acted_s: float | None = None
    while True:
        outcome = rig.remediation.tick(run_id, holder="bench")
        run = outcome.run
        assert run is not None
        if acted_s is None and run.next_step > acting_step:
            acted_s = time.monotonic() - started
        if outcome.next_in_s is None:
            break
        time.sleep(outcome.next_in_s)
    total_s = time.monotonic() - started
    verified = f"{total_s:6.1f} s" if run.state is RunState.SUCCEEDED else "   -    "
    acted = f"{acted_s:6.1f} s" if acted_s is not None else "   -    "
    return f"{runbook:<10} {fault:<11} {acted}   {verified}     {run.state.value} ({run.reason})"


def burst(rig: Rig, size: int) -> str:
    """`size` duplicate incidents planned at once, twice; actions on the fleet are counted."""
    incidents = [
        open_incident(rig.store, "LLMKVCacheSaturated", f"dup-{n}", "capacity_saturation")
        for n in range(size)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(rig.remediation.plan_incident, incidents))
    created = [o.run_id for outcomes in first for o in outcomes if o.run_id is not None]
    for run_id in created:
        while (outcome := rig.remediation.tick(run_id or 0, "bench")).next_in_s is not None:
            time.sleep(outcome.next_in_s)
    more = [
        open_incident(rig.store, "LLMKVCacheSaturated", f"dup2-{n}", "capacity_saturation")
        for n in range(size)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        second = list(pool.map(rig.remediation.plan_incident, more))
    skipped = sum(o.outcome == "skipped" for outcomes in first + second for o in outcomes)
    actions = rig.proxy.puts("/replicas")
    held = "held" if actions == 1 and len(created) == 1 else "DID NOT HOLD"
    return (
        f"burst of {size} duplicate incidents, twice (during the run, then in cooldown): "
        f"runs created {len(created)}, guard skips {skipped}/{2 * size - len(created)}, "
        f"actions on the fleet {actions} → guards {held}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipped", action="store_true", help="runbooks as shipped (slow)")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--speed", type=float, default=30.0, help="simulated seconds per second")
    args = parser.parse_args()
    configure_logging(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp) / "redis") as redis_url:
        folder = Path(tmp)
        runbooks = SHIPPED if args.shipped else write_fast_runbooks(folder / "rb", window="5s")
        print(f"runbooks: {'as shipped' if args.shipped else 'shipped, with short waits'}")
        print(f"{'runbook':<10} {'fault':<11} {'→ action':>8}   {'→ verified':>10}   result")
        for n, (runbook, fault, name, hypothesis) in enumerate(SCENARIOS):
            with rig(folder / f"s{n}", runbooks, redis_url, args.speed) as r:
                print(timed_run(r, runbook, fault, name, hypothesis), flush=True)
        with rig(folder / "burst", runbooks, redis_url, args.speed) as r:
            print(burst(r, args.burst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
