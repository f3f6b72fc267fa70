"""Triage benchmark through a real Prometheus over promtool-backfilled simulator histories.

Not a test: it prints figures and never gates CI. Each scenario (simulator/scenarios.py) is two
hours of fleet history at a 15 s scrape interval around one fault, or none for a control,
written as OpenMetrics and backfilled with `promtool tsdb create-blocks-from openmetrics` into
one TSDB, each scenario at its own time range in the recent past. One `prometheus` serves it all
(no scrape jobs, `--query.lookback-delta=1m`: backfilled blocks carry no staleness markers, so a
deleted pod's series must end as they would live). Every incident is then triaged through the
real adapter, `PrometheusMetricsSource`, with the public `correlate(...)`, the alert's labels and
names as the shipped rules and Alertmanager would deliver them, at the alert's start plus
Alertmanager's group wait.

Printed per fault kind and per variant: top-1 and top-3 accuracy, mean confidence of the first
hypothesis, what top-1 answered (the confusion), triage latency p50 / p95 and Prometheus
queries per incident.

    python bench/triage.py [--seeds 1] [--kinds saturation,gpu_xid] [--variants baseline]
                           [--dir DIR] [--keep] [--json FILE]

Histories are generated once per run in a temporary folder (two worker processes); `--keep`
keeps it and `--dir` reuses a kept one without generating anything again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.prometheus import PrometheusMetricsSource  # noqa: E402
from bot.correlation.engine import correlate  # noqa: E402
from bot.demo.monitoring import backfill_openmetrics, binary, serve_tsdb  # noqa: E402
from bot.domain.signals import Series  # noqa: E402
from simulator.scenarios import (  # noqa: E402
    KINDS,
    VARIANTS,
    Recording,
    load_recordings,
    plan,
    record_all,
    time_slots,
)

LOOKBACK_DELTA = "1m"


class CountingSource:
    """The real Prometheus source, counting the queries one triage sends through it."""

    def __init__(self, source: PrometheusMetricsSource) -> None:
        self.source = source
        self.queries = 0

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        self.queries += 1
        return self.source.query_range(promql, start, end, step_s)

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        self.queries += 1
        return self.source.query(promql, at)


@dataclass(frozen=True)
class Outcome:
    """One triaged incident."""

    recording: Recording
    ranked: tuple[str, ...]
    confidence: float
    latency_ms: float
    queries: int

    @property
    def top1(self) -> bool:
        return bool(self.ranked) and self.ranked[0] == self.recording.scenario.expected

    @property
    def top3(self) -> bool:
        return self.recording.scenario.expected in self.ranked[:3]

    def to_json(self) -> dict[str, Any]:
        scenario = self.recording.scenario
        return {
            "scenario": scenario.name,
            "kind": scenario.kind,
            "variant": scenario.variant.name,
            "seed": scenario.seed,
            "model": scenario.model,
            "intensity": scenario.intensity,
            "xid": scenario.xid,
            "expected": scenario.expected,
            "ranked": list(self.ranked),
            "confidence": self.confidence,
            "latency_ms": round(self.latency_ms, 1),
            "queries": self.queries,
            "alert_names": list(self.recording.alert.names),
            "alert_labels": self.recording.alert.labels,
            "notes": list(self.recording.notes),
        }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def triage(url: str, recording: Recording) -> Outcome:
    """Correlate one recorded incident through the real adapter, timed and counted."""
    source = CountingSource(PrometheusMetricsSource(url, timeout_s=30))
    alert = recording.alert
    started_at = datetime.fromtimestamp(alert.started_ts, UTC)
    now = datetime.fromtimestamp(recording.triage_ts, UTC)
    clock = time.perf_counter()
    report = correlate(source, dict(alert.labels), list(alert.names), started_at, now)
    latency_ms = (time.perf_counter() - clock) * 1000
    source.source.close()
    ranked = tuple(h.kind.value for h in report.hypotheses)
    confidence = report.hypotheses[0].confidence if report.hypotheses else 0.0
    return Outcome(recording, ranked, confidence, latency_ms, source.queries)


def table(title: str, groups: dict[str, list[Outcome]]) -> list[str]:
    lines = [
        f"{title:<22}{'n':>4}{'top-1':>7}{'top-3':>7}{'conf':>6}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'queries':>9}  top-1 answers"
    ]
    for name, outcomes in groups.items():
        latencies = [o.latency_ms for o in outcomes]
        answers = Counter(o.ranked[0] if o.ranked else "-" for o in outcomes)
        lines.append(
            f"{name:<22}{len(outcomes):>4}"
            f"{statistics.mean(o.top1 for o in outcomes):>7.0%}"
            f"{statistics.mean(o.top3 for o in outcomes):>7.0%}"
            f"{statistics.mean(o.confidence for o in outcomes):>6.2f}"
            f"{percentile(latencies, 0.5):>8.0f}{percentile(latencies, 0.95):>8.0f}"
            f"{statistics.mean(o.queries for o in outcomes):>9.1f}"
            f"  {', '.join(f'{k}:{n}' for k, n in answers.most_common())}"
        )
    return lines


def version_of(*command: str) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    return (completed.stdout + completed.stderr).strip().splitlines()[0]


def triage_version() -> str:
    commit = version_of("git", "log", "-1", "--format=%h", "--", "bot/correlation")
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "bot/correlation"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout.strip()
    return commit + (" + uncommitted changes" if dirty else "")


def histories(args: argparse.Namespace, folder: Path) -> list[Recording]:
    """The run's recordings: reused from a kept folder, or generated and backfilled now."""
    if (folder / "recordings.json").exists():
        print(f"reusing the histories in {folder}", flush=True)
        return load_recordings(folder)
    scenarios = plan(args.kinds, [VARIANTS[v] for v in args.variants], range(args.seeds))
    clock = time.perf_counter()
    print(f"recording and backfilling {len(scenarios)} scenarios in {folder} ...", flush=True)
    recordings = record_all(
        scenarios,
        time_slots(len(scenarios), time.time()),
        folder,
        backfill_openmetrics,
        workers=args.workers,
    )
    print(f"  done in {time.perf_counter() - clock:.0f} s", flush=True)
    return recordings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds per kind and variant")
    parser.add_argument("--kinds", type=lambda s: s.split(","), default=list(KINDS))
    parser.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    parser.add_argument("--workers", type=int, default=2, help="processes recording histories")
    parser.add_argument("--dir", type=Path, help="folder for the histories (reused if kept)")
    parser.add_argument("--keep", action="store_true", help="keep the histories and TSDB")
    parser.add_argument("--json", type=Path, help="write every incident's outcome here")
    args = parser.parse_args()
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())

    triage_at = triage_version()  # what this process imported, before anyone commits again
    folder = args.dir or Path(tempfile.mkdtemp(prefix="firebreak-bench-triage-"))
    keep = args.keep or args.dir is not None
    try:
        recordings = histories(args, folder)
        with serve_tsdb(folder, folder / "data", lookback_delta=LOOKBACK_DELTA) as prometheus:
            outcomes = [triage(prometheus.url, recording) for recording in recordings]
    finally:
        if keep:
            print(f"histories and TSDB kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    by_variant: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.recording.scenario.kind].append(outcome)
        by_variant[outcome.recording.scenario.variant.name].append(outcome)
    prometheus_version = version_of(binary("prometheus"), "--version")
    print()
    print(
        f"Triage measured through real Prometheus ({prometheus_version.split('(')[0].strip()}, "
        f"lookback {LOOKBACK_DELTA}) over promtool-backfilled simulator histories: "
        f"{len(outcomes)} incidents, triage at bot/correlation {triage_at}"
    )
    print()
    print("\n".join(table("kind (expected)", dict(by_kind))))
    print()
    print("\n".join(table("variant", dict(by_variant))))
    print()
    print("\n".join(table("all", {"all": outcomes})))
    notes = [(o.recording.scenario.name, n) for o in outcomes for n in o.recording.notes]
    for name, note in notes:
        print(f"note: {name}: {note}")
    if args.json:
        args.json.write_text(json.dumps([o.to_json() for o in outcomes], indent=1))
        print(f"outcomes written to {args.json}")


if __name__ == "__main__":
    main()
