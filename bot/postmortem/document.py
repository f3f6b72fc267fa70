"""The postmortem's JSON document as pydantic models, and the JSON Schema generated from them.

`Postmortem.to_dict()` (model.py) fills these models, so the document `--format json` writes
is validated by the same models that `json_schema()` describes; `postmortem.schema.json`
beside this module is that schema, committed for editors and consumers, and a test keeps it
equal to `render_json_schema()` (`write_json_schema()` rewrites it after a model changes).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from bot.domain.alerts import Severity
from bot.domain.incidents import IncidentStatus
from bot.domain.memory import Held

SCHEMA_PATH = Path(__file__).with_name("postmortem.schema.json")
SCHEMA_ID = "https://firebreak.dev/schemas/postmortem.schema.json"

ActionKind = Literal["mitigate", "prevent", "detect", "process", "investigate"]
ActionPriority = Literal["P1", "P2", "P3"]
ActionSource = Literal["lessons", "runbook", "triage", "summary"]
StepPhase = Literal["step", "revert", "verify"]
SchemaVersion = Literal["1"]
SCHEMA_VERSION: SchemaVersion = "1"


def iso(value: datetime) -> str:
    """A time as ISO 8601 to the second, offset included (`2024-05-01T12:03:27+00:00`)."""
    return value.isoformat(timespec="seconds")


Timestamp = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
IncidentRef = Annotated[str, Field(pattern=r"^INC-[0-9]+$")]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0)]


class _Part(BaseModel):
    """A closed part of the document; it also reads an object's attributes of the same names
    (the dataclasses of model.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, from_attributes=True)


class LLMUsage(_Part):
    """What every AI summary of this incident used, priced with FIREBREAK_LLM_PRICES."""

    summaries: Count
    tokens: Count
    cost_usd: NonNegative = Field(description="US dollars.")
    cost_known: bool = Field(
        description="False when a summary came from a model with no configured price: "
        "cost_usd then counts only the priced ones."
    )


class SummarySource(_Part):
    """Who wrote the summary text, and what the incident's AI summaries cost."""

    model: str = Field(description="The LLM that wrote the summary, or firebreak-offline.")
    ai_generated: bool
    provenance: str
    dropped_sentences: Count = Field(
        description="Model sentences removed because their figures were not in the evidence."
    )
    llm_usage: LLMUsage


class Impact(_Part):
    """How long and how wide; every duration derived from the incident's transitions."""

    started_at: Timestamp
    ended_at: Timestamp | None = Field(description="Resolution time; null while open.")
    duration_s: NonNegative
    time_to_acknowledge_s: float | None = Field(description="TTA: triggered to acknowledged.")
    time_to_mitigate_s: float | None = Field(description="TTM: triggered to mitigated.")
    time_to_resolve_s: float | None = Field(description="TTR: triggered to resolved.")
    alerts_total: Count
    alerts_firing: Count
    scope: dict[str, str]
    description: str


class RootCause(_Part):
    """A triage hypothesis kept as a root cause, with its evidence."""

    kind: str = Field(
        description="Triage hypothesis kind, e.g. capacity_saturation, gpu_fault, bad_deploy, "
        "unknown."
    )
    confidence: Annotated[float, Field(ge=0, le=1)] | None
    explanation: str
    evidence: list[str]


class Step(_Part):
    """One step of a run as it really ran, with the start and end the run recorded."""

    phase: StepPhase
    action: str
    status: str = Field(
        description="pending, running, done, failed, or a verification's successful / failed "
        "/ inconclusive."
    )
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: NonNegative | None


class RunbookRun(_Part):
    """A runbook run: how it ended, how long its approval waited, and its steps."""

    run: str
    runbook: str
    target: str
    status: str
    verified: bool | None
    approval_wait_s: NonNegative | None = Field(
        description="From approval asked to approved, denied or timed out; null when none was "
        "asked or it still waits."
    )
    steps: list[Step]


class SimilarOutcome(_Part):
    """What became of an earlier incident."""

    runbook: str | None = Field(description="The runbook that acted on it, if any.")
    verified: bool | None
    time_to_mitigate_s: float | None
    held: Held = Field(description="Whether its scope stayed quiet for 24 h after mitigation.")
    text: str


class SimilarIncident(_Part):
    """An earlier incident that looked like this one: how alike, why, and its outcome."""

    incident: IncidentRef
    title: str
    triggered_at: Timestamp
    score: float = Field(
        ge=0, le=1, description="Similarity (scope, cause, moved signals) times a recency weight."
    )
    reasons: list[str]
    outcome: SimilarOutcome


class ActionItem(_Part):
    """A follow-up; P1 before P2."""

    description: str
    kind: ActionKind
    priority: ActionPriority
    source: ActionSource


class Lessons(_Part):
    """Lessons learned, each a short sentence with its numbers."""

    went_well: list[str]
    went_wrong: list[str]
    got_lucky: list[str]


class TimelineRow(_Part):
    """One timeline row; kind `elided` rows stand for collapsed repeated events."""

    at: Timestamp
    kind: str
    actor: str
    message: str


class Alert(_Part):
    """An alert of the incident as last seen, with its summary and description annotations."""

    name: str
    status: str
    started_at: Timestamp | None
    text: str


class Chart(_Part):
    """A chart file written by triage."""

    title: str
    path: str


class Query(_Part):
    """A finding's PromQL and its numbers."""

    signal: str
    promql: str
    link: str | None = Field(
        description="Prometheus graph URL when a Prometheus URL is configured."
    )
    baseline_median: float | None
    peak: float | None
    z: float | None


class Supporting(_Part):
    """Supporting information: the alerts (earliest first), charts and queries."""

    alerts: list[Alert]
    charts: list[Chart]
    queries: list[Query]


class PostmortemDocument(_Part):
    """A postmortem in the Google SRE shape, as written by `firebreak postmortem ID --format
    json` and GET /api/v1/incidents/{id}/postmortem?format=json. Durations are seconds derived
    from the incident's lifecycle timestamps; times are ISO-8601 UTC. All text has been
    redacted of secrets."""

    model_config = ConfigDict(title="Firebreak postmortem")

    schema_version: SchemaVersion = Field(description="Bumped on any incompatible change.")
    incident: IncidentRef
    title: str
    status: IncidentStatus
    severity: Severity
    generated_at: Timestamp
    summary: str = Field(description="What happened and the current state.")
    summary_source: SummarySource
    impact: Impact
    root_causes: list[RootCause] = Field(min_length=1)
    trigger: str
    detection: str
    resolution: str
    runbook_runs: list[RunbookRun] = Field(
        description="Each runbook run in the order it was made, with every step's start and "
        "end as the run recorded them (a wait step ends when its wait does, a verification "
        "when its analysis concludes)."
    )
    similar_incidents: list[SimilarIncident] = Field(
        description="Earlier incidents that looked like this one (incident memory), best "
        "first: how alike and why, and what became of each."
    )
    action_items: list[ActionItem]
    lessons: Lessons
    timeline: list[TimelineRow] = Field(
        description="In time order; kind `elided` rows stand for collapsed repeated events."
    )
    supporting: Supporting


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that `render(pm, "json")` output validates against."""
    schema = PostmortemDocument.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """`json_schema()` as the text of the committed `postmortem.schema.json`."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the JSON Schema file the repository ships."""
    path.write_text(render_json_schema(), encoding="utf-8")
    return path
