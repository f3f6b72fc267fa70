"""Verification as Argo Rollouts analyses it: measurements every `interval_s`, each
successful, failed or inconclusive (no data is inconclusive, never 0); the analysis fails
when failures exceed `failure_limit`, is inconclusive when inconclusives exceed
`inconclusive_limit`, and succeeds when `count` measurements are in without either.

Conditions are an operator and a number (`"< 2.0"`, `">= 0.99"`); nothing is evaluated.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.runbooks import (
    AnalysisPhase,
    AnalysisState,
    Measurement,
    MeasurementRecord,
)
from bot.domain.signals import Series

_CONDITION = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def parse_condition(text: str) -> tuple[str, float]:
    """Split `"< 2.0"` into ("<", 2.0); raises ValueError on anything else."""
    found = _CONDITION.match(text)
    if found is None:
        raise ValueError(
            f"condition {text!r} is not an operator (<, <=, >, >=, ==, !=) and a number"
        )
    return found[1], float(found[2])


class VerifySpec(BaseModel):
    """A PromQL query returning one series, and when its value counts as recovered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1)
    success_condition: str
    interval_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    count: int = Field(default=5, ge=1, le=100)
    failure_limit: int = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=1, ge=0)
    initial_delay_s: float = Field(default=0.0, ge=0.0, le=3600.0)

    @field_validator("success_condition")
    @classmethod
    def _condition_parses(cls, value: str) -> str:
        parse_condition(value)
        return value

    def holds(self, value: float) -> bool:
        op, threshold = parse_condition(self.success_condition)
        return _OPERATORS[op](value, threshold)


def classify(spec: VerifySpec, result: list[Series]) -> tuple[Measurement, float | None, str]:
    """Judge one query result: no series / NaN / several series are inconclusive."""
    if not result:
        return Measurement.INCONCLUSIVE, None, "no data"
    if len(result) > 1:
        return Measurement.INCONCLUSIVE, None, f"{len(result)} series; expected one"
    points = result[0].points
    if not points:
        return Measurement.INCONCLUSIVE, None, "no samples"
    value = points[-1][1]
    if math.isnan(value):
        return Measurement.INCONCLUSIVE, None, "NaN"
    if spec.holds(value):
        return Measurement.SUCCESSFUL, value, f"{value:g} {spec.success_condition}"
    return Measurement.FAILED, value, f"{value:g} not {spec.success_condition}"


def record(
    spec: VerifySpec,
    state: AnalysisState,
    at: datetime,
    outcome: Measurement,
    value: float | None,
    note: str,
) -> AnalysisState:
    """Add one measurement and recompute the phase; a concluded analysis is left unchanged."""
    if state.phase is not AnalysisPhase.RUNNING:
        return state
    measurements = [
        *state.measurements,
        MeasurementRecord(at=at, outcome=outcome, value=value, note=note),
    ]
    updated = state.model_copy(update={"measurements": measurements})
    return updated.model_copy(update={"phase": phase_of(spec, updated)})


def phase_of(spec: VerifySpec, state: AnalysisState) -> AnalysisPhase:
    """Argo's rule: failed past failure_limit, inconclusive past inconclusive_limit."""
    if state.count(Measurement.FAILED) > spec.failure_limit:
        return AnalysisPhase.FAILED
    if state.count(Measurement.INCONCLUSIVE) > spec.inconclusive_limit:
        return AnalysisPhase.INCONCLUSIVE
    if len(state.measurements) >= spec.count:
        return AnalysisPhase.SUCCESSFUL
    return AnalysisPhase.RUNNING


def next_measurement_at_s(spec: VerifySpec, state: AnalysisState) -> float:
    """Unix seconds when the next measurement is due."""
    if not state.measurements:
        return state.started_at.timestamp() + spec.initial_delay_s
    return state.measurements[-1].at.timestamp() + spec.interval_s
