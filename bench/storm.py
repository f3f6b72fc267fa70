"""Alert-storm benchmark: N GPU-node groups on one node pool against N groups on N pools.

Each shape gets a fresh database and Redis queue. The groups are stored through the real
ingest service and relayed to a real `firebreak worker` on real Redis (no Prometheus, so
triage answers "unavailable" quickly and the figures measure Firebreak's own bookkeeping).
Prints, per shape: tasks queued through the outbox, timeline notes written, how many incidents
were triaged 30 s after every group was stored, and the time until all were triaged.
Not a test: figures, never a gate.

    python bench/storm.py [--groups 300] [--postgres] [--timeout-s 180] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import firebreak_database, private_redis, stop  # noqa: E402
from bot.adapters import sql_tables as t  # noqa: E402
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from bot.bootstrap import Container  # noqa: E402
from bot.domain.alerts import AlertGroup, delivery_hash  # noqa: E402
from bot.services.ingest_alerts import ingest_alerts  # noqa: E402
from bot.services.relay_outbox import relay_outbox  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.processes import wait_for  # noqa: E402

STARTS_AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


POOL_LABEL = "label_karpenter_sh_nodepool"  # as a rule copies it from kube_node_labels


def storm_group(index: int, pool: str) -> dict[str, Any]:
    """One GPU-node group: its node, its node pool and the fleet-wide service, no model, as
    node alerts are (the pool relates them; the service never does)."""
    labels = {
        "alertname": "GPUXidError",
        "severity": "critical",
        "service": "llm-serving",
        POOL_LABEL: pool,
        "Hostname": f"gpu-node-{index:03d}",
    }
    starts = (STARTS_AT + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{Hostname="gpu-node-{index:03d}", {POOL_LABEL}="{pool}"}}',
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"Hostname": labels["Hostname"], POOL_LABEL: pool},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"XID on gpu-node-{index:03d}"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{index:016x}",
            }
        ],
    }


def run_shape(
    shape: str, groups: int, redis_url: str, database_url: str, home: Path, args: argparse.Namespace
) -> None:
    upgrade(database_url)
    settings = Settings(
        home=home,
        database_url=database_url,
        redis_url=redis_url,
        triage_follow_up_s=0,
    )
    container = Container(settings)
    container.redis.flushdb()
    log = (home / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--concurrency", str(args.concurrency)],
        env=settings.as_env(),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))

    def count(query: Any) -> int:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def triaged() -> int:
        return count(select(func.count()).where(t.incidents.c.triage.is_not(None)))

    try:
        wait_for(lambda: b"ready." in (home / "worker.log").read_bytes(), timeout_s=60)
        bodies = [
            json.dumps(storm_group(i, "h100" if shape == "one-pool" else f"pool-{i:03d}"))
            for i in range(groups)
        ]
        started = time.perf_counter()
        for raw in bodies:
            group = AlertGroup.model_validate_json(raw)
            ingest_alerts(
                container.store,
                group,
                delivery_hash(raw.encode()),
                datetime.now(UTC),
                timedelta(minutes=30),
            )
            relay_outbox(container.store, container.tasks)
        stored_s = time.perf_counter() - started
        deadline = started + stored_s + args.timeout_s
        at_30s: int | None = None
        done_s: float | None = None
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            n = triaged()
            if at_30s is None and now >= started + stored_s + 30:
                at_30s = n
            if n >= groups:
                done_s = now - started
                break
            time.sleep(0.2)
        if at_30s is None:
            at_30s = triaged()
        outbox_rows = count(select(func.count()).select_from(t.outbox))
        notes = count(select(func.count()).where(t.timeline_events.c.kind == "note"))
        events = count(select(func.count()).select_from(t.timeline_events))
        done = f"{done_s:.1f} s" if done_s is not None else f"not within {args.timeout_s:.0f} s"
        print(f"{shape:<14} {groups} groups on {'SQLite' if not args.postgres else 'PostgreSQL'}")
        print(f"  stored in        {stored_s:.1f} s")
        print(f"  tasks queued     {outbox_rows} (outbox rows, when triage finished or stopped)")
        print(f"  timeline notes   {notes} (of {events} timeline events)")
        print(f"  triaged at +30 s {at_30s} of {groups}")
        print(f"  all triaged in   {done} ({triaged()} of {groups} triaged)")
        sys.stdout.flush()
    finally:
        stop(worker)
        log.close()
        container.store.dispose()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432")
    parser.add_argument("--timeout-s", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--shape", choices=["one-pool", "many-pools", "both"], default="both")
    args = parser.parse_args()
    shapes = ["one-pool", "many-pools"] if args.shape == "both" else [args.shape]
    with private_redis(Path(tempfile.mkdtemp(prefix="firebreak-storm-redis-"))) as redis_url:
        for shape in shapes:
            home = Path(tempfile.mkdtemp(prefix=f"firebreak-storm-{shape}-"))
            with firebreak_database(home, not args.postgres, "firebreak_storm") as database_url:
                run_shape(shape, args.groups, redis_url, database_url, home, args)


if __name__ == "__main__":
    main()
