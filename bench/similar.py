"""Incident-memory benchmark: similar-incident lookup latency at 100,000 stored incidents.

A year of one fleet's history is written straight into a fresh database migrated to head:
N incidents over 365 days on 40 models in 8 namespaces across 120 nodes, each remembered with
a top hypothesis and 2-6 moved signals (the catalogue's names, up or down, |z| 2-40), every
one mitigated and resolved, one in ten with a runbook run. Then the lookup triage makes —
indexed candidate queries, scoring in Python, outcomes of the best matches — is timed for
random incidents of the last month, and so is the read a chat card or the API makes afterwards
(the matches triage stored and their outcomes now), on SQLite and on a scratch PostgreSQL
database (dropped afterwards).
Prints p50 / p95 / max latency of each, candidates read and matches shown. Not a test.

    python bench/similar.py [--incidents 100000] [--lookups 300] [--limit 2]
                            [--backends sqlite,postgres] [--seed 13]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import firebreak_database, percentile  # noqa: E402
from bot.adapters import sql_tables as t  # noqa: E402
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from bot.adapters.sql_store import SqlStore  # noqa: E402
from bot.domain.runbooks import OnFailure, Run, RunState, RunStep  # noqa: E402
from bot.services.recall_incidents import LIMIT_PER_KEY, match_earlier, recall  # noqa: E402

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BATCH = 5000
CAUSES = (
    "capacity_saturation",
    "gpu_fault",
    "bad_deploy",
    "thermal_throttling",
    "upstream_errors",
    "unknown",
)
SIGNALS = (
    "queue_waiting",
    "queue_running",
    "kv_cache_usage",
    "preemptions",
    "ttft_p95",
    "e2e_p95",
    "itl_p95",
    "request_rate",
    "error_ratio",
    "drift_psi",
    "gpu_util",
    "gpu_temp",
    "sm_clock",
    "power",
    "xid",
    "throttle",
    "pod_not_ready",
    "restarts",
)
RUNBOOKS = {
    "capacity_saturation": "scale-out",
    "gpu_fault": "failover",
    "bad_deploy": "rollback",
}


def history(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` incidents over the year before NOW, oldest first."""
    spans = sorted(rng.uniform(0, 365 * 86400) for _ in range(count))
    rows = []
    for n, ago_s in enumerate(reversed(spans), start=1):
        model = rng.randrange(40)
        cause = rng.choices(CAUSES, weights=(30, 15, 20, 10, 15, 10))[0]
        triggered = NOW - timedelta(seconds=ago_s)
        mitigated = triggered + timedelta(seconds=rng.uniform(60, 3600))
        moved = rng.sample(SIGNALS, rng.randint(2, 6))
        rows.append(
            {
                "id": n,
                "triggered_at": triggered,
                "mitigated_at": mitigated,
                "resolved_at": mitigated + timedelta(seconds=rng.uniform(60, 3600)),
                "model": f"model-{model:02d}",
                "namespace": f"serving-{model % 8}",
                "node": f"gpu-node-{rng.randrange(120):03d}",
                "hypothesis": cause,
                "signals": {
                    s: {"direction": rng.choice(("up", "up", "down")), "z": rng.uniform(2, 40)}
                    for s in moved
                },
            }
        )
    return rows


def run_document(incident_id: int, runbook: str, at: datetime, rng: random.Random) -> Any:
    run = Run(
        id=incident_id,
        incident_id=incident_id,
        runbook=runbook,
        target="fleet",
        model="fleet",
        steps=[RunStep(action="scale", params={}, timeout_s=30, on_failure=OnFailure.ABORT)],
        verify={"query": "up", "success_condition": "> 0"},
        approval_required=False,
        cooldown_s=600,
        max_runs_per_hour=3,
        lock_ttl_s=600,
        created_at=at,
    )
    for state in (RunState.APPROVED, RunState.RUNNING, RunState.VERIFYING):
        run.move_to(state, at)
    run.move_to(RunState.SUCCEEDED if rng.random() < 0.8 else RunState.FAILED, at)
    return run.model_dump(mode="json")


def load(store: SqlStore, rows: list[dict[str, Any]], rng: random.Random) -> float:
    """Write incidents, their memory and some runs in batches; answer seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        incidents, memory, runs = [], [], []
        for r in chunk:
            labels = {"alertname": "Bench", "model_name": r["model"], "namespace": r["namespace"]}
            incidents.append(
                {
                    "id": r["id"],
                    "receiver": "firebreak",
                    "group_key": f"g{r['id']}",
                    "title": f"{r['hypothesis']} on {r['model']}",
                    "severity": "critical",
                    "status": "resolved",
                    "labels": labels,
                    "triggered_at": r["triggered_at"],
                    "mitigated_at": r["mitigated_at"],
                    "resolved_at": r["resolved_at"],
                    "reopened_count": 0,
                    "version": 3,
                    "chat_mark": 0,
                }
            )
            memory.append(
                {
                    "incident_id": r["id"],
                    "triggered_at": r["triggered_at"],
                    "model": r["model"],
                    "namespace": r["namespace"],
                    "node": r["node"],
                    "hypothesis": r["hypothesis"],
                    "confidence": 0.8,
                    "nodes": [r["node"]],
                    "signals": r["signals"],
                }
            )
            runbook = RUNBOOKS.get(r["hypothesis"])
            if runbook is not None and rng.random() < 0.1:
                document = run_document(r["id"], runbook, r["triggered_at"], rng)
                runs.append(
                    {
                        "id": r["id"],
                        "incident_id": r["id"],
                        "runbook": runbook,
                        "target": "fleet",
                        "state": document["state"],
                        "created_at": r["triggered_at"],
                        "updated_at": r["triggered_at"],
                        "document": document,
                    }
                )
        with store.engine.begin() as conn:
            conn.execute(insert(t.incidents), incidents)
            conn.execute(insert(t.incident_memory), memory)
            if runs:
                conn.execute(insert(t.runbook_runs), runs)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
            top = max(r["id"] for r in rows)
            for table in ("incidents", "runbook_runs"):
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', {top})")
    return time.perf_counter() - started


def measure(store: SqlStore, viewers: list[int], limit: int) -> dict[str, Any]:
    """Per viewer, in its own transaction: the lookup triage makes (indexed candidate queries,
    scoring, the outcomes of the best `limit`), stored as triage stores it; then the read a chat
    card or the API makes (the stored matches and their outcomes now)."""
    lookup_ms, read_ms, candidates, found = [], [], [], []
    for incident_id in viewers:
        started = time.perf_counter()
        with store.transaction() as tx:
            traits = tx.memory.traits(incident_id)
            assert traits is not None
            matches = match_earlier(tx, traits)
            tx.memory.outcomes([m.incident_id for m in matches[:limit]])
            tx.memory.remember(traits, matches)
        lookup_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with store.transaction() as tx:
            found.append(len(recall(tx, incident_id, limit)))
        read_ms.append((time.perf_counter() - started) * 1000)
        with store.transaction() as tx:
            candidates.append(len(tx.memory.candidates(traits, LIMIT_PER_KEY)))
    return {
        "lookup": (percentile(lookup_ms, 50), percentile(lookup_ms, 95), max(lookup_ms)),
        "read": (percentile(read_ms, 50), percentile(read_ms, 95), max(read_ms)),
        "candidates": statistics.mean(candidates),
        "matches": statistics.mean(found),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--limit", type=int, default=2, help="matches asked (chat shows 2)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = history(args.incidents, rng)
    recent = [r["id"] for r in rows if NOW - r["triggered_at"] <= timedelta(days=30)]
    viewers = rng.sample(recent, min(args.lookups, len(recent)))
    print(f"similar-incident lookup, {args.incidents:,} stored incidents, {len(viewers)} lookups")
    with tempfile.TemporaryDirectory(prefix="firebreak-similar-") as folder:
        for backend in args.backends.split(","):
            with firebreak_database(Path(folder), backend == "sqlite", "bench_similar") as url:
                upgrade(url)
                store = SqlStore.from_url(url)
                load_s = load(store, rows, random.Random(args.seed))
                measure(store, viewers[:20], args.limit)  # warm caches and pools
                figures = measure(store, viewers, args.limit)
                store.dispose()
            print(f"  {backend} (loaded in {load_s:.0f} s)")
            for name, what in (("lookup", "at triage"), ("read", "card / API")):
                p50, p95, most = figures[name]
                print(f"    {what:<11} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {most:6.2f} ms")
            print(
                f"    candidates read {figures['candidates']:.0f}, "
                f"matches shown {figures['matches']:.1f} per incident"
            )


if __name__ == "__main__":
    main()
