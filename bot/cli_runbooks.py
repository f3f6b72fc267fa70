"""`firebreak runbooks validate|list|plan|schema`: check runbook files (file:line: reason,
exit 1 on any error), list the catalogue, show an incident's dry-run plans, write the schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.domain.errors import FirebreakError
from bot.domain.incidents import parse_ref
from bot.runbook.errors import RunbookError
from bot.runbook.loader import load_directory, validate_path
from bot.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `runbooks` subcommand and its verbs."""
    runbooks = sub.add_parser("runbooks", help="validate, list and plan runbooks")
    verbs = runbooks.add_subparsers(dest="verb", required=True)
    validate = verbs.add_parser("validate", help="check runbook files; exit 1 on any error")
    validate.add_argument("path", nargs="?", default=None, help="file or folder (RUNBOOKS_DIR)")
    verbs.add_parser("list", help="the runbooks Firebreak loads")
    plan = verbs.add_parser("plan", help="dry-run plans for an incident (acts on nothing)")
    plan.add_argument("--incident", required=True, help="INC-<n>")
    schema = verbs.add_parser("schema", help="write the runbook JSON Schema")
    schema.add_argument("--output", "-o", default="", help="file (default runbooks/...json)")
    runbooks.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    verb: str = args.verb
    if verb == "validate":
        return validate(Path(args.path) if args.path else settings.runbooks_dir)
    if verb == "list":
        return list_runbooks(settings.runbooks_dir)
    if verb == "plan":
        return plan_incident(settings, args.incident)
    return write_schema(args.output)


def validate(path: Path) -> int:
    """Print every error as file:line: reason; 0 when all runbooks load."""
    errors = validate_path(path)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} runbook error(s) in {path}", file=sys.stderr)
        return 1
    print(f"{len(load_directory(path))} runbook(s) valid in {path}")
    return 0


def list_runbooks(path: Path) -> int:
    try:
        catalog = load_directory(path)
    except RunbookError as exc:
        print(f"firebreak: {exc}", file=sys.stderr)
        return 1
    for rb in catalog:
        approval = "approval" if rb.approval.required else "unattended"
        answers = ", ".join(h.value for h in rb.match.hypotheses) or "-"
        print(f"{rb.name:<16} {approval:<10} {answers:<24} {rb.description}")
    return 0


def plan_incident(settings: Settings, ref: str) -> int:
    """Every matching runbook's plan for an incident, as a dry run."""
    from bot.bootstrap import Container

    try:
        incident_id = parse_ref(ref)
        hypothesis, plans = Container(settings).runbook_previews.preview(incident_id)
    except (FirebreakError, ValueError) as exc:
        print(f"firebreak runbooks plan: {exc}", file=sys.stderr)
        return 1
    print(f"INC-{incident_id}: top hypothesis {hypothesis or 'none (no triage yet)'}")
    if not plans:
        print("no runbook matches this incident")
    for lines in plans:
        print("\n".join(lines))
    return 0


def write_schema(output: str) -> int:
    from bot.runbook.schema import SCHEMA_PATH, write_json_schema

    print(f"wrote {write_json_schema(Path(output) if output else SCHEMA_PATH)}")
    return 0


def check_startup(settings: Settings) -> None:
    """Load the runbooks, targets and signal catalogue a process will use; raises RunbookError
    (file:line) or CatalogueError (the entry)."""
    from bot.bootstrap import build_targets
    from bot.correlation.catalogue import load_catalogue

    load_directory(settings.runbooks_dir)
    build_targets(settings.targets_file)
    load_catalogue(settings.signals_file)
