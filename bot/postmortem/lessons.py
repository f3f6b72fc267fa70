"""Lessons learned and action items, derived from an incident's data by plain heuristics.

Went well: verified automated runbooks (and how fast), quick acknowledgement, early detection,
a confident triage. Went wrong: slow or missing acknowledgement, failed or unverified runbooks,
late detection, reopenings, long resolution, no named cause. Got lucky: alerts that cleared
without mitigation, mitigation that worked despite an unsure triage. Thresholds are module
constants so a team can see (and argue with) them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.incidents import IncidentStatus
from bot.postmortem.model import ActionItem, Lessons
from bot.summary.dossier import IncidentDossier, step_times
from bot.summary.durations import as_utc, human_duration, parse_time
from bot.summary.offline import kind_label, number, scope_text
from bot.summary.summary import Summary

QUICK_ACK_S = 5 * 60
SLOW_DETECTION_S = 5 * 60
QUICK_DETECTION_S = 2 * 60
LONG_RESOLUTION_S = 60 * 60
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
    for run in dossier.runbook_runs:
        name, status = run.get("runbook", "?"), str(run.get("status", "unknown"))
        times = step_times(run)
        took = f" in {human_duration((times[-1] - times[0]).total_seconds())}" if times else ""
        if run.get("verified") is True:
            well.append(f"Automated {name} {status} and was verified{took}.")
        elif status.lower() in _BAD_RUN or run.get("verified") is False:
            wrong.append(f"Runbook {name} ended {status} without a verified recovery.")
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
    if top is None or str(top.get("kind", "unknown")) == "unknown":
        wrong.append("Triage could not name a likely cause.")
    if incident.reopened_count:
        wrong.append(f"Reopened {incident.reopened_count} time(s) after being resolved.")
    ttr_s = spans["ttr_s"]
    if ttr_s is not None and ttr_s > LONG_RESOLUTION_S:
        wrong.append(f"Took {human_duration(ttr_s)} to resolve.")
    verified = any(r.get("verified") is True for r in dossier.runbook_runs)
    if incident.status is IncidentStatus.RESOLVED and not dossier.runbook_runs:
        lucky.append("The alerts cleared without any automated mitigation.")
    if verified and confidence is not None and confidence < UNSURE:
        lucky.append(f"Mitigation worked although triage confidence was only {number(confidence)}.")
    return Lessons(tuple(well), tuple(wrong), tuple(lucky))


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
        if status in _BAD_RUN or run.get("verified") is False:
            failed = [
                str(s.get("action", "?"))
                for s in run.get("steps") or []
                if isinstance(s, Mapping)
                and str(s.get("status", "")).lower() in _BAD_RUN | {"failed"}
            ]
            where = f" (step {', '.join(failed)})" if failed else ""
            ended = status or "unverified"
            items.append(
                ActionItem(
                    f"Fix runbook {run.get('runbook', '?')}: it ended {ended}{where}.",
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


def _confidence(hypothesis: Mapping[str, Any] | None) -> float | None:
    if hypothesis is None:
        return None
    value = hypothesis.get("confidence")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
