"""The `/firebreak` command language: verbs, their arguments and usage, parsed without I/O.

`parse_command("ack INC-12")` answers a `Command`; wrong usage raises `UsageError` whose
message says what was wrong and whose `usage` line shows the right form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.domain.changes import ALL_MODELS, MAX_NAME_CHARS, freeze_scope, freeze_span
from bot.domain.incidents import parse_ref
from bot.domain.silences import silence_span


class Verb(StrEnum):
    HELP = "help"
    LIST = "list"
    SHOW = "show"
    ACK = "ack"
    RESOLVE = "resolve"
    TIMELINE = "timeline"
    RUNBOOKS = "runbooks"
    RUN = "run"
    APPROVE = "approve"
    DENY = "deny"
    PAUSE = "pause"
    RESUME = "resume"
    POSTMORTEM = "postmortem"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    ALLOW_DEPLOY = "allow-deploy"
    SILENCE = "silence"
    UNSILENCE = "unsilence"


USAGE: dict[Verb, str] = {
    Verb.HELP: "/firebreak help — this list",
    Verb.LIST: "/firebreak list [open|all] — incidents, open ones by default",
    Verb.SHOW: "/firebreak show INC-<n> — one incident",
    Verb.ACK: "/firebreak ack INC-<n> — acknowledge an incident",
    Verb.RESOLVE: "/firebreak resolve INC-<n> — resolve an incident",
    Verb.TIMELINE: "/firebreak timeline INC-<n> — an incident's timeline",
    Verb.RUNBOOKS: "/firebreak runbooks — the runbooks Firebreak can run",
    Verb.RUN: "/firebreak run <runbook> INC-<n> — plan a runbook (dry run), then confirm",
    Verb.APPROVE: "/firebreak approve RUN-<n> — approve a run awaiting approval",
    Verb.DENY: "/firebreak deny RUN-<n> — deny a run awaiting approval",
    Verb.PAUSE: "/firebreak pause — pause every runbook (global)",
    Verb.RESUME: "/firebreak resume — resume runbooks",
    Verb.POSTMORTEM: "/firebreak postmortem INC-<n> — upload the postmortem to the thread",
    Verb.FREEZE: "/firebreak freeze <model>|all <duration> [reason] — hold every change to a "
    "model, or all of them (30m, 2h, 1d)",
    Verb.UNFREEZE: "/firebreak unfreeze <model>|all — lift a freeze",
    Verb.ALLOW_DEPLOY: "/firebreak allow-deploy <model> [reason] — let the next change to a "
    "model through its closed gate, once, within the hour",
    Verb.SILENCE: "/firebreak silence INC-<n> <duration> [reason] — silence its alerts in "
    "Alertmanager (30m, 2h, 1d)",
    Verb.UNSILENCE: "/firebreak unsilence INC-<n> — expire the silences Firebreak made for it",
}

_RUNBOOK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class UsageError(ValueError):
    """A command that does not parse; `usage` is the form(s) to show back."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Command:
    """One parsed `/firebreak` command."""

    verb: Verb
    incident_id: int | None = None
    run_id: int | None = None
    runbook: str | None = None
    include_resolved: bool = False
    model: str | None = None  # freeze, unfreeze, allow-deploy: a model, or ALL_MODELS
    span: timedelta | None = None
    reason: str = ""


def help_text() -> str:
    """Every verb with its usage, one per line."""
    return "\n".join(USAGE.values())


def parse_run_ref(text: str) -> int:
    """Read a run id from `RUN-7`, `run-7` or `7`."""
    raw = text.strip().upper().removeprefix("RUN-")
    if not raw.isdigit():
        raise ValueError(f"not a run id: {text!r} (expected RUN-<n>)")
    return int(raw)


def parse_command(text: str) -> Command:
    """Parse the text after `/firebreak`; an empty text asks for help."""
    words = text.split()
    if not words:
        return Command(Verb.HELP)
    head, args = words[0].lower(), words[1:]
    try:
        verb = Verb(head)
    except ValueError:
        raise UsageError(f"unknown command {head!r}", help_text()) from None
    usage = USAGE[verb]
    if verb in {Verb.HELP, Verb.RUNBOOKS, Verb.PAUSE, Verb.RESUME}:
        _expect(args, 0, usage)
        return Command(verb)
    if verb is Verb.LIST:
        if len(args) > 1 or (args and args[0].lower() not in {"open", "all"}):
            raise UsageError("list takes `open` or `all`", usage)
        return Command(verb, include_resolved=bool(args) and args[0].lower() == "all")
    if verb in {Verb.APPROVE, Verb.DENY}:
        _expect(args, 1, usage)
        return Command(verb, run_id=_read(parse_run_ref, args[0], usage))
    if verb is Verb.SILENCE:
        if len(args) < 2:
            raise UsageError(f"expected INC-<n> and a duration, got {len(args)} argument(s)", usage)
        try:
            span = silence_span(args[1])
        except ValueError as exc:
            raise UsageError(str(exc), usage) from None
        incident_id = _read(parse_ref, args[0], usage)
        return Command(verb, incident_id=incident_id, span=span, reason=" ".join(args[2:]))
    if verb in {Verb.FREEZE, Verb.UNFREEZE, Verb.ALLOW_DEPLOY}:
        return _gate_command(verb, args, usage)
    if verb is Verb.RUN:
        _expect(args, 2, usage)
        name = args[0].lower()
        if not _RUNBOOK_NAME.match(name):
            raise UsageError(f"not a runbook name: {args[0]!r}", usage)
        return Command(verb, incident_id=_read(parse_ref, args[1], usage), runbook=name)
    _expect(args, 1, usage)
    return Command(verb, incident_id=_read(parse_ref, args[0], usage))


def _gate_command(verb: Verb, args: list[str], usage: str) -> Command:
    """freeze MODEL|all DURATION [reason], unfreeze MODEL|all, allow-deploy MODEL [reason]."""
    wanted = {Verb.FREEZE: 2, Verb.UNFREEZE: 1, Verb.ALLOW_DEPLOY: 1}[verb]
    if len(args) < wanted or (verb is Verb.UNFREEZE and len(args) > 1):
        raise UsageError(f"expected {wanted} argument{'s' * (wanted > 1)}, got {len(args)}", usage)
    model = freeze_scope(args[0])
    if len(model) > MAX_NAME_CHARS or (verb is Verb.ALLOW_DEPLOY and model == ALL_MODELS):
        raise UsageError(f"not a model name: {args[0][:80]!r}", usage)
    rest = args[2:] if verb is Verb.FREEZE else args[1:]
    try:
        span = freeze_span(args[1]) if verb is Verb.FREEZE else None
    except ValueError as exc:
        raise UsageError(str(exc), usage) from None
    return Command(verb, model=model, span=span, reason=" ".join(rest))


def _expect(args: list[str], count: int, usage: str) -> None:
    if len(args) != count:
        wanted = "no arguments" if count == 0 else f"{count} argument{'s' * (count > 1)}"
        raise UsageError(f"expected {wanted}, got {len(args)}", usage)


def _read(parse: Callable[[str], int], raw: str, usage: str) -> int:
    try:
        value = parse(raw)
    except ValueError as exc:
        raise UsageError(str(exc), usage) from None
    if value <= 0:
        raise UsageError(f"ids are positive numbers, got {raw!r}", usage)
    return value
