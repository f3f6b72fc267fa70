"""Triage benchmark: top-1 / top-3 accuracy, latency and queries per incident (not a test).

Runs `correlate` over synthetic fault scenarios (tests.fakes.metrics) at several severities,
noise levels and alert delays, with a small per-query delay standing in for Prometheus.
`--decoy-deploys 0.3` adds a benign model rollout to 30% of the non-deploy incidents.
The scenarios were written with the catalogue in mind, so figures are an upper bound.
Run from the repository root: `.venv/bin/python -m bench.triage [--incidents N]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from bot.correlation.engine import correlate
from tests.fakes.metrics import ALERTS, FAULTS, fault_scenario

KINDS = [k for k in FAULTS if k != "healthy"] + ["healthy"]
EXPECTED = {k: ("unknown" if k == "healthy" else k) for k in KINDS}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=12, help="incidents per fault kind")
    parser.add_argument("--query-delay-ms", type=float, default=5.0)
    parser.add_argument("--with-alert-names", action="store_true")
    parser.add_argument("--charts", action="store_true", help="also draw charts")
    parser.add_argument(
        "--decoy-deploys",
        type=float,
        default=0.0,
        help="share of non-deploy incidents that also get a benign model rollout",
    )
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())

    rng = random.Random(7)
    onset = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latencies_ms: list[float] = []
    chart_root = Path(tempfile.mkdtemp(prefix="firebreak-bench-"))
    for kind in KINDS:
        for i in range(args.incidents):
            severity = rng.choice([0.1, 0.2, 0.35, 0.5, 1.0])
            noise = rng.choice([1.0, 3.0, 5.0])
            alert_delay_s = rng.uniform(60, 360)
            scenario = fault_scenario(kind, onset, seed=i, severity=severity, noise_scale=noise)
            if kind != "bad_deploy" and rng.random() < args.decoy_deploys:
                rollout_ts = (onset + timedelta(seconds=rng.uniform(-120, 240))).timestamp()
                scenario.versions = [("v1", None, rollout_ts + 60), ("v2", rollout_ts, None)]
            source = scenario.source(delay_s=args.query_delay_ms / 1000)
            started_at = onset + timedelta(seconds=alert_delay_s)
            names = ALERTS[kind] if args.with_alert_names else []
            clock = time.perf_counter()
            report = correlate(
                source,
                {"model_name": "llama-3-8b"},
                names,
                started_at,
                started_at + timedelta(minutes=5),
                chart_dir=chart_root / f"{kind}-{i}" if args.charts else None,
            )
            latencies_ms.append((time.perf_counter() - clock) * 1000)
            ranked = [h.kind.value for h in report.hypotheses]
            confusion[kind][ranked[0]] += 1
            rows[kind]["top1"].append(float(ranked[0] == EXPECTED[kind]))
            rows[kind]["top3"].append(float(EXPECTED[kind] in ranked[:3]))
            rows[kind]["queries"].append(float(len(report.queries)))
            rows[kind]["confidence"].append(report.hypotheses[0].confidence)

    print(f"{'fault':<22}{'top-1':>7}{'top-3':>7}{'conf':>7}{'queries':>9}  top-1 answers")
    for kind in KINDS:
        row = rows[kind]
        answers = ", ".join(f"{k}:{n}" for k, n in sorted(confusion[kind].items()))
        print(
            f"{kind:<22}{statistics.mean(row['top1']):>7.0%}{statistics.mean(row['top3']):>7.0%}"
            f"{statistics.mean(row['confidence']):>7.2f}{statistics.mean(row['queries']):>9.1f}"
            f"  {answers}"
        )
    top1 = statistics.mean(v for r in rows.values() for v in r["top1"])
    top3 = statistics.mean(v for r in rows.values() for v in r["top3"])
    print(f"{'all':<22}{top1:>7.0%}{top3:>7.0%}")
    p50_ms, p95_ms = percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.95)
    print(
        f"latency ms p50 {p50_ms:.0f}  p95 {p95_ms:.0f}"
        f"  ({len(latencies_ms)} incidents, {args.query_delay_ms:g} ms per query, "
        f"charts {'on' if args.charts else 'off'})"
    )


if __name__ == "__main__":
    main()
