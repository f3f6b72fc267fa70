"""`firebreak gate check` and `firebreak changes record`: the change gate for CI pipelines.

Both ask Firebreak's API when given `--url` (or FIREBREAK_API_URL), with FIREBREAK_API_TOKEN,
and the local database otherwise. Exit codes are for pipelines:

    0  the change may proceed (gate open), or was recorded and let through
    1  the gate is closed, or the change was recorded as held; the reasons are printed
    2  Firebreak could not be asked or refused the request: fail closed
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from bot.domain.changes import Change, ChangeKind, GateAnswer
from bot.domain.errors import FirebreakError
from bot.ports import ChangeGate
from bot.settings import Settings

ALLOWED, BLOCKED, FAILED = 0, 1, 2


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `gate` and `changes` subcommands."""
    gate = sub.add_parser("gate", help="may a change to a model proceed now (for CI)")
    gate_verbs = gate.add_subparsers(dest="verb", required=True)
    check = gate_verbs.add_parser("check", help="exit 0 when a change to the model may proceed")
    check.add_argument("--model", required=True, help="the model_name a change would touch")
    check.add_argument("--url", default="", help="Firebreak's API (default FIREBREAK_API_URL)")
    gate.set_defaults(handler=run_gate)
    changes = sub.add_parser("changes", help="record a change (deploy, config, rollback)")
    change_verbs = changes.add_subparsers(dest="verb", required=True)
    record = change_verbs.add_parser("record", help="record a change; exit 1 when it is held")
    record.add_argument("--model", required=True)
    record.add_argument("--version", required=True)
    record.add_argument("--kind", choices=[k.value for k in ChangeKind], default="deploy")
    record.add_argument("--source", default="", help="a CI run URL, a person, a tool")
    record.add_argument("--url", default="", help="Firebreak's API (default FIREBREAK_API_URL)")
    changes.set_defaults(handler=run_changes)


def open_gate(settings: Settings, url: str) -> ChangeGate:
    """The API at `url` (or FIREBREAK_API_URL), else the local database."""
    url = url or settings.api_url
    if url:
        from bot.adapters.firebreak_api import HttpChangeGate

        token = settings.api_token.get_secret_value() if settings.api_token else None
        return HttpChangeGate(url, token)
    from bot.adapters.sql_store import SqlStore
    from bot.services.record_change import StoreChangeGate

    store = SqlStore.from_url(settings.effective_database_url)
    return StoreChangeGate(store, lambda: datetime.now(UTC))


def run_gate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        answer = open_gate(settings, args.url).check(args.model)
    except FirebreakError as exc:
        print(f"firebreak gate check: {exc}", file=sys.stderr)
        return FAILED
    verdict = "may proceed" if answer.allowed else "blocked"
    return _print(f"{answer.model}: {verdict}", answer)


def run_changes(args: argparse.Namespace, settings: Settings) -> int:
    change = Change(
        model=args.model,
        version=args.version,
        kind=ChangeKind(args.kind),
        at=datetime.now(UTC),
        source=args.source,
        actor=_actor(),
    )
    try:
        answer = open_gate(settings, args.url).record(change)
    except FirebreakError as exc:
        print(f"firebreak changes record: {exc}", file=sys.stderr)
        return FAILED
    verdict = "recorded" if answer.allowed else "held"
    return _print(f"{answer.change} {verdict}: {change.describe()}", answer)


def _print(headline: str, answer: GateAnswer) -> int:
    print(headline)
    for reason in answer.reasons:
        print(f"  - {reason}")
    return ALLOWED if answer.allowed else BLOCKED


def _actor() -> str:
    try:
        return getpass.getuser() or "cli"
    except (OSError, KeyError):
        return "cli"
