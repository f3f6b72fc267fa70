"""Lessons learned and action items, derived from an incident's data by plain heuristics.

Went well: verified automated runbooks (and how fast, first step to verification), quick
acknowledgement and approval, early detection, a confident triage. Went wrong: slow or missing
acknowledgement, slow or lapsed approval, inconclusive verification, reverted or failed runbooks,
late detection, a first triage (or every triage) that named no cause, reopenings, long
resolution. Got lucky: alerts that cleared without mitigation, or although a run never got its
approval or could not verify recovery, and mitigation that worked despite an unsure triage.
Thresholds are module constants so a team can see (and argue with) them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.incidents import IncidentStatus
from bot.domain.timeline import EventKind
from bot.postmortem.model import ActionItem, Lessons
from bot.runbook.consent import TRIAGE_ACTOR
from bot.summary.dossier import IncidentDossier, run_entries, step_times
from bot.summary.durations import as_utc, clock, human_duration, parse_time
from bot.summary.offline import kind_label, number, scope_text
from bot.summary.summary import Summary

QUICK_ACK_S = 5 * 60
SLOW_DETECTION_S = 5 * 60
QUICK_DETECTION_S = 2 * 60
LONG_RESOLUTION_S = 60 * 60
SLOW_APPROVAL_S = 5 * 60
CONFIDENT = 0.7
UNSURE = 0.5
_BAD_RUN = {"failed", "reverted", "aborted", "error", "timed_out"}


def earliest_onset(dossier: IncidentDossier) -> tuple[datetime, str] | None:
    """When the first anomalous signal moved, and which signal it was."""
    onsets = []
    for finding in dossier.findings:
        onset = parse_time(finding.get("onset"))
        if onset is not None:
            onsets.append((onset, str(finding.get("signal", "a signal"))))
    return min(onsets) if onsets else None


def detection_delay_s(dossier: IncidentDossier) -> float | None:
    """Seconds from the first signal's onset to the incident's trigger (None without onsets)."""
    onset = earliest_onset(dossier)
    if onset is None:
        return None
    return (as_utc(dossier.incident.triggered_at) - onset[0]).total_seconds()


def lessons(dossier: IncidentDossier) -> Lessons:
    """Went well / went wrong / got lucky, each a short sentence with its numbers."""
    incident = dossier.incident
    spans = incident.durations_s()
    well: list[str] = []
    wrong: list[str] = []
    lucky: list[str] = []
    resolved = incident.status is IncidentStatus.RESOLVED
    for run in dossier.runbook_runs:
        _run_lessons(run, resolved, well, wrong, lucky)
    tta_s = spans["tta_s"]
    waited_s = (dossier.observed_until - as_utc(incident.triggered_at)).total_seconds()
    if tta_s is not None and tta_s <= QUICK_ACK_S:
        well.append(f"Acknowledged within {human_duration(tta_s)}.")
    elif tta_s is not None:
        wrong.append(f"No acknowledgement for {human_duration(tta_s)}.")
    elif incident.status is IncidentStatus.TRIGGERED and waited_s > QUICK_ACK_S:
        wrong.append(f"No acknowledgement for {human_duration(waited_s)} (still unacknowledged).")
    delay_s = detection_delay_s(dossier)
    onset = earliest_onset(dossier)
    if delay_s is not None and onset is not None:
        if delay_s <= QUICK_DETECTION_S:
            well.append(
                f"Alerting fired {human_duration(max(0.0, delay_s))} after {onset[1]} moved."
            )
        elif delay_s > SLOW_DETECTION_S:
            wrong.append(f"Alerting fired {human_duration(delay_s)} after {onset[1]} moved.")
    top = dossier.hypotheses[0] if dossier.hypotheses else None
    confidence = _confidence(top)
    if top is not None and confidence is not None and confidence >= CONFIDENT:
        well.append(
            f"Triage pointed to {kind_label(str(top.get('kind')))} "
            f"with confidence {number(confidence)}."
        )
    wrong += _triage_lessons(dossier, top)
    if incident.reopened_count:
        wrong.append(f"Reopened {incident.reopened_count} time(s) after being resolved.")
    ttr_s = spans["ttr_s"]
    if ttr_s is not None and ttr_s > LONG_RESOLUTION_S:
        wrong.append(f"Took {human_duration(ttr_s)} to resolve.")
    verified = any(r.get("verified") is True for r in dossier.runbook_runs)
    if resolved and not dossier.runbook_runs:
        lucky.append("The alerts cleared without any automated mitigation.")
    if verified and confidence is not None and confidence < UNSURE:
        lucky.append(f"Mitigation worked although triage confidence was only {number(confidence)}.")
    return Lessons(tuple(well), tuple(wrong), tuple(lucky))


def triages(dossier: IncidentDossier) -> list[tuple[datetime, str]]:
    """Each triage recorded on the timeline, oldest first: when, and the kind of its top
    hypothesis (`unknown` when it had none)."""
    found = []
    for event in dossier.timeline:
        if event.kind is EventKind.TRIAGED and "hypotheses" in event.data:
            ranked = [h for h in event.data["hypotheses"] or [] if isinstance(h, Mapping)]
            kind = str(ranked[0].get("kind") or "unknown") if ranked else "unknown"
            found.append((as_utc(event.at), kind))
    return sorted(found)


def _triage_lessons(dossier: IncidentDossier, top: Mapping[str, Any] | None) -> list[str]:
    """What went wrong with triage: a first triage, or every one, that named no cause."""
    named_now = top is not None and str(top.get("kind", "unknown")) != "unknown"
    recorded = triages(dossier)
    if not recorded or recorded[0][1] != "unknown":
        return [] if named_now else ["Triage could not name a likely cause."]
    first_at = clock(recorded[0][0])
    named = next(((at, kind) for at, kind in recorded if kind != "unknown"), None)
    if named is None or not named_now:
        return [f"Triage at {first_at} could not name a likely cause, nor could a later one."]
    after = human_duration((named[0] - recorded[0][0]).total_seconds())
    return [
        f"The first triage at {first_at} could not name a likely cause; one did at "
        f"{clock(named[0])}, {after} later ({kind_label(named[1])})."
    ]


def _run_lessons(
    run: Mapping[str, Any], resolved: bool, well: list[str], wrong: list[str], lucky: list[str]
) -> None:
    """One run's lessons: verified and how fast, slow or lapsed approval, an inconclusive
    verification, a revert, a failure; and the luck of alerts that cleared anyway."""
    name, status = run.get("runbook", "?"), str(run.get("status", "unknown")).lower()
    ref = f"{run['ref']} " if run.get("ref") else ""
    times = step_times(run)
    took = f" in {human_duration((times[-1] - times[0]).total_seconds())}" if times else ""
    approval = run.get("approval") if isinstance(run.get("approval"), Mapping) else None
    waited_s = _seconds(approval.get("waited_s")) if approval else None
    decision = str(approval.get("decision") or "") if approval else ""
    by = str(approval.get("by") or "") if approval else ""
    human = by not in ("", TRIAGE_ACTOR)
    if decision == "approved" and human and waited_s is not None:
        if waited_s > SLOW_APPROVAL_S:
            wrong.append(f"{ref}{name} waited {human_duration(waited_s)} for approval (by {by}).")
        else:
            well.append(f"{ref}{name} was approved by {by} within {human_duration(waited_s)}.")
    if decision == "timed_out" and waited_s is not None:
        wrong.append(
            f"{ref}{name} timed out after {human_duration(waited_s)} awaiting approval; "
            "it never acted."
        )
        if resolved:
            lucky.append(f"The alerts cleared although {ref}{name} never got its approval.")
    verification = run.get("verification")
    outcome = str(verification.get("status", "")) if isinstance(verification, Mapping) else ""
    if run.get("verified") is True:
        well.append(f"Automated {name} {status} and was verified{took}.")
    elif outcome == "inconclusive":
        wrong.append(
            f"Verification of {ref}{name} was inconclusive (no data): recovery was never confirmed."
        )
        if resolved:
            lucky.append(f"The alerts cleared although {ref}{name} could not verify recovery.")
    elif status == "reverted":
        reason = str(run.get("reason") or "")
        why = f" ({reason})" if reason and reason != "revert steps done" else ""
        wrong.append(f"{ref}{name} was reverted{took}{why}: it did not mitigate.")
    elif status in _BAD_RUN or run.get("verified") is False:
        wrong.append(f"Runbook {name} ended {status} without a verified recovery.")
    if status == "awaiting_approval" and resolved:
        lucky.append(f"The alerts cleared while {ref}{name} still awaited approval.")


def action_items(dossier: IncidentDossier, summary: Summary) -> tuple[ActionItem, ...]:
    """Follow-ups from what went wrong, from the likely cause, and from the summary's next steps."""
    incident = dossier.incident
    items: list[ActionItem] = []
    tta_s = incident.durations_s()["tta_s"]
    if tta_s is not None and tta_s > QUICK_ACK_S:
        items.append(
            ActionItem(
                f"Review paging and escalation: acknowledgement took {human_duration(tta_s)}.",
                "process",
                "P2",
                "lessons",
            )
        )
    for run in dossier.runbook_runs:
        status = str(run.get("status", "")).lower()
        name = run.get("runbook", "?")
        approval = run.get("approval") if isinstance(run.get("approval"), Mapping) else None
        waited_s = _seconds(approval.get("waited_s")) if approval else None
        if waited_s is not None and waited_s > SLOW_APPROVAL_S:
            items.append(
                ActionItem(
                    f"Review who approves {name} and how they are reached: approval took "
                    f"{human_duration(waited_s)}.",
                    "process",
                    "P2",
                    "lessons",
                )
            )
        verification = run.get("verification")
        if isinstance(verification, Mapping) and verification.get("status") == "inconclusive":
            items.append(
                ActionItem(
                    f"Make the verification query of {name} return data: it was inconclusive.",
                    "mitigate",
                    "P1",
                    "runbook",
                )
            )
        elif status in _BAD_RUN or run.get("verified") is False:
            failed = [
                str(s.get("action", "?"))
                for s in run_entries(run)
                if str(s.get("status", "")).lower() in _BAD_RUN | {"failed"}
            ]
            where = f" (step {', '.join(failed)})" if failed else ""
            ended = status or "unverified"
            items.append(
                ActionItem(
                    f"Fix runbook {name}: it ended {ended}{where}.",
                    "mitigate",
                    "P1",
                    "runbook",
                )
            )
    delay_s = detection_delay_s(dossier)
    onset = earliest_onset(dossier)
    if delay_s is not None and onset is not None and delay_s > SLOW_DETECTION_S:
        items.append(
            ActionItem(
                f"Alert on {onset[1]} directly: it moved {human_duration(delay_s)} "
                "before any alert fired.",
                "detect",
                "P2",
                "lessons",
            )
        )
    if incident.reopened_count:
        items.append(
            ActionItem(
                f"Find why {incident.ref} reopened {incident.reopened_count} time(s).",
                "investigate",
                "P1",
                "lessons",
            )
        )
    prevention = _prevention(dossier)
    if prevention:
        items.append(ActionItem(prevention, "prevent", "P2", "triage"))
    for step in summary.next_steps:
        if "/firebreak" not in step:
            items.append(ActionItem(step, "investigate", "P2", "summary"))
    return tuple(sorted(items, key=lambda item: item.priority))


def _prevention(dossier: IncidentDossier) -> str | None:
    top = dossier.hypotheses[0] if dossier.hypotheses else None
    if top is None:
        return None
    kind = str(top.get("kind", "")).lower()
    scope = scope_text(dossier.incident.labels) or "the affected model"
    finding = dossier.findings[0] if dossier.findings else None
    detail = f" ({finding.get('signal')} reached {number(finding.get('peak'))})" if finding else ""
    if "capacity" in kind or "saturation" in kind:
        return f"Revisit autoscaling bounds and headroom for {scope}{detail}."
    if "gpu" in kind or "xid" in kind:
        return f"Cordon nodes automatically on non-application XID errors for {scope}."
    if "deploy" in kind or "drift" in kind or "version" in kind:
        return f"Gate model version rollouts on canary latency and drift for {scope}{detail}."
    if "thermal" in kind:
        return f"Alert on GPU temperature and clock throttling for {scope}."
    if "upstream" in kind:
        return f"Add timeouts and a circuit breaker towards the upstream of {scope}."
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _confidence(hypothesis: Mapping[str, Any] | None) -> float | None:
    if hypothesis is None:
        return None
    value = hypothesis.get("confidence")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
