"""Summarise an incident onto its timeline: an LLM within budget, else offline."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.domain.errors import NotFoundError
from bot.domain.redaction import redact
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, Summariser
from bot.summary.dossier import IncidentDossier
from bot.summary.offline import OfflineSummariser
from bot.summary.summary import Summary

RunHistory = Callable[[int], Sequence[Mapping[str, Any]]]


def load_dossier(store: Store, incident_id: int, runs: RunHistory | None = None) -> IncidentDossier:
    """Everything a summary or a postmortem is built from, read in one transaction."""
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        timeline = tuple(tx.timeline.for_incident(incident_id))
        alerts = tuple(tx.alerts.for_incident(incident_id))
        triage = tx.triages.get(incident_id)
    return IncidentDossier(
        incident=incident,
        timeline=timeline,
        alerts=alerts,
        triage=triage,
        runbook_runs=tuple(runs(incident_id)) if runs else (),
    )


def latest_summary(timeline: Sequence[TimelineEvent]) -> Summary | None:
    """The newest summary recorded on a timeline, if any."""
    for event in reversed(timeline):
        if event.kind is EventKind.SUMMARY and "summary" in event.data:
            return Summary.from_dict(dict(event.data["summary"]))
    return None


def tokens_spent(timeline: Sequence[TimelineEvent]) -> int:
    """LLM tokens this incident's summaries have used so far."""
    return sum(
        int(e.data["summary"].get("prompt_tokens", 0))
        + int(e.data["summary"].get("completion_tokens", 0))
        for e in timeline
        if e.kind is EventKind.SUMMARY and "summary" in e.data
    )


def summarise_incident(
    store: Store,
    summariser: Summariser,
    incident_id: int,
    reason: str,
    now: datetime,
    token_budget: int,
    runs: RunHistory | None = None,
) -> Summary:
    """Write a fresh summary onto the timeline and queue a chat update.

    Past the incident's token budget the offline summariser answers instead of the LLM. A
    failed LLM call is visible: the offline summary carries its reason and a note is added.
    """
    dossier = load_dossier(store, incident_id, runs)
    if tokens_spent(dossier.timeline) >= token_budget:
        summary = OfflineSummariser().summarise(dossier, fallback_reason="token budget spent")
    else:
        summary = summariser.summarise(dossier)
    with store.transaction() as tx:
        if summary.fallback_reason:
            tx.timeline.append(
                TimelineEvent(
                    incident_id,
                    now,
                    EventKind.NOTE,
                    f"LLM summary unavailable ({summary.fallback_reason}); offline summary used",
                    {"fallback_reason": summary.fallback_reason},
                )
            )
        tx.timeline.append(
            TimelineEvent(
                incident_id,
                now,
                EventKind.SUMMARY,
                redact(f"Summary ({reason}):\n{summary.as_text()}"),
                {"summary": summary.to_dict(), "reason": reason},
            )
        )
        tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
    return summary
