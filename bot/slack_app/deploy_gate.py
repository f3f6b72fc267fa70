"""`/firebreak freeze`, `unfreeze` and `allow-deploy`: done within the ack, in force at once.

Unlike the verbs handed to a task, these act in the listener: each is one small write with its
audit record, and a pipeline asking the gate a second later must already get the new answer.
Freezing and unfreezing need an operator (a freeze holds everyone's changes); an exception
needs an approver (bot/slack_app/authorisation.py). A retried delivery of one request acts
once; a refusal is audited.
"""

from __future__ import annotations

import structlog

from bot.domain.changes import ALL_MODELS
from bot.domain.errors import StoreUnavailableError
from bot.services.freeze_deploys import allow_deploy, freeze_deploys, unfreeze_deploys
from bot.slack_app.authorisation import Permission
from bot.slack_app.commands import Command, Verb
from bot.slack_app.deps import SlackDeps
from bot.slack_app.intents import claim_once, record_refusal, release_once

log = structlog.get_logger(__name__)

GATE_VERBS: dict[Verb, Permission] = {
    Verb.FREEZE: Permission.OPERATE,
    Verb.UNFREEZE: Permission.OPERATE,
    Verb.ALLOW_DEPLOY: Permission.APPROVE,
}
DELIVERY_TTL_S = 600.0


def _named(scope: str) -> str:
    return "every model" if scope == ALL_MODELS else scope


def answer_gate_command(deps: SlackDeps, actor: str, command: Command, delivery: str) -> str:
    """Authorise, act once per delivery, and answer the sentence to show `actor`."""
    scope = command.model or ""
    asked = f"{command.verb} {_named(scope)}"
    decision = deps.authoriser.check(actor, GATE_VERBS[command.verb])
    if not decision.allowed:
        _audit_refusal(deps, actor, command, decision.reason)
        return f"Refused: {decision.reason}. ({asked})"
    key = f"gate:{command.verb}:{delivery}"
    if not claim_once(deps, key, DELIVERY_TTL_S):
        return f"Already requested: {asked}."
    try:
        answer = _act(deps, actor, command, scope)
    except StoreUnavailableError as exc:
        release_once(deps, key)
        log.error("slack_gate_command_failed", verb=command.verb, reason=str(exc))
        return "Firebreak's database is unavailable; nothing was done."
    log.info("slack_gate_command_done", actor=actor, verb=command.verb, scope=scope)
    return answer


def _act(deps: SlackDeps, actor: str, command: Command, scope: str) -> str:
    now = deps.clock()
    if command.verb is Verb.FREEZE and command.span is not None:
        span_s = command.span.total_seconds()
        freeze = freeze_deploys(deps.store, scope, span_s, command.reason, actor, now)
        word = "all" if scope == ALL_MODELS else scope
        return f"Frozen: {freeze.describe()}. Lift it with `/firebreak unfreeze {word}`."
    if command.verb is Verb.UNFREEZE:
        lifted = unfreeze_deploys(deps.store, scope, actor)
        if lifted is None:
            return f"{_named(scope)} was not frozen; nothing changed."
        return f"Unfrozen: {_named(scope)} (was {lifted.describe()})."
    granted, gate = allow_deploy(deps.store, scope, command.reason, actor, now)
    answer = (
        f"Exception granted: the next change to {scope} goes through, once, until "
        f"{granted.expires_at:%H:%M} UTC."
    )
    if gate.blockers:
        return f"{answer} The gate is closed by: {'; '.join(b.reason for b in gate.blockers)}."
    return answer + " The gate is open now; the next change uses the exception all the same."


def _audit_refusal(deps: SlackDeps, actor: str, command: Command, reason: str) -> None:
    detail = {"verb": command.verb.value, "scope": command.model, "reason": reason, "via": "slack"}
    record_refusal(deps, actor, None, detail)
