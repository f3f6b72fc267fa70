"""The `/firebreak` command and button listeners: every one acks within Slack's 3 seconds.

Reads (help, list, show, timeline, runbooks) answer from the store in the ack itself.
Silences (silence, unsilence, the Silence 1h button) ack at once, then call Alertmanager and
answer through the response_url (bot/slack_app/silencing.py).
Changes (ack, resolve, approve, deny, run's Confirm, pause, resume, postmortem, Summarise)
are submitted as intents — authorised, claimed once, recorded with an outbox row — acked with
a sentence, and only then relayed to the task broker. `run` acks at once, then sends the
dry-run plan with Confirm / Cancel through the response_url. Answers are ephemeral.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import Ack, App, Respond

from bot.domain.errors import FirebreakError, NotFoundError, StoreUnavailableError
from bot.domain.incidents import OPEN_STATUSES
from bot.domain.silences import DEFAULT_SILENCE, silence_span
from bot.services.notify_incident import build_card
from bot.services.summarise_incident import latest_summary, load_dossier
from bot.slack_app.authorisation import Permission
from bot.slack_app.commands import Command, UsageError, Verb, help_text, parse_command
from bot.slack_app.deploy_gate import GATE_VERBS, answer_gate_command
from bot.slack_app.deps import SlackDeps
from bot.slack_app.intents import (
    Action,
    Intent,
    Outcome,
    decision_intent,
    global_intent,
    hand_off,
    incident_intent,
    refuse,
    start_intent,
    submit,
)
from bot.slack_app.silencing import author_of, silence, unsilence
from bot.slack_app.views import (
    ActionId,
    SlackMessage,
    incident_detail,
    incident_list,
    notice,
    plan_message,
    runbooks_message,
    timeline_message,
)
from bot.summary.offline import OfflineSummariser

log = structlog.get_logger(__name__)

_INCIDENT_ACTIONS = {
    Verb.ACK: Action.ACK,
    Verb.RESOLVE: Action.RESOLVE,
    Verb.POSTMORTEM: Action.POSTMORTEM,
}

# A button's answer: the message to respond with, the outcome to hand off, whether the
# message replaces the one clicked; None when the button's value is not one we made.
Answer = tuple[SlackMessage, Outcome | None, bool] | None


def _ephemeral(message: SlackMessage) -> dict[str, Any]:
    return {"text": message.text, "blocks": message.blocks, "response_type": "ephemeral"}


def _delivery_key(payload: dict[str, Any]) -> str:
    """The identity of one delivery: Slack's trigger_id, else a hash of what identifies it."""
    trigger = payload.get("trigger_id")
    if trigger:
        return str(trigger)
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class Listeners:
    """The listeners of one bolt app, sharing one SlackDeps."""

    def __init__(self, deps: SlackDeps) -> None:
        self.deps = deps

    def register(self, app: App) -> None:
        app.command("/firebreak")(self.on_command)
        for action_id in ActionId:
            app.action(action_id.value)(self.on_action)

    # -- /firebreak -------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        actor = str(command.get("user_id", ""))
        try:
            parsed = parse_command(str(command.get("text", "")))
        except UsageError as exc:
            ack(**_ephemeral(notice(f"{exc}\nUsage:\n{exc.usage}")))
            return
        log.info("slack_command_received", actor=actor, verb=parsed.verb)
        if parsed.verb in GATE_VERBS:
            answer = answer_gate_command(self.deps, actor, parsed, _delivery_key(command))
            ack(**_ephemeral(notice(answer, self.deps.redact)))
            return
        if parsed.verb in {Verb.SILENCE, Verb.UNSILENCE}:
            self._silence(ack, respond, actor, parsed, command)
            return
        intent = self._intent_of(parsed, command)
        if intent is not None:
            self._request(ack, actor, intent)
        elif parsed.verb is Verb.RUN and parsed.incident_id and parsed.runbook:
            self._plan(ack, respond, actor, start_intent(parsed.incident_id, parsed.runbook))
        else:
            ack(**_ephemeral(self._read(parsed)))

    def _intent_of(self, parsed: Command, payload: dict[str, Any]) -> Intent | None:
        if parsed.verb in _INCIDENT_ACTIONS and parsed.incident_id is not None:
            return incident_intent(_INCIDENT_ACTIONS[parsed.verb], parsed.incident_id)
        if parsed.verb in {Verb.APPROVE, Verb.DENY} and parsed.run_id is not None:
            action = Action.APPROVE if parsed.verb is Verb.APPROVE else Action.DENY
            return decision_intent(action, parsed.run_id)
        if parsed.verb in {Verb.PAUSE, Verb.RESUME}:
            action = Action.PAUSE if parsed.verb is Verb.PAUSE else Action.RESUME
            return global_intent(action, _delivery_key(payload))
        return None

    def _request(self, ack: Ack, actor: str, intent: Intent) -> None:
        outcome = submit(self.deps, actor, intent)
        ack(**_ephemeral(notice(outcome.message, self.deps.redact)))
        hand_off(self.deps, outcome)

    def _read(self, parsed: Command) -> SlackMessage:
        redact = self.deps.redact
        try:
            if parsed.verb is Verb.LIST:
                with self.deps.store.transaction() as tx:
                    status = None if parsed.include_resolved else OPEN_STATUSES
                    return incident_list(tx.incidents.list(status=status, limit=100), redact)
            if parsed.verb is Verb.SHOW and parsed.incident_id is not None:
                return self._show(parsed.incident_id)
            if parsed.verb is Verb.TIMELINE and parsed.incident_id is not None:
                return self._timeline(parsed.incident_id)
            if parsed.verb is Verb.RUNBOOKS:
                if self.deps.runbooks is None:
                    return notice("No runbook engine is configured for Slack.")
                return runbooks_message(self.deps.runbooks.catalogue(), redact)
        except NotFoundError as exc:
            return notice(str(exc), redact)
        except StoreUnavailableError:
            return notice("Firebreak's database is unavailable; try again shortly.")
        except FirebreakError as exc:
            log.warning("slack_read_failed", verb=parsed.verb, reason=str(exc))
            return notice(f"Firebreak could not answer {parsed.verb}: {exc}", redact)
        return notice(help_text())

    def _show(self, incident_id: int) -> SlackMessage:
        """The incident card with its latest summary in full; before the first one is written,
        an offline summary made now (no model is called inside Slack's 3 seconds)."""
        try:
            card, _, _ = build_card(self.deps.store, incident_id)
        except LookupError as exc:
            raise NotFoundError(str(exc)) from None
        dossier = load_dossier(self.deps.store, incident_id)
        summary = latest_summary(dossier.timeline) or OfflineSummariser().summarise(dossier)
        return incident_detail(card, summary, self.deps.redact)

    def _timeline(self, incident_id: int) -> SlackMessage:
        with self.deps.store.transaction() as tx:
            incident = tx.incidents.get(incident_id)
            if incident is None:
                raise NotFoundError(f"INC-{incident_id} does not exist")
            events = tx.timeline.for_incident(incident_id)
        return timeline_message(incident, events, self.deps.redact)

    def _plan(self, ack: Ack, respond: Respond, actor: str, intent: Intent) -> None:
        incident_id, runbook = intent.args
        decision = self.deps.authoriser.check(actor, Permission.OPERATE)
        if not decision.allowed:
            outcome = refuse(self.deps, actor, intent, decision.reason)
            ack(**_ephemeral(notice(outcome.message)))
            return
        if self.deps.runbooks is None:
            ack(**_ephemeral(notice("No runbook engine is configured for Slack.")))
            return
        ack(**_ephemeral(notice(f"Planning {intent.description} (dry run)…")))
        try:
            lines = self.deps.runbooks.dry_run(incident_id, runbook)
        except FirebreakError as exc:
            log.warning("slack_plan_failed", runbook=runbook, reason=str(exc))
            respond(**_ephemeral(notice(f"Cannot plan {intent.description}: {exc}")))
            return
        plan = plan_message(incident_id, runbook, lines, self.deps.redact)
        respond(**_ephemeral(plan), replace_original=False)

    def _silence(
        self, ack: Ack, respond: Respond, actor: str, parsed: Command, payload: dict[str, Any]
    ) -> None:
        """Ack at once, then silence or unsilence through Alertmanager and answer the result."""
        incident_id = parsed.incident_id
        assert incident_id is not None
        author = author_of(actor, str(payload.get("user_name", "")))
        if parsed.verb is Verb.UNSILENCE:
            ack(**_ephemeral(notice(f"Expiring INC-{incident_id}'s silences…")))
            message = unsilence(self.deps, actor, author, incident_id)
        else:
            ack(**_ephemeral(notice(f"Silencing INC-{incident_id}…")))
            span = parsed.span or DEFAULT_SILENCE
            key = f"silence:{_delivery_key(payload)}"
            message = silence(self.deps, actor, author, incident_id, span, parsed.reason, key)
        respond(**_ephemeral(message), replace_original=False)

    # -- buttons ----------------------------------------------------------------------------

    def on_action(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user = body.get("user") or {}
        actor = str(user.get("id", ""))
        action_id = ActionId(str(action.get("action_id")))
        try:
            value: dict[str, Any] = json.loads(str(action.get("value") or "{}"))
        except json.JSONDecodeError:
            value = {}
        log.info("slack_button_clicked", actor=actor, action_id=action_id)
        handler = self._buttons(author_of(actor, str(user.get("username", "")))).get(action_id)
        answer = handler(actor, value) if handler is not None else None
        if answer is None:
            respond(**_ephemeral(notice("That button has expired; try the command instead.")))
            return
        message, outcome, replace = answer
        respond(**_ephemeral(message), replace_original=replace)
        if outcome is not None:
            hand_off(self.deps, outcome)

    def _buttons(self, author: str = "") -> dict[ActionId, Callable[[str, dict[str, Any]], Answer]]:
        return {
            ActionId.SILENCE: lambda a, v: self._silence_click(a, v, author or a),
            ActionId.ACK: lambda a, v: self._click(a, v, Action.ACK),
            ActionId.RESOLVE: lambda a, v: self._click(a, v, Action.RESOLVE),
            ActionId.POSTMORTEM: lambda a, v: self._click(a, v, Action.POSTMORTEM),
            ActionId.SUMMARISE: lambda a, v: self._click(a, v, Action.SUMMARISE),
            ActionId.APPROVE: lambda a, v: self._decide(a, v, Action.APPROVE),
            ActionId.DENY: lambda a, v: self._decide(a, v, Action.DENY),
            ActionId.TIMELINE: self._timeline_click,
            ActionId.CONFIRM_RUN: self._confirm_run,
            ActionId.CANCEL_RUN: self._cancel_run,
        }

    def _submitted(
        self, actor: str, intent: Intent, replace: bool = False
    ) -> tuple[SlackMessage, Outcome | None, bool]:
        outcome = submit(self.deps, actor, intent)
        return notice(outcome.message, self.deps.redact), outcome, replace and outcome.queued

    def _click(self, actor: str, value: dict[str, Any], action: Action) -> Answer:
        incident_id = value.get("incident_id")
        if not isinstance(incident_id, int):
            return None
        return self._submitted(actor, incident_intent(action, incident_id))

    def _decide(self, actor: str, value: dict[str, Any], action: Action) -> Answer:
        run_id, incident_id = value.get("run_id"), value.get("incident_id")
        if not isinstance(run_id, int):
            return None
        incident = incident_id if isinstance(incident_id, int) else None
        return self._submitted(actor, decision_intent(action, run_id, incident))

    def _timeline_click(self, actor: str, value: dict[str, Any]) -> Answer:
        incident_id = value.get("incident_id")
        if not isinstance(incident_id, int):
            return None
        return self._read(Command(Verb.TIMELINE, incident_id=incident_id)), None, False

    def _confirm_run(self, actor: str, value: dict[str, Any]) -> Answer:
        incident_id, runbook = value.get("incident_id"), value.get("runbook")
        if not isinstance(incident_id, int) or not isinstance(runbook, str):
            return None
        return self._submitted(actor, start_intent(incident_id, runbook), replace=True)

    def _silence_click(self, actor: str, value: dict[str, Any], author: str) -> Answer:
        incident_id = value.get("incident_id")
        if not isinstance(incident_id, int):
            return None
        try:
            span = silence_span(str(value.get("duration", "1h")))
        except ValueError:
            return None
        key = f"silence:inc:{incident_id}:{actor}"
        return silence(self.deps, actor, author, incident_id, span, "", key), None, False

    def _cancel_run(self, actor: str, value: dict[str, Any]) -> Answer:
        runbook, incident_id = value.get("runbook"), value.get("incident_id")
        return notice(f"Cancelled: {runbook} on INC-{incident_id} was not started."), None, True
