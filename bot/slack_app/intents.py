"""A Slack request turned into a task, once: authorise, claim, record, then hand off.

`submit()` runs before Slack's 3-second ack: it checks the permission, claims the intent's
once-key (a retried delivery or a double click finds it taken), and in one transaction writes
the audit record and an outbox row for the task. `hand_off()` runs after the ack and relays
that row to the broker; if the broker is down the row stays pending and the periodic relay
sends it later, so an accepted request is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from bot.domain.errors import StoreUnavailableError, UpstreamUnavailableError
from bot.domain.task_names import TaskName
from bot.services.relay_outbox import relay_outbox
from bot.slack_app.authorisation import Permission
from bot.slack_app.deps import SlackDeps

log = structlog.get_logger(__name__)

DOUBLE_CLICK_TTL_S = 120.0
DECISION_TTL_S = 24 * 3600.0
DELIVERY_TTL_S = 600.0


class Action(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"
    APPROVE = "approve"
    DENY = "deny"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    POSTMORTEM = "postmortem"
    SUMMARISE = "summarise"


TASKS: dict[Action, tuple[TaskName, Permission]] = {
    Action.ACK: (TaskName.ACK_INCIDENT, Permission.RESPOND),
    Action.RESOLVE: (TaskName.RESOLVE_INCIDENT, Permission.RESPOND),
    Action.APPROVE: (TaskName.APPROVE_RUN, Permission.APPROVE),
    Action.DENY: (TaskName.DENY_RUN, Permission.APPROVE),
    Action.START: (TaskName.START_RUNBOOK, Permission.OPERATE),
    Action.PAUSE: (TaskName.PAUSE_RUNBOOKS, Permission.OPERATE),
    Action.RESUME: (TaskName.RESUME_RUNBOOKS, Permission.OPERATE),
    Action.POSTMORTEM: (TaskName.UPLOAD_POSTMORTEM, Permission.READ),
    Action.SUMMARISE: (TaskName.SUMMARISE_INCIDENT, Permission.READ),
}


@dataclass(frozen=True)
class Intent:
    """What a person asked for: the action, its task arguments (the actor is appended)."""

    action: Action
    args: tuple[Any, ...]
    description: str
    once_key: str
    once_ttl_s: float = DOUBLE_CLICK_TTL_S
    incident_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    repeat: str = ""  # what a repeat is told; defaults to "Already requested: <description>."

    @property
    def task(self) -> TaskName:
        return TASKS[self.action][0]

    @property
    def permission(self) -> Permission:
        return TASKS[self.action][1]


def incident_intent(action: Action, incident_id: int) -> Intent:
    """Acknowledge, resolve, summarise or export one incident."""
    verb = {Action.ACK: "acknowledge", Action.RESOLVE: "resolve"}.get(action, str(action))
    return Intent(
        action,
        (incident_id, "on demand") if action is Action.SUMMARISE else (incident_id,),
        f"{verb} INC-{incident_id}",
        f"{action}:inc:{incident_id}",
        incident_id=incident_id,
    )


def decision_intent(action: Action, run_id: int, incident_id: int | None = None) -> Intent:
    """Approve or deny a run; the first decision on a run wins, repeats are duplicates."""
    return Intent(
        action,
        (run_id,),
        f"{action} RUN-{run_id}",
        f"decide:run:{run_id}",
        DECISION_TTL_S,
        incident_id=incident_id,
        detail={"run_id": run_id},
        repeat=f"RUN-{run_id} already has an approval decision requested.",
    )


def start_intent(incident_id: int, runbook: str) -> Intent:
    return Intent(
        Action.START,
        (incident_id, runbook),
        f"run {runbook} on INC-{incident_id}",
        f"start:inc:{incident_id}:{runbook}",
        incident_id=incident_id,
        detail={"runbook": runbook},
    )


def global_intent(action: Action, delivery: str) -> Intent:
    """Pause or resume every runbook; only a retried delivery of the same request repeats."""
    return Intent(action, (), f"{action} runbooks", f"{action}:{delivery}", DELIVERY_TTL_S)


@dataclass(frozen=True)
class Outcome:
    """What became of a request, and the sentence to show its author."""

    status: str
    message: str
    outbox_id: int | None = None

    @property
    def queued(self) -> bool:
        return self.outbox_id is not None


def refuse(deps: SlackDeps, actor: str, intent: Intent, reason: str) -> Outcome:
    """Record a refusal in the audit log and answer it."""
    detail = {
        "action": intent.action.value,
        "permission": intent.permission.value,
        "reason": reason,
        "via": "slack",
        **intent.detail,
    }
    record_refusal(deps, actor, intent.incident_id, detail)
    log.info("slack_request_refused", actor=actor, action=intent.action, reason=reason)
    return Outcome("refused", f"Refused: {reason}. ({intent.description})")


def record_refusal(
    deps: SlackDeps, actor: str, incident_id: int | None, detail: dict[str, Any]
) -> None:
    """Audit a refused request; a database outage is logged, and the refusal still answered."""
    try:
        with deps.store.transaction() as tx:
            tx.audit.record(actor, "refused", incident_id, detail)
    except StoreUnavailableError as exc:
        log.error("slack_refusal_unrecorded", actor=actor, detail=detail, reason=str(exc))


def submit(deps: SlackDeps, actor: str, intent: Intent) -> Outcome:
    """Authorise, claim the once-key and record the intent with its outbox row."""
    decision = deps.authoriser.check(actor, intent.permission)
    if not decision.allowed:
        return refuse(deps, actor, intent, decision.reason)
    claimed = claim_once(deps, intent.once_key, intent.once_ttl_s)
    if not claimed:
        log.info("slack_duplicate_ignored", actor=actor, key=intent.once_key)
        return Outcome("duplicate", intent.repeat or f"Already requested: {intent.description}.")
    try:
        with deps.store.transaction() as tx:
            if intent.incident_id is not None and tx.incidents.get(intent.incident_id) is None:
                outbox_id = None
            else:
                detail = {"via": "slack", "at": deps.clock().isoformat(), **intent.detail}
                tx.audit.record(actor, f"{intent.action}_requested", intent.incident_id, detail)
                outbox_id = tx.outbox.add(intent.task, [*intent.args, actor])
    except StoreUnavailableError as exc:
        release_once(deps, intent.once_key)
        log.error("slack_request_unrecorded", actor=actor, action=intent.action, reason=str(exc))
        return Outcome("unavailable", "Firebreak's database is unavailable; nothing was done.")
    if outbox_id is None:
        release_once(deps, intent.once_key)
        return Outcome("not_found", f"INC-{intent.incident_id} does not exist.")
    log.info("slack_request_accepted", actor=actor, action=intent.action, task=intent.task)
    return Outcome("queued", f"On it: {intent.description} (requested by {actor}).", outbox_id)


def hand_off(deps: SlackDeps, outcome: Outcome) -> None:
    """Relay the recorded task to the broker now; a failure leaves it for the periodic relay."""
    if outcome.outbox_id is None:
        return
    try:
        relay_outbox(deps.store, deps.tasks, 0.0, [outcome.outbox_id])
    except StoreUnavailableError as exc:
        log.warning("slack_hand_off_deferred", outbox_id=outcome.outbox_id, reason=str(exc))


def claim_once(deps: SlackDeps, key: str, ttl_s: float) -> bool:
    """True the first time `key` is claimed within `ttl_s` (a Slack retry or a double click is
    not). Without the claim store a repeat may act twice: every verb is safe to repeat."""
    try:
        return deps.claims.claim(key, ttl_s)
    except UpstreamUnavailableError as exc:
        log.warning("slack_claim_skipped", key=key, reason=str(exc))
        return True


def release_once(deps: SlackDeps, key: str) -> None:
    """Forget a claim whose request was not carried out, so a retry may act."""
    try:
        deps.claims.release(key)
    except UpstreamUnavailableError as exc:
        log.warning("slack_claim_release_failed", key=key, reason=str(exc))
