"""The runbook file format as pydantic models, and its JSON Schema export.

A runbook says when it applies (`match`), what it acts on (`target`, templated from the
incident's labels), what it does (`steps`, each an action with params), who must approve,
which guards hold, how recovery is verified, and how to revert.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from bot.domain.label_matchers import LabelMatcher, parse_matcher
from bot.domain.runbooks import OnFailure
from bot.runbook.actions.registry import ACTIONS
from bot.runbook.analysis import VerifySpec
from bot.runbook.template import references

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "runbooks" / "runbook.schema.json"
_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_MATCHER_PATTERN = r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s]*)\s*$'


class Hypothesis(StrEnum):
    """Triage's hypotheses, the ones a runbook may answer."""

    CAPACITY_SATURATION = "capacity_saturation"
    GPU_FAULT = "gpu_fault"
    BAD_DEPLOY = "bad_deploy"
    THERMAL_THROTTLING = "thermal_throttling"
    UPSTREAM_ERRORS = "upstream_errors"
    UNKNOWN = "unknown"


Matcher = Annotated[
    LabelMatcher,
    PlainValidator(parse_matcher),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _MATCHER_PATTERN}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchSpec(_Strict):
    """Applies when every matcher matches the incident's labels, or triage's top hypothesis
    is listed.

    Matching chooses a runbook; it does not let it act alone. A runbook that runs without
    approval and lists hypotheses starts unattended only while triage's top hypothesis is one
    of them, at `min_confidence` or above; otherwise its run waits for a human, saying why.
    """

    matchers: list[Matcher] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    evidence: list[Matcher] = Field(
        default_factory=list,
        description=(
            "Matchers on the facts triage's top hypothesis established (xid, xid_class, "
            "xid_urgency, xid_action, node, gpu, pod); when given, every one must match as "
            "well, so the runbook never applies without that evidence."
        ),
    )
    min_confidence: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description=(
            "The confidence (0..1) triage's top hypothesis needs, when it is one of "
            "`hypotheses`, for a runbook without required approval to start unattended; "
            "below it, or when triage names another cause, the run waits for approval."
        ),
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> MatchSpec:
        if not self.matchers and not self.hypotheses:
            raise ValueError("match needs matchers or hypotheses")
        return self


class ParameterSpec(_Strict):
    default: int | float | str | bool
    description: str = ""


class Step(_Strict):
    action: Annotated[str, WithJsonSchema({"type": "string", "enum": sorted(ACTIONS)})]
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=120.0, ge=1.0, le=3600.0)
    on_failure: OnFailure = OnFailure.ABORT


class Approval(_Strict):
    required: bool = False
    approvers: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=900.0, ge=30.0, le=86400.0)


class Guards(_Strict):
    """Per-target limits. One run per target at a time is always on."""

    cooldown_s: float = Field(default=600.0, ge=0.0, le=86400.0)
    max_runs_per_hour: int = Field(default=3, ge=1, le=60)


class Verify(VerifySpec):
    """The final verification; on failure the run reverts. No data never counts as recovery."""

    on_inconclusive: Literal["hold", "revert"] = "hold"


class Runbook(_Strict):
    name: str = Field(pattern=_NAME_PATTERN)
    description: str = ""
    match: MatchSpec
    target: str = "{{ labels.model_name }}"
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1, max_length=20)
    approval: Approval = Field(default_factory=Approval)
    guards: Guards = Field(default_factory=Guards)
    verify: Verify | None = None
    revert: list[Step] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _references_known(self) -> Runbook:
        for scope, name in references(self.target):
            if scope != "labels":
                raise ValueError(f"target may only use labels, not {{{{ {scope}.{name} }}}}")
        for step in [*self.steps, *self.revert]:
            for scope, name in _params_references(step.params):
                if scope == "params" and name not in self.parameters:
                    raise ValueError(f"step {step.action!r} uses undeclared parameter {name!r}")
        if self.verify is not None:
            for scope, name in references(self.verify.query):
                if scope == "params" and name not in self.parameters:
                    raise ValueError(f"verify.query uses undeclared parameter {name!r}")
        return self

    def defaults(self) -> dict[str, Any]:
        return {name: spec.default for name, spec in self.parameters.items()}


def _params_references(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return references(value)
    if isinstance(value, list):
        return [ref for item in value for ref in _params_references(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _params_references(item)]
    return []


def json_schema() -> dict[str, Any]:
    """The runbook format as JSON Schema (draft 2020-12), for editors and CI."""
    schema = Runbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://firebreak.dev/schemas/runbook.schema.json"
    return schema


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the JSON Schema file the repository ships (`firebreak runbooks schema`)."""
    path.write_text(render_json_schema(), encoding="utf-8")
    return path
