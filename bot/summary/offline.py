"""OfflineSummariser: a deterministic summary from the timeline, triage and runbook runs.

It answers when no LLM is configured and whenever the LLM fails. It reads no clock and no
network: the same dossier always yields the same Summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.incidents import IncidentStatus
from bot.summary.dossier import (
    IncidentDossier,
    alert_name,
    run_entries,
    step_duration_s,
    step_times,
)
from bot.summary.durations import as_utc, clock, human_duration, parse_time, stamp
from bot.summary.summary import OFFLINE_MODEL, Summary, SuspectedCause

_SCOPE_KEYS = ("model", "model_name", "namespace", "service", "deployment", "cluster", "pod")
_AWAITING = {"awaiting_approval", "pending_approval", "awaiting", "pending"}
_ACRONYMS = {"gpu", "xid", "oom", "kv", "llm", "api", "dns"}
_FAILED = {"failed", "reverted", "aborted", "error", "timed_out"}


class OfflineSummariser:
    """Summarises an incident without a model; `fallback_reason` says why when it stands in."""

    model = OFFLINE_MODEL

    def summarise(self, dossier: IncidentDossier, fallback_reason: str | None = None) -> Summary:
        """A complete Summary of the (redacted) dossier."""
        dossier = dossier.redacted(timeline=False)  # only the events' count is read
        return Summary(
            what_happened=_what_happened(dossier),
            impact=_impact(dossier),
            suspected_cause=_cause(dossier),
            actions_taken=_actions(dossier),
            current_state=_state(dossier),
            next_steps=_next_steps(dossier),
            model=OFFLINE_MODEL,
            ai_generated=False,
            fallback_reason=fallback_reason,
        )


def _what_happened(dossier: IncidentDossier) -> str:
    incident = dossier.incident
    text = (
        f"{incident.ref} “{incident.title}” ({incident.severity}) triggered at "
        f"{stamp(incident.triggered_at)}"
    )
    names = Counter(alert_name(a) for a in dossier.alerts)
    if names:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(names.items())[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        text += f" from {len(dossier.alerts)} alert(s): {listed}{more}"
    scope = scope_text(incident.labels)
    if scope:
        text += f", on {scope}"
    text += "."
    if incident.reopened_count:
        text += f" It was reopened {incident.reopened_count} time(s)."
    if dossier.timeline:
        text += f" The timeline holds {len(dossier.timeline)} event(s)."
    return text


def _impact(dossier: IncidentDossier) -> str:
    incident = dossier.incident
    start = as_utc(incident.triggered_at)
    if incident.resolved_at is not None:
        span_s = (as_utc(incident.resolved_at) - start).total_seconds()
        parts = [
            f"Lasted {human_duration(span_s)} ({clock(start)} to {clock(incident.resolved_at)})."
        ]
    else:
        span_s = (dossier.observed_until - start).total_seconds()
        parts = [f"Open for {human_duration(span_s)} so far (since {clock(start)})."]
    if dossier.alerts:
        parts.append(f"{len(dossier.firing_alerts)} of {len(dossier.alerts)} alert(s) firing.")
    findings = dossier.findings
    for finding in findings[:2]:
        parts.append(finding_sentence(finding))
    if dossier.triage is not None and not findings:
        parts.append("Triage found no anomalous signal.")
    return " ".join(parts)


def finding_sentence(finding: Mapping[str, Any]) -> str:
    """`{signal} peaked at {peak} against a baseline median of {m} (z = {z}) from {onset}.`"""
    text = f"{finding.get('signal', 'a signal')} peaked at {number(finding.get('peak'))}"
    if finding.get("baseline_median") is not None:
        text += f" against a baseline median of {number(finding.get('baseline_median'))}"
    if finding.get("z") is not None:
        text += f" (z = {number(finding.get('z'))})"
    onset = parse_time(finding.get("onset"))
    if onset is not None:
        text += f" from {clock(onset)}"
    return text + "."


def _cause(dossier: IncidentDossier) -> SuspectedCause:
    hypotheses = dossier.hypotheses
    if not hypotheses:
        reason = "no triage report yet" if dossier.triage is None else "triage found no cause"
        return SuspectedCause(text=f"Unknown: {reason}.", kind="unknown", confidence=None)
    top = hypotheses[0]
    kind = str(top.get("kind", "unknown"))
    confidence = top.get("confidence")
    conf = float(confidence) if isinstance(confidence, int | float) else None
    text = kind_label(kind)
    explanation = str(top.get("explanation", "")).strip()
    if explanation:
        text += f": {explanation.rstrip('.')}."
    else:
        text += "."
    evidence = [str(e) for e in top.get("evidence") or []][:3]
    if evidence:
        text += " Evidence: " + "; ".join(evidence) + "."
    if len(hypotheses) > 1:
        runner = hypotheses[1]
        text += (
            f" Next most likely: {kind_label(str(runner.get('kind', 'unknown')))}"
            f" ({number(runner.get('confidence'))})."
        )
    return SuspectedCause(text=text, kind=kind, confidence=conf)


def _actions(dossier: IncidentDossier) -> tuple[str, ...]:
    """Transitions and runbook runs, in time order."""
    incident = dossier.incident
    start = as_utc(incident.triggered_at)
    timed: list[tuple[datetime, str]] = []
    for label, at, by in (
        ("Acknowledged", incident.acknowledged_at, incident.acknowledged_by),
        ("Mitigated", incident.mitigated_at, None),
        ("Resolved", incident.resolved_at, incident.resolved_by),
    ):
        if at is not None:
            who = f" by {by}" if by else ""
            after = human_duration((as_utc(at) - start).total_seconds())
            timed.append((as_utc(at), f"{label}{who} at {clock(at)}, {after} after trigger."))
    for run in dossier.runbook_runs:
        times = step_times(run)
        timed.append((times[0] if times else dossier.observed_until, run_sentence(run)))
    return tuple(text for _, text in sorted(timed, key=lambda item: item[0]))


def run_sentence(run: Mapping[str, Any]) -> str:
    """`Runbook scale-out: succeeded, verified; steps scale (done, 3 s), wait (done, 60 s);
    verification successful in 2 min; from 12:18:00 UTC to 12:21:03 UTC (3 min).`"""
    steps = [s for s in run.get("steps") or [] if isinstance(s, Mapping)]
    verified = run.get("verified")
    check = ", verified" if verified is True else ", NOT verified" if verified is False else ""
    text = f"Runbook {run.get('runbook', '?')}: {run.get('status', 'unknown')}{check}"
    approval = run.get("approval")
    if isinstance(approval, Mapping) and approval.get("waited_s") is not None:
        decision = str(approval.get("decision") or "decided").replace("_", " ")
        by = f" by {approval['by']}" if approval.get("by") else ""
        text += f"; {decision}{by} after {human_duration(float(approval['waited_s']))}"
    if steps:
        listed = ", ".join(_step_text(s) for s in steps[:6])
        more = f" and {len(steps) - 6} more" if len(steps) > 6 else ""
        text += f"; steps {listed}{more}"
    verification = run.get("verification")
    if isinstance(verification, Mapping):
        took = step_duration_s(verification)
        outcome = str(verification.get("status", "running"))
        text += f"; verification {outcome}" + (
            f" in {human_duration(took)}" if took is not None else ""
        )
    times = step_times(run)
    if len(times) >= 2:
        span = human_duration((times[-1] - times[0]).total_seconds())
        text += f" from {clock(times[0])} to {clock(times[-1])} ({span})"
    elif times:
        text += f" at {clock(times[0])}"
    return text + "."


def _step_text(step: Mapping[str, Any]) -> str:
    """`scale (done, 3 s)`: a step's action, how it ended and how long it took."""
    took = step_duration_s(step)
    duration = f", {human_duration(took)}" if took is not None else ""
    return f"{step.get('action', '?')} ({step.get('status', '?')}{duration})"


def _state(dossier: IncidentDossier) -> str:
    incident = dossier.incident
    firing = len(dossier.firing_alerts)
    firing_text = f"{firing} alert(s) still firing." if dossier.alerts else ""
    if incident.status is IncidentStatus.RESOLVED and incident.resolved_at is not None:
        who = f" by {incident.resolved_by}" if incident.resolved_by else ""
        text = f"Resolved at {clock(incident.resolved_at)}{who}."
    elif incident.status is IncidentStatus.MITIGATED and incident.mitigated_at is not None:
        text = f"Mitigated since {clock(incident.mitigated_at)}; {firing_text}"
    elif incident.status is IncidentStatus.ACKNOWLEDGED:
        who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        text = f"Acknowledged{who}, not yet mitigated; {firing_text}"
    else:
        waiting = (dossier.observed_until - as_utc(incident.triggered_at)).total_seconds()
        text = f"Triggered and unacknowledged for {human_duration(waiting)}; {firing_text}"
    if dossier.runbook_runs:
        last = dossier.runbook_runs[-1]
        text += f" Last runbook: {last.get('runbook', '?')} {last.get('status', 'unknown')}."
    return text.strip().rstrip(";")


def _next_steps(dossier: IncidentDossier) -> tuple[str, ...]:
    incident = dossier.incident
    ref = incident.ref
    steps: list[str] = []
    if incident.status is IncidentStatus.TRIGGERED:
        steps.append(f"Acknowledge it: /firebreak ack {ref}.")
    for run in dossier.runbook_runs:
        status = str(run.get("status", "")).lower()
        name = run.get("runbook", "?")
        if status in _AWAITING:
            steps.append(f"Approve or deny runbook {name}: /firebreak approve|deny {ref}.")
        elif status in _FAILED or run.get("verified") is False:
            failed = [
                str(s.get("action", "?"))
                for s in run_entries(run)
                if str(s.get("status", "")).lower() in _FAILED
            ]
            where = f" (step {', '.join(failed)})" if failed else ""
            steps.append(f"Find out why runbook {name} ended {status or 'unverified'}{where}.")
    if incident.status is IncidentStatus.RESOLVED:
        steps.append(f"Write the postmortem: /firebreak postmortem {ref}.")
        if incident.reopened_count:
            steps.append("Find out why it reopened before closing the postmortem.")
        return tuple(steps)
    if incident.status is IncidentStatus.MITIGATED:
        if dossier.alerts and not dossier.firing_alerts:
            steps.append(f"All alerts have cleared; resolve it: /firebreak resolve {ref}.")
        else:
            steps.append(
                f"Watch for recurrence; resolve once alerts clear: /firebreak resolve {ref}."
            )
    hypotheses = dossier.hypotheses
    kind = str(hypotheses[0].get("kind", "unknown")) if hypotheses else "unknown"
    if incident.status is not IncidentStatus.MITIGATED:
        steps.append(kind_advice(kind, dossier.triage is not None))
    return tuple(steps)


def kind_label(kind: str) -> str:
    """`capacity_saturation` → `Capacity saturation`, `gpu_fault` → `GPU fault`."""
    words = kind.replace("_", " ").replace("-", " ").split()
    words = [w.upper() if w.lower() in _ACRONYMS else w.lower() for w in words] or ["unknown"]
    return words[0][:1].upper() + " ".join(words)[1:]


def kind_advice(kind: str, triaged: bool) -> str:
    """What a responder usually checks first for a hypothesis kind."""
    lowered = kind.lower()
    if not triaged:
        return "Triage has not reported yet; check the model's latency, queue and GPU dashboards."
    if "capacity" in lowered or "saturation" in lowered:
        return "Add capacity: the scale-out runbook may run unattended within its bounds."
    if "gpu" in lowered or "xid" in lowered:
        return "Cordon the affected GPU node and check DCGM XID errors before rescheduling."
    if "deploy" in lowered or "drift" in lowered or "version" in lowered:
        return "Compare with the previous model version; the rollback runbook needs approval."
    if "thermal" in lowered:
        return "Check GPU temperatures, clocks and cooling on the affected nodes."
    if "upstream" in lowered:
        return "Check the upstream dependency's health and error rate before acting here."
    return "Inspect the findings' charts and PromQL for the first signal that moved."


def scope_text(labels: Mapping[str, str]) -> str:
    """The labels that say where an incident is (`model=…, namespace=…`)."""
    picked = [f"{k}={labels[k]}" for k in _SCOPE_KEYS if labels.get(k)]
    return ", ".join(picked[:4])


def number(value: object) -> str:
    """A triage number as people read it: ints as-is, floats to 3 significant figures."""
    if isinstance(value, bool) or value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)
