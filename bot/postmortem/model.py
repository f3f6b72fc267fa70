"""The Postmortem: Google SRE's postmortem shape, filled from an incident's data.

Sections: title and status, summary, impact (durations derived from the lifecycle timestamps),
root causes, trigger, detection, resolution, runbook runs (each step's real start and end),
similar incidents (incident memory), action items,
lessons learned (went well / went wrong / got lucky), timeline, supporting information (charts,
PromQL). `to_dict()` is the JSON
form documented by `postmortem.schema.json` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.summary.durations import human_duration
from bot.summary.summary import LLMUsage

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Impact:
    """How long and how wide; every duration computed from the incident's transitions."""

    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    time_to_acknowledge_s: float | None
    time_to_mitigate_s: float | None
    time_to_resolve_s: float | None
    alerts_total: int
    alerts_firing: int
    scope: dict[str, str]
    description: str


@dataclass(frozen=True)
class RootCause:
    kind: str
    confidence: float | None
    explanation: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionItem:
    """A follow-up: `kind` is mitigate, prevent, detect, process or investigate; P1 before P2."""

    description: str
    kind: str
    priority: str
    source: str


@dataclass(frozen=True)
class Lessons:
    went_well: tuple[str, ...] = ()
    went_wrong: tuple[str, ...] = ()
    got_lucky: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineRow:
    """One row of the postmortem timeline; `kind` `elided` rows stand for collapsed repeats."""

    at: datetime
    kind: str
    actor: str
    message: str


@dataclass(frozen=True)
class Chart:
    title: str
    path: str


@dataclass(frozen=True)
class AlertRow:
    """One alert of the incident as it was last seen: name, status, start and its annotations."""

    name: str
    status: str
    started_at: datetime | None
    text: str


@dataclass(frozen=True)
class Query:
    """A finding's PromQL, its numbers, and a Prometheus graph link when a URL was given."""

    signal: str
    promql: str
    link: str | None
    baseline_median: float | None
    peak: float | None
    z: float | None


@dataclass(frozen=True)
class SimilarIncident:
    """An earlier incident that looked like this one: why, and what became of it."""

    incident_ref: str
    title: str
    triggered_at: datetime
    score: float
    reasons: tuple[str, ...]
    runbook: str | None
    verified: bool | None
    time_to_mitigate_s: float | None
    held: str
    outcome: str


@dataclass(frozen=True)
class StepRow:
    """One step of a runbook run as it really ran: `phase` is step, revert or verify."""

    phase: str
    action: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class RunbookRun:
    """A runbook run: how it ended, how long approval took, and its steps with real times."""

    ref: str
    runbook: str
    target: str
    status: str
    verified: bool | None
    approval_wait_s: float | None
    steps: tuple[StepRow, ...]

    @property
    def outcome(self) -> str:
        """`succeeded, verified; approval waited 4 min.`"""
        verified = {True: ", verified", False: ", not verified", None: ""}[self.verified]
        waited = ""
        if self.approval_wait_s is not None:
            waited = f"; approval waited {human_duration(self.approval_wait_s)}"
        return f"{self.status.replace('_', ' ')}{verified}{waited}."


@dataclass(frozen=True)
class SummarySource:
    """Who wrote the summary, and what all the incident's AI summaries used and cost."""

    model: str
    ai_generated: bool
    provenance: str
    dropped_sentences: int
    llm_usage: LLMUsage = field(default_factory=LLMUsage)


@dataclass(frozen=True)
class Postmortem:
    incident_ref: str
    title: str
    status: str
    severity: str
    generated_at: datetime
    summary: str
    summary_source: SummarySource
    impact: Impact
    root_causes: tuple[RootCause, ...]
    trigger: str
    detection: str
    resolution: str
    action_items: tuple[ActionItem, ...]
    lessons: Lessons
    timeline: tuple[TimelineRow, ...]
    charts: tuple[Chart, ...]
    queries: tuple[Query, ...]
    alerts: tuple[AlertRow, ...] = ()
    similar: tuple[SimilarIncident, ...] = ()
    runs: tuple[RunbookRun, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document described by postmortem.schema.json."""
        impact = self.impact
        return {
            "schema_version": SCHEMA_VERSION,
            "incident": self.incident_ref,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "generated_at": _iso(self.generated_at),
            "summary": self.summary,
            "summary_source": {
                "model": self.summary_source.model,
                "ai_generated": self.summary_source.ai_generated,
                "provenance": self.summary_source.provenance,
                "dropped_sentences": self.summary_source.dropped_sentences,
                "llm_usage": {
                    "summaries": self.summary_source.llm_usage.summaries,
                    "tokens": self.summary_source.llm_usage.tokens,
                    "cost_usd": self.summary_source.llm_usage.cost_usd,
                    "cost_known": self.summary_source.llm_usage.cost_known,
                },
            },
            "impact": {
                "started_at": _iso(impact.started_at),
                "ended_at": _iso(impact.ended_at),
                "duration_s": impact.duration_s,
                "time_to_acknowledge_s": impact.time_to_acknowledge_s,
                "time_to_mitigate_s": impact.time_to_mitigate_s,
                "time_to_resolve_s": impact.time_to_resolve_s,
                "alerts_total": impact.alerts_total,
                "alerts_firing": impact.alerts_firing,
                "scope": dict(impact.scope),
                "description": impact.description,
            },
            "root_causes": [
                {
                    "kind": c.kind,
                    "confidence": c.confidence,
                    "explanation": c.explanation,
                    "evidence": list(c.evidence),
                }
                for c in self.root_causes
            ],
            "trigger": self.trigger,
            "detection": self.detection,
            "resolution": self.resolution,
            "runbook_runs": [
                {
                    "run": r.ref,
                    "runbook": r.runbook,
                    "target": r.target,
                    "status": r.status,
                    "verified": r.verified,
                    "approval_wait_s": r.approval_wait_s,
                    "steps": [
                        {
                            "phase": step.phase,
                            "action": step.action,
                            "status": step.status,
                            "started_at": _iso(step.started_at),
                            "finished_at": _iso(step.finished_at),
                            "duration_s": step.duration_s,
                        }
                        for step in r.steps
                    ],
                }
                for r in self.runs
            ],
            "similar_incidents": [
                {
                    "incident": s.incident_ref,
                    "title": s.title,
                    "triggered_at": _iso(s.triggered_at),
                    "score": s.score,
                    "reasons": list(s.reasons),
                    "outcome": {
                        "runbook": s.runbook,
                        "verified": s.verified,
                        "time_to_mitigate_s": s.time_to_mitigate_s,
                        "held": s.held,
                        "text": s.outcome,
                    },
                }
                for s in self.similar
            ],
            "action_items": [
                {
                    "description": a.description,
                    "kind": a.kind,
                    "priority": a.priority,
                    "source": a.source,
                }
                for a in self.action_items
            ],
            "lessons": {
                "went_well": list(self.lessons.went_well),
                "went_wrong": list(self.lessons.went_wrong),
                "got_lucky": list(self.lessons.got_lucky),
            },
            "timeline": [
                {"at": _iso(r.at), "kind": r.kind, "actor": r.actor, "message": r.message}
                for r in self.timeline
            ],
            "supporting": {
                "alerts": [
                    {
                        "name": a.name,
                        "status": a.status,
                        "started_at": _iso(a.started_at),
                        "text": a.text,
                    }
                    for a in self.alerts
                ],
                "charts": [{"title": c.title, "path": c.path} for c in self.charts],
                "queries": [
                    {
                        "signal": q.signal,
                        "promql": q.promql,
                        "link": q.link,
                        "baseline_median": q.baseline_median,
                        "peak": q.peak,
                        "z": q.z,
                    }
                    for q in self.queries
                ],
            },
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")
