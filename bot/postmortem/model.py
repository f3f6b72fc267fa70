"""The Postmortem: Google SRE's postmortem shape, filled from an incident's data.

Sections: title and status, summary, impact (durations derived from the lifecycle timestamps),
root causes, trigger, detection, resolution, runbook runs (each step's real start and end),
similar incidents (incident memory), action items,
lessons learned (went well / went wrong / got lucky), timeline, supporting information (charts,
PromQL). `to_dict()` is the JSON document: it fills document.py's pydantic models, from which
`postmortem.schema.json` beside this module is generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.postmortem import document as doc
from bot.postmortem.document import (
    SCHEMA_VERSION,
    ActionKind,
    ActionPriority,
    ActionSource,
    StepPhase,
)
from bot.summary.durations import human_duration
from bot.summary.summary import LLMUsage

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


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
    kind: ActionKind
    priority: ActionPriority
    source: ActionSource


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

    def document(self) -> doc.SimilarIncident:
        """This match in the JSON document, its outcome nested."""
        return doc.SimilarIncident(
            incident=self.incident_ref,
            title=self.title,
            triggered_at=self.triggered_at,
            score=self.score,
            reasons=self.reasons,
            outcome=doc.SimilarOutcome(**_same_named(self, doc.SimilarOutcome), text=self.outcome),
        )


@dataclass(frozen=True)
class StepRow:
    """One step of a runbook run as it really ran: `phase` is step, revert or verify."""

    phase: StepPhase
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

    def document(self) -> doc.RunbookRun:
        """This run in the JSON document."""
        return doc.RunbookRun(**_same_named(self, doc.RunbookRun), run=self.ref)


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
        """The JSON document, validated by the models that generate postmortem.schema.json."""
        return self.document().model_dump(mode="json")

    def document(self) -> doc.PostmortemDocument:
        """The postmortem as its JSON document's models: fields and parts of the same name are
        read as they are, the rest are named here."""
        return doc.PostmortemDocument(
            **_same_named(self, doc.PostmortemDocument),
            schema_version=SCHEMA_VERSION,
            incident=self.incident_ref,
            runbook_runs=[run.document() for run in self.runs],
            similar_incidents=[match.document() for match in self.similar],
            supporting=doc.Supporting(alerts=self.alerts, charts=self.charts, queries=self.queries),
        )


def _same_named(source: DataclassInstance, model: type[BaseModel]) -> dict[str, Any]:
    """The fields of `source` that `model` has a field of the same name for."""
    return {f.name: getattr(source, f.name) for f in fields(source) if f.name in model.model_fields}
