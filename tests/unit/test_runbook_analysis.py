"""Verification as Argo Rollouts analyses it: limits, inconclusive no-data, safe conditions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.domain.runbooks import AnalysisPhase, AnalysisState, Measurement
from bot.domain.signals import Series
from bot.runbook.analysis import VerifySpec, classify, next_measurement_at_s, parse_condition
from bot.runbook.analysis import record as record_measurement

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run(spec: VerifySpec, outcomes: list[Measurement]) -> AnalysisState:
    state = AnalysisState(started_at=START)
    for i, outcome in enumerate(outcomes):
        state = record_measurement(spec, state, START + timedelta(seconds=i), outcome, None, "")
    return state


S, F, INC = Measurement.SUCCESSFUL, Measurement.FAILED, Measurement.INCONCLUSIVE


@pytest.mark.parametrize(
    ("outcomes", "phase"),
    [
        ([S, S, S], AnalysisPhase.SUCCESSFUL),
        ([S, F, S], AnalysisPhase.SUCCESSFUL),
        ([F, F], AnalysisPhase.FAILED),
        ([S, INC, INC], AnalysisPhase.INCONCLUSIVE),
        ([S, INC], AnalysisPhase.RUNNING),
        ([S, F, INC], AnalysisPhase.SUCCESSFUL),
    ],
)
def test_phase_follows_limits(outcomes: list[Measurement], phase: AnalysisPhase) -> None:
    """Failed past failure_limit, inconclusive past inconclusive_limit, else successful at count."""
    spec = VerifySpec(query="q", success_condition="< 1", count=3, failure_limit=1)
    assert run(spec, outcomes).phase is phase


def test_concluded_analysis_ignores_more_measurements() -> None:
    """Once failed, later measurements do not change the verdict."""
    spec = VerifySpec(query="q", success_condition="< 1", count=3, failure_limit=0)
    state = run(spec, [F])
    assert record_measurement(spec, state, START, S, 0.1, "").measurements == state.measurements


def test_no_data_nan_and_ambiguous_series_are_inconclusive() -> None:
    """An empty result, NaN, or several series never count as a value, let alone as 0."""
    spec = VerifySpec(query="q", success_condition="< 2.0")
    assert classify(spec, [])[0] is INC
    assert classify(spec, [Series({}, [(0.0, math.nan)])])[0] is INC
    two = [Series({"a": "1"}, [(0.0, 1.0)]), Series({"a": "2"}, [(0.0, 1.0)])]
    assert classify(spec, two)[0] is INC
    assert classify(spec, [Series({}, [(0.0, 1.0), (1.0, 2.5)])]) == (F, 2.5, "2.5 not < 2.0")
    assert classify(spec, [Series({}, [(0.0, 1.5)])])[:2] == (S, 1.5)


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [("< 2.0", 1.9, True), ("<2", 2.0, False), (">= 0.99", 0.99, True), ("!= 0", 0.0, False)],
)
def test_conditions_are_operator_and_number(condition: str, value: float, holds: bool) -> None:
    """Conditions compare the value with a number; nothing is evaluated as code."""
    assert VerifySpec(query="q", success_condition=condition).holds(value) is holds


@pytest.mark.parametrize("bad", ["result[0] < 0.8", "< __import__('os')", "2.0", "<> 1"])
def test_anything_else_is_refused(bad: str) -> None:
    """An expression that is not an operator and a number fails validation."""
    with pytest.raises(ValueError, match="condition"):
        parse_condition(bad)
    with pytest.raises(ValidationError):
        VerifySpec(query="q", success_condition=bad)


def test_measurements_are_spaced_by_interval_after_initial_delay() -> None:
    """The first measurement waits initial_delay_s, later ones interval_s after the last."""
    spec = VerifySpec(query="q", success_condition="< 1", interval_s=30, initial_delay_s=10)
    state = AnalysisState(started_at=START)
    assert next_measurement_at_s(spec, state) == START.timestamp() + 10
    state = record_measurement(spec, state, START + timedelta(seconds=12), S, 0.5, "")
    assert next_measurement_at_s(spec, state) == START.timestamp() + 42
