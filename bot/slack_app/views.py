"""Block Kit views: the incident root message, lists, timelines, runbook plans and notices.

Views are pure: they take our own types and answer a `SlackMessage` (fallback text plus
Block Kit blocks as JSON-ready dicts) within Slack's limits — header ≤150 characters, section
text ≤3000, field ≤2000, button text ≤75 and value ≤2000, ≤50 blocks, unique action ids.
Every human string goes through `redact` before it is escaped and clipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.domain.alerts import Severity
from bot.domain.cards import IncidentCard
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.timeline import TimelineEvent
from bot.summary.summary import Summary

Block = dict[str, Any]
Redact = Callable[[str], str]

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_TEXT_MAX = 75
BLOCKS_MAX = 50
FALLBACK_MAX = 3000
LIST_MAX = 20

STATUS_EMOJI: dict[IncidentStatus, str] = {
    IncidentStatus.TRIGGERED: ":rotating_light:",
    IncidentStatus.ACKNOWLEDGED: ":eyes:",
    IncidentStatus.MITIGATED: ":adhesive_bandage:",
    IncidentStatus.RESOLVED: ":white_check_mark:",
}
SEVERITY_EMOJI: dict[Severity, str] = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}


class ActionId(StrEnum):
    """The action ids of Firebreak's buttons; the bolt app listens for exactly these."""

    ACK = "firebreak_ack"
    RESOLVE = "firebreak_resolve"
    APPROVE = "firebreak_approve"
    DENY = "firebreak_deny"
    TIMELINE = "firebreak_timeline"
    POSTMORTEM = "firebreak_postmortem"
    SUMMARISE = "firebreak_summarise"
    CONFIRM_RUN = "firebreak_confirm_run"
    CANCEL_RUN = "firebreak_cancel_run"
    SILENCE = "firebreak_silence"


@dataclass(frozen=True)
class SlackMessage:
    """A message as Slack takes it: `text` is the notification and screen-reader fallback."""

    text: str
    blocks: list[Block]


def same(text: str) -> str:
    """The identity redactor: used when no redactor is configured."""
    return text


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with an ellipsis, never inside an `&amp;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp >= 0 and amp > len(cut) - 6 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, redact: Redact, limit: int = SECTION_MAX) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(escape(redact(text)), limit)}


def plain(text: str, redact: Redact, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(redact(text), limit), "emoji": True}


def button(
    label: str, action_id: ActionId, value: dict[str, Any], style: str | None = None
) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(label, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action_id.value,
        "value": json.dumps(value, separators=(",", ":")),
    }
    if style:
        element["style"] = style
    return element


def section(text: str, redact: Redact = same) -> Block:
    return {"type": "section", "text": mrkdwn(text, redact)}


def _label(label: str, text: str, redact: Redact) -> Block:
    """A section starting with a bold label; the label is ours, the text is escaped."""
    body = clip(escape(redact(text)), SECTION_MAX - len(label) - 4)
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{label}*\n{body}"}}


def incident_headline(incident: Incident) -> str:
    """`:rotating_light: INC-3 title` — status emoji, reference and title."""
    return f"{STATUS_EMOJI[incident.status]} {incident.ref} {incident.title}"


def incident_fallback(card: IncidentCard, redact: Redact = same) -> str:
    incident = card.incident
    text = (
        f"[{incident.severity.value.upper()}] {incident.ref} {incident.title} — "
        f"{incident.status.value}, {card.firing_count}/{card.alert_count} alerts firing"
    )
    return clip(redact(text), FALLBACK_MAX)


def incident_message(
    card: IncidentCard, *, chart_url: str | None = None, redact: Redact = same
) -> SlackMessage:
    """The root message of an incident; a resolved one keeps Summarise, Timeline and Postmortem."""
    incident = card.incident
    blocks: list[Block] = [
        {"type": "header", "text": plain(incident_headline(incident), redact, HEADER_MAX)},
        {"type": "section", "fields": _fields(card, redact)},
    ]
    if card.silence:
        blocks.append(section(f":no_bell: {card.silence}", redact))
    if card.storm:
        blocks.append(_label("Storm", card.storm, redact))
    if card.hypothesis:
        blocks.append(_label("Likely cause", card.hypothesis, redact))
    if card.similar:
        blocks.append(_label("Seen before", "\n".join(f"• {s}" for s in card.similar), redact))
    runbook = _runbook_line(card)
    if runbook:
        blocks.append(_label("Runbook", runbook, redact))
    if card.summary:
        blocks.append(_label("Summary", card.summary, redact))
    if chart_url:
        blocks.append(
            {
                "type": "image",
                "image_url": chart_url,
                "alt_text": clip(redact(f"{incident.ref} evidence chart"), FIELD_MAX),
            }
        )
    blocks.append({"type": "context", "elements": [mrkdwn(_context(incident), redact)]})
    blocks.append({"type": "actions", "block_id": "incident_actions", "elements": _buttons(card)})
    return SlackMessage(incident_fallback(card, redact), blocks)


def incident_detail(card: IncidentCard, summary: Summary, redact: Redact = same) -> SlackMessage:
    """`/firebreak show`: the root message with the summary in full, before its context line."""
    message = incident_message(replace(card, summary=None), redact=redact)
    blocks = list(message.blocks)
    blocks.insert(len(blocks) - 2, _label("Summary", summary.as_text(), redact))
    return SlackMessage(message.text, blocks)


def _fields(card: IncidentCard, redact: Redact) -> list[dict[str, str]]:
    incident = card.incident
    scope = ", ".join(f"{k}={v}" for k, v in sorted(card.scope.items())) or "—"
    values = [
        ("Severity", f"{SEVERITY_EMOJI[incident.severity]} {incident.severity.value}"),
        ("Status", f"{STATUS_EMOJI[incident.status]} {incident.status.value}"),
        ("Alerts", f"{card.firing_count} firing of {card.alert_count}"),
        ("Scope", scope),
    ]
    return [
        {"type": "mrkdwn", "text": f"*{name}*\n" + clip(escape(redact(v)), FIELD_MAX - 40)}
        for name, v in values
    ]


def _runbook_line(card: IncidentCard) -> str | None:
    parts = [card.runbook_state] if card.runbook_state else []
    if card.awaiting_run_id is not None and card.incident.is_open:
        parts.append(f"RUN-{card.awaiting_run_id} awaits approval")
    return " — ".join(parts) or None


def _context(incident: Incident) -> str:
    parts = [f"triggered {incident.triggered_at:%Y-%m-%d %H:%M:%S} UTC"]
    if incident.acknowledged_by:
        parts.append(f"acknowledged by {incident.acknowledged_by}")
    if incident.resolved_at is not None:
        by = f" by {incident.resolved_by}" if incident.resolved_by else ""
        parts.append(f"resolved {incident.resolved_at:%H:%M:%S} UTC{by}")
    if incident.reopened_count:
        parts.append(f"reopened {incident.reopened_count} times")
    return " · ".join(parts)


def _buttons(card: IncidentCard) -> list[Block]:
    incident = card.incident
    ref = {"incident_id": incident.id}
    buttons: list[Block] = []
    if incident.status is IncidentStatus.TRIGGERED:
        buttons.append(button("Acknowledge", ActionId.ACK, ref, "primary"))
    if incident.is_open and card.awaiting_run_id is not None:
        run = {**ref, "run_id": card.awaiting_run_id}
        buttons.append(
            button(f"Approve RUN-{card.awaiting_run_id}", ActionId.APPROVE, run, "primary")
        )
        buttons.append(button("Deny", ActionId.DENY, run, "danger"))
    if incident.is_open:
        buttons.append(button("Resolve", ActionId.RESOLVE, ref))
        silence = {**ref, "duration": "1h"}
        buttons.append(button("Silence 1h", ActionId.SILENCE, silence))
    buttons.append(button("Summarise", ActionId.SUMMARISE, ref))
    buttons.append(button("Timeline", ActionId.TIMELINE, ref))
    buttons.append(button("Postmortem", ActionId.POSTMORTEM, ref))
    return buttons


def incident_list(incidents: Sequence[Incident], redact: Redact = same) -> SlackMessage:
    """Incidents newest first, one line each; past LIST_MAX a count of the rest."""
    if not incidents:
        return notice("No incidents.")
    lines = [
        f"{STATUS_EMOJI[i.status]} {SEVERITY_EMOJI[i.severity]} *{i.ref}* {escape(redact(i.title))}"
        f" — {i.status.value}"
        for i in incidents[:LIST_MAX]
    ]
    if len(incidents) > LIST_MAX:
        lines.append(f"… and {len(incidents) - LIST_MAX} more")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(line, SECTION_MAX)}}
        for line in lines
    ]
    return SlackMessage(f"{len(incidents)} incident(s)", blocks)


def timeline_message(
    incident: Incident, events: Sequence[TimelineEvent], redact: Redact = same
) -> SlackMessage:
    """The timeline in time order, packed into sections of at most SECTION_MAX characters."""
    title = f"{incident.ref} timeline ({len(events)} events)"
    lines = [f"`{e.at:%H:%M:%S}` {escape(redact(e.message))}" for e in events] or ["No events."]
    chunks: list[str] = []
    for line in lines:
        line = clip(line, SECTION_MAX)
        if chunks and len(chunks[-1]) + 1 + len(line) <= SECTION_MAX:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    blocks: list[Block] = [{"type": "header", "text": plain(title, redact, HEADER_MAX)}]
    room = BLOCKS_MAX - len(blocks) - 1
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks[:room]]
    if len(chunks) > room:
        blocks.append(section(f"… {len(chunks) - room} more sections; see the API timeline."))
    return SlackMessage(title, blocks)


def runbooks_message(entries: Sequence[tuple[str, str]], redact: Redact = same) -> SlackMessage:
    """The runbook catalogue: name and description."""
    if not entries:
        return notice("No runbooks are loaded.")
    lines = [f"• *{escape(name)}* — {escape(redact(about))}" for name, about in entries]
    return SlackMessage(f"{len(entries)} runbook(s)", [section_raw("\n".join(lines))])


def section_raw(text: str) -> Block:
    """A section of mrkdwn we composed and escaped ourselves, clipped to the limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}}


def plan_message(
    incident_id: int, runbook: str, lines: Sequence[str], redact: Redact = same
) -> SlackMessage:
    """A dry-run plan with Confirm / Cancel buttons; nothing runs until Confirm."""
    title = f"Dry run: {runbook} on INC-{incident_id}"
    body = "\n".join(escape(redact(line)) for line in lines) or "The plan has no steps."
    value = {"incident_id": incident_id, "runbook": runbook}
    blocks: list[Block] = [
        {"type": "header", "text": plain(title, redact, HEADER_MAX)},
        section_raw(f"```{clip(body, SECTION_MAX - 6)}```"),
        {
            "type": "actions",
            "block_id": "plan_actions",
            "elements": [
                button("Confirm run", ActionId.CONFIRM_RUN, value, "primary"),
                button("Cancel", ActionId.CANCEL_RUN, value),
            ],
        },
    ]
    return SlackMessage(clip(title, FALLBACK_MAX), blocks)


def notice(text: str, redact: Redact = same) -> SlackMessage:
    """A one-section message (an answer, a refusal, a usage hint)."""
    return SlackMessage(clip(redact(text), FALLBACK_MAX), [section(text, redact)])
