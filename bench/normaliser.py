"""Normaliser drain rate: pending deliveries turned into incidents per second, in process, on a
scratch PostgreSQL database (or SQLite), fresh groups opened together (`open_incidents`) against
the one-at-a-time path (`ingest_group`) on the same deliveries. Each delivery is a new group of
`--alerts` new alerts, as in an alert storm across a fleet; repeats and resolves always take the
one-at-a-time path. Figures, never a gate.

    python bench/normaliser.py [--deliveries 2000] [--alerts 1] [--sqlite] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import firebreak_database, firing_alert, webhook_body  # noqa: E402
from bot.adapters import sql_tables as t  # noqa: E402
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from bot.adapters.sql_store import SqlStore  # noqa: E402
from bot.domain.alerts import delivery_hash  # noqa: E402
from bot.services import normalise_deliveries  # noqa: E402
from bot.services.normalise_deliveries import normalise_pending  # noqa: E402

WINDOW = timedelta(minutes=30)


def store_deliveries(store: SqlStore, count: int, alerts: int, tag: str) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        model = f"{tag}-model-{i}"
        labels = {"alertname": "LLMKVCacheSaturated", "model_name": model, "severity": "critical"}
        fired = [
            firing_alert({**labels, "pod": f"{model}-{a}"}, f"{tag}{i:08x}{a:04x}", "KV cache full")
            for a in range(alerts)
        ]
        content = webhook_body(
            {"alertname": labels["alertname"], "model_name": model}, labels, fired
        )
        rows.append(
            {
                "digest": delivery_hash(content),
                "receiver": "firebreak",
                "group_key": model,
                "body": content,
                "received_at": now,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(t.deliveries), rows)


def drain(store: SqlStore) -> tuple[int, float]:
    started, done = time.perf_counter(), 0
    while True:
        result = normalise_pending(store, datetime.now(UTC), WINDOW)
        done += result.deliveries
        if not result.deliveries:
            return done, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"batched": [], "one at a time": []}
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="firebreak-norm-")))
        url = stack.enter_context(firebreak_database(home, args.sqlite, "firebreak_norm"))
        upgrade(url)
        store = SqlStore.from_url(url)
        for round_no in range(args.rounds):
            for mode in rates:
                store_deliveries(store, args.deliveries, args.alerts, f"r{round_no}{mode[0]}")
                with ExitStack() as patch:
                    if mode != "batched":
                        patch.enter_context(
                            mock.patch.object(
                                normalise_deliveries, "fresh_deliveries", return_value=set()
                            )
                        )
                    done, elapsed = drain(store)
                rates[mode].append(done / elapsed)
                print(f"round {round_no + 1} {mode:>13}: {done} deliveries in {elapsed:.2f} s")
    kind = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"\n{kind}, {args.deliveries} new groups of {args.alerts} alert(s) per round")
    for mode, values in rates.items():
        print(f"{mode:>13}: median {statistics.median(values):,.0f} deliveries/s")
    ratio = statistics.median(rates["batched"]) / statistics.median(rates["one at a time"])
    print(f"{'ratio':>13}: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
