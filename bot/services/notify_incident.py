"""Keep an incident's chat presence current: one root message edited in place, details threaded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import structlog

from bot.domain.cards import ChatState, IncidentCard, MessageRef
from bot.domain.errors import RateLimitedError, StepInFlightError
from bot.domain.silences import silence_line
from bot.domain.storms import Storm, escalation, is_quiet
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import ChannelPacer, ChatClient, Store
from bot.services.claim_post import claim_post, settle_post, uncertain_step
from bot.services.recall_incidents import SHOWN_IN_CHAT, recall
from bot.services.relate_incidents import MEMBER_STEP, join_storm, position_of, storm_of
from bot.services.share_charts import share_charts
from bot.services.summarise_incident import latest_summary

log = structlog.get_logger(__name__)

ROOT_STEP = "chat:root"
ROOT_UNCERTAIN_STEP = uncertain_step(ROOT_STEP)
STORM_LINE_STEP = "chat:storm:line"
# A quiet storm member waits this long for its lead's root message before looking again.
LEAD_PENDING_S = 5.0
_THREADED = {
    EventKind.INCIDENT_REOPENED,
    EventKind.ALERT_FIRING,
    EventKind.ALERT_RESOLVED,
    EventKind.ALERTS_TRUNCATED,
    EventKind.STATUS_CHANGED,
    EventKind.RECONCILED,
    EventKind.TRIAGED,
    EventKind.RUNBOOK,
    EventKind.SUMMARY,
    EventKind.NOTE,
    EventKind.CHANGE,
}
MAX_THREAD_LINES = 20
# A root claim older than this whose outcome is unknown is taken over: its holder died (a
# SIGKILLed worker) or outlived every time limit. Longer than the notify task's time limit.
CLAIM_LEASE_S = 60.0
SUMMARY_PLACEHOLDER = "Summary to follow at mitigation and resolution."
# Thread lines and charts that yielded to a busy channel are looked at again after the wait
# the channel names, within these bounds: a backlog of them costs a pass every few seconds per
# incident, not a retry storm, and a long wait is checked on now and then.
DETAILS_RETRY_S = 5.0
DETAILS_RETRY_MAX_S = 60.0


RunbookLine = Callable[[int], tuple[str | None, int | None]]


def build_card(
    store: Store,
    incident_id: int,
    runbook_line: RunbookLine | None = None,
    *,
    now: datetime | None = None,
) -> tuple[IncidentCard, ChatState, list[TimelineEvent]]:
    """The incident as a card, what was already posted, and the timeline after the thread mark.

    The card names the earlier incidents most like this one (bot/services/recall_incidents.py)
    and the silence in force on it, as of `now`."""
    now = now or datetime.now(UTC)
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None:
            raise LookupError(f"INC-{incident_id} does not exist")
        alerts = tx.alerts.for_incident(incident_id)
        state = tx.chat_states.get(incident_id)
        events = tx.timeline.for_incident(incident_id)
        triage = tx.triages.get(incident_id) or {}
        storm = storm_of(tx, incident_id)
        similar = recall(tx, incident_id, SHOWN_IN_CHAT)
        silences = tx.silences.for_incident(incident_id)
    runbook_state, awaiting = runbook_line(incident_id) if runbook_line else (None, None)
    hypotheses = triage.get("hypotheses") or []
    top = hypotheses[0] if hypotheses else None
    card = IncidentCard(
        incident=incident,
        alert_count=len(alerts),
        firing_count=sum(1 for a in alerts if a["status"] == "firing"),
        scope={
            k: v
            for k, v in incident.labels.items()
            if k in {"model_name", "service", "Hostname", "namespace"}
        },
        hypothesis=(
            f"{top['kind']} ({float(top['confidence']):.0%}): {top.get('explanation', '')}"
            if top
            else None
        ),
        chart_paths=tuple(triage.get("chart_paths") or ()),
        summary=_summary_line(events),
        runbook_state=runbook_state,
        awaiting_run_id=awaiting,
        storm=_storm_line(storm, incident_id),
        similar=tuple(match.line(now) for match in similar),
        silence=silence_line(silences, now),
    )
    fresh = [
        e for e in events if e.id is not None and e.id > state.thread_mark and e.kind in _THREADED
    ]
    return card, state, fresh


def _storm_line(storm: Storm | None, incident_id: int) -> str | None:
    if storm is None or storm.size < 2:
        return None
    count = f"{storm.size} incidents" if storm.lead_id == incident_id else f"one of {storm.size}"
    return f"{count} on {storm.scope}, led by INC-{storm.lead_id}"


def _summary_line(events: list[TimelineEvent]) -> str:
    summary = latest_summary(events)
    if summary is None:
        return SUMMARY_PLACEHOLDER
    return f"{summary.what_happened} {summary.current_state} ({summary.provenance})".strip()


def card_digest(card: IncidentCard) -> str:
    """A stable hash of what the root message shows, so an unchanged card is not re-sent."""
    incident = card.incident
    shown = {
        "status": incident.status.value,
        "severity": incident.severity.value,
        "title": incident.title,
        "alerts": [card.alert_count, card.firing_count],
        "hypothesis": card.hypothesis,
        "runbook": card.runbook_state,
        "awaiting": card.awaiting_run_id,
        "summary": card.summary,
        "charts": list(card.chart_paths),
        "storm": card.storm,
        "similar": list(card.similar),
        "silence": card.silence,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def _pace(pacer: ChannelPacer | None, channel: str, *, can_wait: bool = False) -> None:
    """Wait for the channel's token bucket: too soon raises RateLimitedError (the task retries)."""
    if pacer is None:
        return
    wait_s = pacer.acquire(channel, can_wait=can_wait)
    if wait_s > 0:
        raise RateLimitedError(f"{channel} is paced", retry_after_s=wait_s)


def notify_incident(
    store: Store,
    chat: ChatClient,
    incident_id: int,
    pacer: ChannelPacer | None = None,
    channel: str = "",
    runbook_line: RunbookLine | None = None,
    claim_lease_s: float = CLAIM_LEASE_S,
    *,
    now: datetime | None = None,
) -> ChatState:
    """Post the root message once, edit it when the card changed, thread new timeline events.

    The root post is claimed in the ledger before it is made, so two tasks never both post.
    A post that failed without an answer may have landed: it is marked uncertain, and the next
    task looks for it in the chat first, adopting (and editing) the message it finds instead of
    posting. A claim left open longer than `claim_lease_s` (its holder was killed between
    claiming and completing) is taken over the same way: look first, then adopt or post. While
    another task holds a younger claim, StepInFlightError asks to come back when it may have
    expired, so an incident is never left without its message. Edits set the whole message, so
    repeating one is harmless.

    A storm member past the first few (bot/domain/storms.py `is_quiet`) posts no root message:
    one line in its lead's thread, claimed, looked for and adopted the same way (the lead's
    thread replies stand in for the channel's history), until it escalates. The incident
    joins its storm here if triage has not joined it yet, so chat knows before the first post.
    Triage's charts follow in the thread, each once (bot/services/share_charts.py).
    """
    now = now or datetime.now(UTC)
    _join_storm_early(store, incident_id, now)
    card, state, fresh = build_card(store, incident_id, runbook_line, now=now)
    digest = card_digest(card)
    if state.ref is None and _quiet_in_storm(store, chat, card, pacer, claim_lease_s):
        return state
    if state.ref is None:
        _pace(pacer, channel)
        claim = claim_post(store, incident_id, ROOT_STEP, claim_lease_s, "root message")
        if not claim.held:
            return state
        ref, posted = settle_post(
            store,
            incident_id,
            ROOT_STEP,
            claim,
            lambda: chat.find_incident(incident_id),
            lambda: chat.post_incident(card),
        )
        state = ChatState(
            ref=ref, thread_mark=state.thread_mark, card_digest=digest if posted else None
        )
        with store.transaction() as tx:
            tx.ledger.complete(incident_id, ROOT_STEP, {"channel": ref.channel, "ts": ref.ts})
            tx.chat_states.save(incident_id, state)
    if state.ref is not None and state.card_digest != digest:
        _pace(pacer, state.ref.channel)
        chat.update_incident(state.ref, card)
        state = replace(state, card_digest=digest)
        with store.transaction() as tx:
            tx.chat_states.save(incident_id, state)
    if state.ref is not None and (fresh or card.chart_paths):
        state = _post_details(store, chat, incident_id, state, fresh, card.chart_paths, pacer)
    return state


def _post_details(
    store: Store,
    chat: ChatClient,
    incident_id: int,
    state: ChatState,
    fresh: list[TimelineEvent],
    chart_paths: tuple[str, ...],
    pacer: ChannelPacer | None,
) -> ChatState:
    """Thread lines and charts can wait: while the channel is busy they yield its capacity to
    root messages and edits, and a later pass, queued here, posts what waited in one line."""
    ref = state.ref
    assert ref is not None
    pace = partial(_pace, pacer, ref.channel, can_wait=True)
    try:
        if fresh:
            pace()
            state = _post_thread(store, chat, incident_id, state, fresh)
        if chart_paths:
            share_charts(store, chat, incident_id, ref, chart_paths, pace)
    except RateLimitedError as exc:
        delay_s = min(max(exc.retry_after_s, DETAILS_RETRY_S), DETAILS_RETRY_MAX_S)
        with store.transaction() as tx:
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id], delay_s=delay_s)
        log.info("chat_details_deferred", incident_id=incident_id, delay_s=round(delay_s, 3))
    return state


def _join_storm_early(store: Store, incident_id: int, now: datetime) -> None:
    """Join the incident's storm now when triage has not yet (joining happens once)."""
    with store.transaction() as tx:
        if tx.ledger.state(incident_id, MEMBER_STEP) is not None:
            return
        incident = tx.incidents.get(incident_id)
        if incident is None:
            return
        alert_names = {a["name"] for a in tx.alerts.for_incident(incident_id)}
        join_storm(tx, incident, alert_names, now)


def _quiet_in_storm(
    store: Store,
    chat: ChatClient,
    card: IncidentCard,
    pacer: ChannelPacer | None,
    claim_lease_s: float,
) -> bool:
    """Whether the incident stays out of the channel as a quiet storm member; its one line in
    the lead's thread is posted once, under the same leased claim as a root message: after an
    unknown outcome the lead's thread is searched for the line (its metadata names the
    incident) and the line found is adopted, or posted when none is there."""
    incident = card.incident
    with store.transaction() as tx:
        position = position_of(tx, incident.id)
        storm = storm_of(tx, incident.id) if is_quiet(position) else None
        lead = tx.incidents.get(storm.lead_id) if storm is not None else None
        lead_ref = tx.chat_states.get(lead.id).ref if lead is not None else None
        line_state = tx.ledger.state(incident.id, STORM_LINE_STEP)
    if storm is None or lead is None:
        return False
    awaiting = card.awaiting_run_id is not None and incident.is_open
    acknowledged = incident.acknowledged_at is not None
    if escalation(incident.severity, lead.severity, acknowledged, awaiting) is not None:
        return False
    if line_state == "completed":
        return True
    if lead_ref is None:
        raise StepInFlightError(
            f"INC-{incident.id} waits for its storm lead INC-{lead.id}'s message",
            retry_after_s=LEAD_PENDING_S,
        )
    _pace(pacer, lead_ref.channel)
    claim = claim_post(store, incident.id, STORM_LINE_STEP, claim_lease_s, "storm thread line")
    if not claim.held:
        return True
    text = (
        f"{incident.ref} [{incident.severity.value}] {incident.title} — joined the storm "
        f"as #{position}, {card.firing_count} of {card.alert_count} alerts firing"
    )
    line, _ = settle_post(
        store,
        incident.id,
        STORM_LINE_STEP,
        claim,
        lambda: chat.find_thread_reply(lead_ref, incident.id),
        lambda: chat.post_thread(lead_ref, text, incident_id=incident.id),
    )
    with store.transaction() as tx:
        tx.ledger.complete(incident.id, STORM_LINE_STEP, {"lead": lead.id, "ts": line.ts})
    return True


def _post_once(
    store: Store, incident_id: int, step: str, post: Callable[[], MessageRef]
) -> MessageRef:
    """Make a claimed thread post. A rate limit means Slack did not post it: the claim is
    released so the retried task posts; any other failure may have posted, so the claim stands."""
    try:
        return post()
    except RateLimitedError:
        with store.transaction() as tx:
            tx.ledger.release(incident_id, step)
        raise


def _post_thread(
    store: Store, chat: ChatClient, incident_id: int, state: ChatState, fresh: list[TimelineEvent]
) -> ChatState:
    assert state.ref is not None
    last_id = max(e.id or 0 for e in fresh)
    step = f"chat:thread:{state.thread_mark}-{last_id}"
    with store.transaction() as tx:
        claimed = tx.ledger.claim(incident_id, step)
    if claimed:
        lines = [f"{e.at:%H:%M:%S} {e.message}" for e in fresh[:MAX_THREAD_LINES]]
        if len(fresh) > MAX_THREAD_LINES:
            lines.append(f"… and {len(fresh) - MAX_THREAD_LINES} more events")
        root = state.ref
        _post_once(store, incident_id, step, lambda: chat.post_thread(root, "\n".join(lines)))
    state = replace(state, thread_mark=last_id)
    with store.transaction() as tx:
        if claimed:
            tx.ledger.complete(incident_id, step)
        tx.chat_states.save(incident_id, state)
    return state
