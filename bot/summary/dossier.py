"""IncidentDossier: everything a summary or a postmortem is built from, bundled by the caller.

The dossier is plain data: the incident, its timeline, its alerts (as the alert store returns
them), the triage report (`TriageReport.to_dict()`) and the runbook runs. Readers below give
typed access to the loosely-typed parts so the summarisers and postmortem share one reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.incidents import Incident
from bot.domain.redaction import redact, redact_obj
from bot.domain.timeline import TimelineEvent
from bot.summary.durations import as_utc, parse_time


@dataclass(frozen=True)
class IncidentDossier:
    """One incident and its evidence, as of `as_of` (defaults to the last thing that happened).

    - `alerts`: dicts with labels, annotations, status, starts_at, ends_at, fingerprint.
    - `triage`: `TriageReport.to_dict()` — hypotheses, findings, chart_paths — or None.
    - `runbook_runs`: `bot/services/run_views.py` `run_story` dicts: runbook, status, verified,
      approval {asked_at, decided_at, decision, by, waited_s}, verification and steps
      [{action, description, status, started_at, finished_at, duration_s}], revert_steps.
    """

    incident: Incident
    timeline: tuple[TimelineEvent, ...] = ()
    alerts: tuple[Mapping[str, Any], ...] = ()
    triage: Mapping[str, Any] | None = None
    runbook_runs: tuple[Mapping[str, Any], ...] = ()
    as_of: datetime | None = None

    def redacted(self, *, timeline: bool = True) -> IncidentDossier:
        """A copy with every secret in every string replaced by `[REDACTED]`.

        `timeline=False` leaves the events as they are, for callers that read only their
        kinds and times, or that redact the few events they keep (redacting 10,000 messages
        is the slow part).
        """
        incident = dataclasses.replace(
            self.incident,
            title=redact(self.incident.title),
            receiver=redact(self.incident.receiver),
            group_key=redact(self.incident.group_key),
            labels=redact_obj(dict(self.incident.labels)),
            acknowledged_by=_maybe_redact(self.incident.acknowledged_by),
            resolved_by=_maybe_redact(self.incident.resolved_by),
        )
        events = (
            tuple(
                dataclasses.replace(
                    event,
                    message=redact(event.message),
                    data=redact_obj(dict(event.data)),
                    actor=redact(event.actor),
                )
                for event in self.timeline
            )
            if timeline
            else self.timeline
        )
        return IncidentDossier(
            incident=incident,
            timeline=events,
            alerts=tuple(redact_obj(dict(alert)) for alert in self.alerts),
            triage=None if self.triage is None else redact_obj(dict(self.triage)),
            runbook_runs=tuple(redact_obj(dict(run)) for run in self.runbook_runs),
            as_of=self.as_of,
        )

    @property
    def observed_until(self) -> datetime:
        """The dossier's 'now': `as_of`, else resolution, else the latest event or alert time."""
        if self.as_of is not None:
            return as_utc(self.as_of)
        if self.incident.resolved_at is not None:
            return as_utc(self.incident.resolved_at)
        times = [as_utc(e.at) for e in self.timeline]
        times.append(as_utc(self.incident.triggered_at))
        return max(times)

    @property
    def hypotheses(self) -> list[Mapping[str, Any]]:
        """Triage hypotheses, most confident first."""
        raw = (self.triage or {}).get("hypotheses") or []
        items = [h for h in raw if isinstance(h, Mapping)]
        return sorted(items, key=lambda h: -_number(h.get("confidence")))

    @property
    def findings(self) -> list[Mapping[str, Any]]:
        """Triage findings, most anomalous (largest |z|) first."""
        raw = (self.triage or {}).get("findings") or []
        items = [f for f in raw if isinstance(f, Mapping)]
        return sorted(items, key=lambda f: -abs(_number(f.get("z"))))

    @property
    def chart_paths(self) -> list[str]:
        """Chart files the triage produced, in the order it listed them."""
        raw = (self.triage or {}).get("chart_paths") or []
        return [str(p) for p in raw]

    @property
    def firing_alerts(self) -> list[Mapping[str, Any]]:
        return [a for a in self.alerts if str(a.get("status", "")).lower() == "firing"]


def alert_name(alert: Mapping[str, Any]) -> str:
    """An alert dict's `alertname` label, or `unnamed`."""
    labels = alert.get("labels") or {}
    return str(labels.get("alertname", "unnamed")) if isinstance(labels, Mapping) else "unnamed"


def alert_started(alert: Mapping[str, Any]) -> datetime | None:
    return parse_time(alert.get("starts_at") or alert.get("startsAt"))


def run_entries(run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A runbook run's steps, revert steps and final verification, as recorded."""
    entries = [*(run.get("steps") or []), *(run.get("revert_steps") or [])]
    entries.append(run.get("verification"))
    return [e for e in entries if isinstance(e, Mapping)]


def step_times(run: Mapping[str, Any]) -> list[datetime]:
    """Every recorded start and end of a runbook run's steps and verification, in time order
    (a step recorded only with `at`, as older stories were, counts once)."""
    times = [
        parse_time(entry.get(key))
        for entry in run_entries(run)
        for key in ("started_at", "finished_at", "at")
    ]
    return sorted(t for t in times if t is not None)


def step_duration_s(step: Mapping[str, Any]) -> float | None:
    """How long one step (or a verification) took, from its own start and end."""
    started, finished = parse_time(step.get("started_at")), parse_time(step.get("finished_at"))
    if started is None or finished is None:
        return None
    return max(0.0, (finished - started).total_seconds())


def _number(value: object) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def _maybe_redact(value: str | None) -> str | None:
    return None if value is None else redact(value)
