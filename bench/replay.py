"""Replay benchmark: `firebreak replay` over a week of alert history in a real Prometheus.

Not a test: it prints figures and never gates CI. A week ending before now holds `--per-day`
fleet histories a day (simulator/timeline.py), each 50 minutes scraped every 30 s with two
faults on the simulator's real exporter names -- a KV-cache saturation, a GPU XID, a bad
deploy, a thermal fault, upstream errors, some cleared after a few minutes -- and the `ALERTS`
series the shipped rules would have written for them at a 15 s evaluation interval. Every
history is backfilled with `promtool tsdb create-blocks-from openmetrics` into one TSDB that one
`prometheus` serves (no scrape jobs, `--query.lookback-delta=1m`). Then `firebreak replay`
runs over the whole week in this process, with the shipped alertmanager.yml's routing, and
the report is read back.

Printed: the histories made, firings read, incidents replayed, replay time and incidents per
second, the time to read a week of `ALERTS`, and how often the first-ranked cause was the
injected fault's.

    python bench/replay.py [--days 7] [--per-day 2] [--workers 2] [--dir DIR] [--keep]

`--keep` keeps the generated TSDB; `--dir` reuses a kept one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.prometheus import PrometheusAlertHistory, PrometheusMetricsSource  # noqa: E402
from bot.cli import main  # noqa: E402
from bot.demo.monitoring import ALERTMANAGER_CONFIG, backfill_openmetrics, serve_tsdb  # noqa: E402
from simulator.scenarios import EXPECTED  # noqa: E402
from simulator.timeline import Episode, record_timeline  # noqa: E402

LLAMA, RERANKER = "llama-3-70b-instruct", "reranker-v2"
MINUTE = 60.0
HISTORY_S = 50 * MINUTE
SCRAPE_INTERVAL_S = 30.0
SLOT_S = 4 * 3600.0
PATTERNS: tuple[tuple[Episode, ...], ...] = (
    (
        Episode("saturation", RERANKER, 22 * MINUTE, clear_after_s=3 * MINUTE, alert_delay_s=60),
        Episode("gpu_xid", LLAMA, 35 * MINUTE, xid=79, alert_delay_s=30),
    ),
    (
        Episode("bad_deploy", RERANKER, 22 * MINUTE, alert_delay_s=120),
        Episode("saturation", LLAMA, 30 * MINUTE),
    ),
    (
        Episode("thermal", LLAMA, 22 * MINUTE, alert_delay_s=120),
        Episode("upstream_errors", RERANKER, 30 * MINUTE, clear_after_s=6 * MINUTE),
    ),
    (
        Episode("saturation", LLAMA, 22 * MINUTE, clear_after_s=4 * MINUTE),
        Episode("gpu_xid", RERANKER, 35 * MINUTE, xid=48, alert_delay_s=30),
    ),
)


def record_slot(index: int, start_ts: float, folder: Path) -> list[dict[str, Any]]:
    """One history: recorded, backfilled into folder/blocks; its alerts as dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    episodes = PATTERNS[index % len(PATTERNS)]
    spans = record_timeline(
        episodes,
        start_ts,
        HISTORY_S,
        folder / "fleet.om",
        folder / "alerts.om",
        seed=index,
        scrape_interval_s=SCRAPE_INTERVAL_S,
    )
    for name in ("fleet.om", "alerts.om"):
        backfill_openmetrics(folder / name, folder / "blocks")
        (folder / name).unlink()
    return [{**asdict(s), "kind": episodes[s.episode].kind} for s in spans]


def generate(folder: Path, days: int, per_day: int, workers: int) -> dict[str, Any]:
    """Every history of the week, backfilled into folder/data; the plan saved as plan.json."""
    now = datetime.now(UTC).timestamp()
    end = now - now % 7200 - SLOT_S
    count = days * per_day
    spacing = days * 86400.0 / count
    starts = [end - days * 86400.0 + i * spacing for i in range(count)]
    starts = [s - s % 7200 for s in starts]
    folders = [folder / "slots" / f"{i:03d}" for i in range(count)]
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        spans = list(pool.map(record_slot, range(count), starts, folders))
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for slot in folders:
        for block in sorted((slot / "blocks").iterdir()):
            block.rename(data / block.name)
    shutil.rmtree(folder / "slots")
    plan = {
        "from": end - days * 86400.0,
        "to": end,
        "histories": count,
        "generate_s": round(time.perf_counter() - began, 1),
        "alerts": [span for slot in spans for span in slot],
    }
    (folder / "plan.json").write_text(json.dumps(plan))
    return plan


def expected_cause(plan: dict[str, Any], incident: dict[str, Any]) -> str | None:
    """The cause the fault behind an incident should be ranked as: its first alert's fault
    (ALERTS samples fall on evaluations, up to one interval after the alert fired)."""
    started = datetime.fromisoformat(incident["started_at"]).timestamp()
    for span in plan["alerts"]:
        if span["labels"]["alertname"] not in incident["alert_names"]:
            continue
        if span["labels"].get("model_name") != incident["labels"].get("model_name"):
            continue
        if 0 <= started - span["firing_ts"] < 16:
            return EXPECTED[span["kind"]]
    return None


def read_alerts_s(url: str, plan: dict[str, Any]) -> tuple[float, int]:
    """How long one read of the week's `ALERTS` takes, and how many firings it finds."""
    source = PrometheusMetricsSource(url, timeout_s=60)
    history = PrometheusAlertHistory(source)
    start = datetime.fromtimestamp(plan["from"], UTC)
    end = datetime.fromtimestamp(plan["to"], UTC)
    began = time.perf_counter()
    firings = history.firing(start, end)
    took = time.perf_counter() - began
    source.close()
    return took, len(firings)


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", default="", help="reuse a kept folder")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))

    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        if (folder / "plan.json").exists():
            plan = json.loads((folder / "plan.json").read_text())
            print(f"reusing {plan['histories']} histories in {folder}")
        else:
            plan = generate(folder, args.days, args.per_day, args.workers)
            print(
                f"generated {plan['histories']} histories of {HISTORY_S / 60:.0f} min "
                f"({len(plan['alerts'])} alerts) in {plan['generate_s']} s"
            )
        with serve_tsdb(
            folder, folder / "data", lookback_delta="1m", evaluation_interval="15s"
        ) as prometheus:
            alerts_s, firings = read_alerts_s(prometheus.url, plan)
            report = folder / "replay.json"
            began = time.perf_counter()
            code = main(
                [
                    "replay",
                    "--from",
                    f"{plan['from']:.0f}",
                    "--to",
                    f"{plan['to']:.0f}",
                    "--prometheus",
                    prometheus.url,
                    "--alertmanager-config",
                    str(ALERTMANAGER_CONFIG),
                    "-o",
                    str(report),
                ]
            )
            wall_s = time.perf_counter() - began
        if code != 0:
            print(f"firebreak replay exited {code}")
            return code
        document = json.loads(report.read_text())
        print_figures(document, plan, wall_s, alerts_s, firings)
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
        elif args.keep:
            print(f"kept {folder}")
    return 0


def print_figures(
    document: dict[str, Any], plan: dict[str, Any], wall_s: float, alerts_s: float, firings: int
) -> None:
    incidents = document["incidents"]
    span_days = (plan["to"] - plan["from"]) / 86400
    hits = total = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for incident in incidents:
        cause = expected_cause(plan, incident)
        if cause is None:
            continue
        top = incident["hypotheses"][0]["kind"] if incident["hypotheses"] else "none"
        total += 1
        hits += top == cause
        confusion[(cause, top)] += 1
    decisions = Counter(i["runbooks"][0]["decision"] for i in incidents)
    recovered = sum(1 for i in incidents if i["recovery"]["verdict"] == "recovered")
    print(f"history: {span_days:.1f} days, {plan['histories']} fleet histories")
    print(f"ALERTS read: {firings} firings in {alerts_s:.2f} s (one range read, 15 s resolution)")
    print(
        f"replay: {len(incidents)} incidents in {document['duration_s']:.1f} s "
        f"({document['incidents_per_s']:.2f} incidents/s; {wall_s:.1f} s wall with report)"
    )
    print(f"first-ranked cause is the injected fault's: {hits}/{total}")
    for (want, got), n in sorted(confusion.items()):
        if want != got:
            print(f"  {want} ranked {got}: {n}")
    print("runbooks: " + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())))
    print(f"recovered on their own: {recovered}/{len(incidents)}")


if __name__ == "__main__":
    sys.exit(main_bench())
