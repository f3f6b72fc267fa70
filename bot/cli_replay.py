"""`firebreak replay --from T --to T [--prometheus URL] [--alertmanager-config FILE] [-o FILE]
[--into-db]`: what Firebreak would have done over past alerts, acting on nothing.

Composes the replay (bot/services/replay_history.py) from Settings: the Prometheus to read
`ALERTS` and metrics from, the Alertmanager routing that groups alerts (the given file, else
one group per alert name and model), the runbooks, the signal catalogue and triage windows.
Targets are bound by name to a RefusingTarget and guards live in memory: nothing is read from
or done to a target, chat or a model. The report goes to stdout as a table, or to `-o FILE`
as HTML (`.html`) or JSON (`.json`); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.adapters.refusing_target import RefusingTarget
from bot.domain.alert_routing import RoutingTree
from bot.runbook.targets import TargetRegistry, load_targets
from bot.settings import Settings, mask_url

PROGRESS_EVERY_S = 1.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `replay` subcommand."""
    replay = sub.add_parser(
        "replay", help="dry-run triage and runbook planning over past ALERTS history"
    )
    replay.add_argument("--from", dest="start", required=True, help="RFC 3339 or Unix seconds")
    replay.add_argument("--to", dest="end", required=True, help="RFC 3339 or Unix seconds")
    replay.add_argument(
        "--prometheus", default="", help="Prometheus URL (FIREBREAK_PROMETHEUS_URL)"
    )
    replay.add_argument(
        "--alertmanager-config",
        default="",
        help="alertmanager.yml whose routes group the alerts (default: by alertname, model_name)",
    )
    replay.add_argument(
        "--output", "-o", default="", help="report file: .html or .json (default: table on stdout)"
    )
    replay.add_argument(
        "--into-db",
        action="store_true",
        help="also record the replayed incidents in the database, marked as replayed",
    )
    replay.set_defaults(handler=run)


def parse_time(text: str) -> datetime:
    """RFC 3339 (`2025-05-01T12:00:00Z`) or Unix seconds, as an aware UTC datetime."""
    value = text.strip()
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{text!r} is neither RFC 3339 nor Unix seconds") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (end it with Z or an offset like +02:00)")
    return moment.astimezone(UTC)


class ProgressLine:
    """`replay: 12/40 incidents (3.1/s)` on stderr, at most once a second and at the end."""

    def __init__(self) -> None:
        self._began = time.perf_counter()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        rate = done / max(now - self._began, 1e-9)
        print(f"replay: {done}/{total} incidents ({rate:.1f}/s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start, end = parse_time(args.start), parse_time(args.end)
    except ValueError as exc:
        return _fail(str(exc), 2)
    if end <= start:
        return _fail("--to must be after --from", 2)
    url = args.prometheus or settings.prometheus_url
    if not url:
        return _fail("give --prometheus URL or set FIREBREAK_PROMETHEUS_URL", 2)
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix not in (".html", ".htm", ".json"):
        return _fail(f"-o {output}: the report is .html or .json", 2)
    try:
        tree = _routing(args.alertmanager_config)
    except (OSError, ValueError) as exc:
        return _fail(f"--alertmanager-config: {exc}", 2)
    return _replay(settings, url, tree, start, end, output, into_db=args.into_db)


def _replay(
    settings: Settings,
    url: str,
    tree: RoutingTree,
    start: datetime,
    end: datetime,
    output: Path | None,
    *,
    into_db: bool,
) -> int:
    from bot.adapters.memory_guards import MemoryGuardStore
    from bot.adapters.prometheus import PrometheusAlertHistory, PrometheusMetricsSource
    from bot.correlation.catalogue import load_catalogue
    from bot.domain.errors import UpstreamUnavailableError
    from bot.replay import render
    from bot.runbook.guards import Guards
    from bot.runbook.loader import load_directory
    from bot.runbook.planner import Planner
    from bot.services.replay_history import HistoryReplay, ReplayClock
    from bot.services.triage_incident import TriageWindows

    source = PrometheusMetricsSource(url, timeout_s=30.0)
    clock = ReplayClock(start)
    guards = Guards(MemoryGuardStore(), clock)
    replay = HistoryReplay(
        PrometheusAlertHistory(source),
        source,
        tree,
        list(load_directory(settings.runbooks_dir)),
        Planner(replay_targets(settings.targets_file), guards),
        guards,
        clock,
        catalogue=load_catalogue(settings.signals_file),
        windows=TriageWindows(
            baseline_s=settings.triage_baseline_s,
            lead_s=settings.triage_lead_s,
            step_s=settings.triage_step_s,
            rate_window_s=settings.triage_rate_window_s,
        ),
        progress=ProgressLine(),
    )
    print(f"replay: {start.isoformat()} → {end.isoformat()} from {mask_url(url)}", file=sys.stderr)
    try:
        report = replay.run(start, end)
    except UpstreamUnavailableError as exc:
        return _fail(str(exc), 1)
    finally:
        source.close()
    if into_db:
        from bot.bootstrap import Container
        from bot.services.record_replay import record_replay

        window = timedelta(seconds=settings.reopen_window_s)
        report = record_replay(Container(settings).store, report, window)
        print(
            f"replay: recorded {len(report.incidents)} incident(s) in "
            f"{mask_url(settings.effective_database_url)}",
            file=sys.stderr,
        )
    if output is None:
        sys.stdout.write(render.to_text(report))
    else:
        text = render.to_json(report) if output.suffix == ".json" else render.to_html(report)
        output.write_text(text, encoding="utf-8")
        print(f"replay: wrote {output}", file=sys.stderr)
    return 0


def _routing(path: str) -> RoutingTree:
    if not path:
        return RoutingTree.default()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    return RoutingTree.from_config(document)


def replay_targets(path: Path) -> TargetRegistry:
    """The configured targets' names, each bound to a RefusingTarget (no client is built)."""
    if not path.exists():
        return TargetRegistry([])
    return TargetRegistry.build(load_targets(path), lambda _config: RefusingTarget())


def _fail(message: str, code: int) -> int:
    print(f"firebreak replay: {message}", file=sys.stderr)
    return code
