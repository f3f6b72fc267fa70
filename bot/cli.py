"""The `firebreak` command: run the stack or one process, migrate, and inspect incidents."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli_changes import add_parsers as add_change_gate_parsers
from bot.cli_replay import add_parser as add_replay_parser
from bot.cli_runbooks import add_parser as add_runbooks_parser
from bot.cli_signals import add_parser as add_signals_parser
from bot.correlation.catalogue import CatalogueError
from bot.demo.scenarios import SCENARIOS
from bot.runbook.errors import RunbookError
from bot.settings import Settings, is_loopback, mask_url
from simulator.command_line import add_simulator_flags


def refuse_anonymous(command: str, host: str, settings: Settings) -> int | None:
    """Exit code 2 with a message when `host` is not loopback and a token is missing."""
    missing = settings.missing_tokens
    if is_loopback(host) or not missing or settings.allow_anonymous:
        return None
    print(
        f"firebreak {command}: refusing to listen on {host} without {' and '.join(missing)}: "
        "anyone who can reach it could post alerts and act on incidents. Set the tokens, "
        "listen on 127.0.0.1, or set FIREBREAK_ALLOW_ANONYMOUS=true to accept that.",
        file=sys.stderr,
    )
    return 2


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_runbooks import check_startup
    from bot.stack import run_stack

    refused = refuse_anonymous("up", args.host, settings)
    if refused is not None:
        return refused
    check_startup(settings)
    return run_stack(settings, args.host, args.port)


def _cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bot.web.app import create_app

    refused = refuse_anonymous("api", args.host, settings)
    if refused is not None:
        return refused
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_runbooks import check_startup
    from workers.app import ALL_QUEUES, create_celery

    if args.check:
        from workers.heartbeat import HEARTBEAT_MAX_AGE_S, heartbeat_age_s

        age_s = heartbeat_age_s(settings)
        print("worker: no heartbeat" if age_s is None else f"worker: heartbeat {age_s:.0f}s ago")
        return 0 if age_s is not None and age_s < HEARTBEAT_MAX_AGE_S else 1
    check_startup(settings)
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # the pool's processes inherit it
    app = create_celery(settings)
    argv = [
        "worker",
        "-Q",
        args.queues or ALL_QUEUES,
        "--loglevel=INFO",
        f"--concurrency={args.concurrency}",
        # Workers share nothing through gossip or mingle (state lives in Redis and the
        # database); skipping them saves a second at start and broker chatter all day.
        "--without-mingle",
        "--without-gossip",
    ]
    app.worker_main(argv)
    return 0


def _cmd_beat(args: argparse.Namespace, settings: Settings) -> int:
    from workers.app import create_celery

    settings.home.mkdir(parents=True, exist_ok=True)
    schedule = settings.home / "celerybeat-schedule"
    create_celery(settings).start(["beat", "--loglevel=INFO", "-s", str(schedule)])
    return 0


def _cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.adapters.sql_migrations import upgrade

    upgrade(settings.effective_database_url)
    print(f"database at head: {mask_url(settings.effective_database_url)}")
    return 0


def _cmd_incidents(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_incidents import list_incidents, show_incident

    if args.action == "list":
        return list_incidents(settings, args.status)
    return show_incident(settings, args.id, as_json=args.json)


def _cmd_postmortem(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import Container
    from bot.domain.errors import NotFoundError
    from bot.domain.incidents import parse_ref
    from bot.services.export_postmortem import render_postmortem

    container = Container(settings)
    try:
        document = render_postmortem(
            container.store,
            parse_ref(args.id),
            args.format,
            settings.prometheus_url,
            container.run_stories,
        )
    except (ValueError, NotFoundError) as exc:
        print(f"firebreak postmortem: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(document)
        print(f"wrote {args.output}")
    else:
        sys.stdout.buffer.write(document)
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo.runner import run_demo

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop what it started, as on ^C
    return run_demo(args.scenario, args.speed, settings.home / "demo")


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulator.command_line import exporter_options
    from simulator.server import run

    run(
        args.host,
        args.port,
        args.seed,
        args.speed,
        options=exporter_options(args),
        shared_nodes=args.shared_nodes,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebreak", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("up", "the whole stack on one machine"), ("api", "the HTTP API only")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8080)
        p.set_defaults(handler=_cmd_up if name == "up" else _cmd_api)
    worker = sub.add_parser("worker", help="a Celery worker on every queue")
    worker.add_argument("--queues", default="")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument(
        "--check", action="store_true", help="liveness: exit 1 unless a worker here can consume"
    )
    worker.set_defaults(handler=_cmd_worker)
    sub.add_parser("beat", help="the periodic scheduler").set_defaults(handler=_cmd_beat)
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(handler=_cmd_db)
    incidents = sub.add_parser("incidents", help="list or show incidents")
    incidents.add_argument("action", choices=["list", "show"])
    incidents.add_argument("id", nargs="?", help="INC-<n> (for show)")
    incidents.add_argument("--status", choices=["open", "resolved", "all"], default="all")
    incidents.add_argument("--json", action="store_true")
    incidents.set_defaults(handler=_cmd_incidents)
    postmortem = sub.add_parser("postmortem", help="export an incident's postmortem")
    postmortem.add_argument("id", help="INC-<n>")
    postmortem.add_argument("--format", choices=["md", "json", "html"], default="md")
    postmortem.add_argument("--output", "-o", default="", help="file to write (default stdout)")
    postmortem.set_defaults(handler=_cmd_postmortem)
    add_runbooks_parser(sub)
    add_signals_parser(sub)
    add_replay_parser(sub)
    add_change_gate_parsers(sub)
    demo = sub.add_parser("demo", help="the whole loop on this machine, end to end")
    demo.add_argument("--scenario", choices=sorted(SCENARIOS), default="default")
    demo.add_argument("--speed", type=float, default=30.0, help="fleet time compression")
    demo.set_defaults(handler=_cmd_demo)
    simulate = sub.add_parser("simulate", help="run the GenAI fleet simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9400)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--speed", type=float, default=1.0)
    add_simulator_flags(simulate)
    simulate.set_defaults(handler=_cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bot.logs import configure_logging

    args = build_parser().parse_args(argv)
    quiet = args.command == "replay"  # its stderr carries progress, not every query
    configure_logging(
        json_output=os.environ.get("FIREBREAK_LOG_JSON") == "1",
        level=logging.WARNING if quiet else logging.INFO,
    )
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"firebreak: invalid settings: {exc}", file=sys.stderr)
        return 2
    if args.command == "incidents" and args.action == "show" and not args.id:
        print("firebreak incidents show: give an incident id (INC-<n>)", file=sys.stderr)
        return 2
    try:
        result: int = args.handler(args, settings)
    except RunbookError as exc:
        print(f"firebreak: cannot start: runbook error: {exc}", file=sys.stderr)
        return 2
    except CatalogueError as exc:
        print(f"firebreak: cannot start: signal catalogue error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
