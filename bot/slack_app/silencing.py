"""Silences from Slack: `/firebreak silence INC-n 2h [reason]`, `/firebreak unsilence INC-n`
and the root message's *Silence 1h* button.

Silencing is done by the listener itself, after Slack's ack: one call to Alertmanager (a 2 s
timeout) whose answer — the silence and its end, or why not — is the reply, so nothing waits
in a queue for a person who is looking at the alert. Who may silence is who may acknowledge
(`Permission.RESPOND`); a refusal lands in the audit log. A repeat of the same delivery (Slack's
retry, a double click within two minutes) is answered as a repeat and silences nothing more.
The silence's author is the Slack user (`@name`); its comment links the incident in the API
when FIREBREAK_API_URL is set.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from bot.domain.errors import FirebreakError
from bot.domain.silences import silence_line
from bot.services.silence_incident import silence_incident, unsilence_incident
from bot.slack_app.authorisation import Permission
from bot.slack_app.deps import SlackDeps
from bot.slack_app.intents import claim_once, record_refusal, release_once
from bot.slack_app.views import SlackMessage, notice

log = structlog.get_logger(__name__)

REPEAT_TTL_S = 120.0
NOT_WIRED = "Silences are not wired into Slack here; nothing was silenced."


def author_of(user_id: str, user_name: str) -> str:
    """How a Slack user signs a silence: `@name`, else the user id."""
    return f"@{user_name}" if user_name else user_id


def _allowed(deps: SlackDeps, actor: str, incident_id: int, what: str) -> str | None:
    """None when the actor may; else the refusal, recorded in the audit log."""
    decision = deps.authoriser.check(actor, Permission.RESPOND)
    if decision.allowed:
        return None
    detail = {"action": what, "reason": decision.reason, "via": "slack"}
    record_refusal(deps, actor, incident_id, detail)
    return f"Refused: {decision.reason}. ({what} INC-{incident_id})"


def silence(
    deps: SlackDeps,
    actor: str,
    author: str,
    incident_id: int,
    span: timedelta,
    reason: str,
    once_key: str,
) -> SlackMessage:
    """Silence the incident's alerts for `span`; the reply says until when, or why not."""
    refused = _allowed(deps, actor, incident_id, "silence")
    if refused is not None:
        return notice(refused, deps.redact)
    if deps.silences is None:
        return notice(NOT_WIRED)
    if not claim_once(deps, once_key, REPEAT_TTL_S):
        return notice(f"Already silencing INC-{incident_id}.")
    now = deps.clock()
    try:
        link = f"{deps.api_url.rstrip('/')}/api/v1/incidents/{incident_id}" if deps.api_url else ""
        made = silence_incident(
            deps.store, deps.silences, incident_id, span, author, reason, now, link
        )
    except FirebreakError as exc:
        release_once(deps, once_key)
        log.info("slack_silence_failed", incident_id=incident_id, reason=str(exc))
        return notice(f"INC-{incident_id} was not silenced: {exc}", deps.redact)
    line = silence_line([made], now) or "Silenced"
    text = f"INC-{incident_id}: {line} (Alertmanager silence {made.id}, {made.describe()})."
    return notice(text, deps.redact)


def unsilence(deps: SlackDeps, actor: str, author: str, incident_id: int) -> SlackMessage:
    """Expire the silences Firebreak made for the incident; name any others covering it."""
    refused = _allowed(deps, actor, incident_id, "unsilence")
    if refused is not None:
        return notice(refused, deps.redact)
    if deps.silences is None:
        return notice(NOT_WIRED)
    try:
        done = unsilence_incident(deps.store, deps.silences, incident_id, author, deps.clock())
    except FirebreakError as exc:
        log.info("slack_unsilence_failed", incident_id=incident_id, reason=str(exc))
        return notice(f"INC-{incident_id} was not unsilenced: {exc}", deps.redact)
    parts = []
    if done.expired:
        parts.append(f"Expired {', '.join(s.id for s in done.expired)} for INC-{incident_id}.")
    else:
        parts.append(f"INC-{incident_id} has no silence in force made by Firebreak.")
    for other in done.left:
        parts.append(
            f"Still covered by {other.id} made in Alertmanager by {other.created_by or 'someone'}"
            f" until {other.ends_at:%Y-%m-%d %H:%M} UTC; expire it there."
        )
    return notice(" ".join(parts), deps.redact)
