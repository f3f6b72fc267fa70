"""Triage's consent to an unattended run: the decision table, its reasons, the stored report
read into ranked hypotheses, and a withheld consent turning a plan into one awaiting approval."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from bot.domain.runbooks import Allowed, Plan
from bot.runbook.consent import (
    Consent,
    RankedHypothesis,
    Verdict,
    hold_for_approval,
    ranked_hypotheses,
    triage_consent,
)
from bot.runbook.planner import describe
from bot.runbook.schema import Runbook

STEPS = [{"action": "annotate", "params": {"text": "hello"}}]


def runbook(
    hypotheses: list[str] | None = None,
    *,
    required: bool = False,
    min_confidence: float | None = None,
    matchers: list[str] | None = None,
) -> Runbook:
    match: dict[str, Any] = {
        "matchers": matchers if matchers is not None else ['alertname="LLMTTFTErrorBudgetBurn"'],
        "hypotheses": hypotheses if hypotheses is not None else ["capacity_saturation"],
    }
    if min_confidence is not None:
        match["min_confidence"] = min_confidence
    return Runbook.model_validate(
        {"name": "rb", "match": match, "steps": STEPS, "approval": {"required": required}}
    )


def ranked(*pairs: tuple[str, float]) -> list[RankedHypothesis]:
    return [RankedHypothesis(kind, confidence) for kind, confidence in pairs]


@pytest.mark.parametrize(
    ("book", "hypotheses", "verdict", "reason"),
    [
        (
            runbook(),
            ranked(("capacity_saturation", 0.91), ("gpu_fault", 0.2)),
            Verdict.AGREED,
            "triage says capacity_saturation 0.91",
        ),
        (
            runbook(),
            ranked(("capacity_saturation", 0.7)),
            Verdict.AGREED,
            "triage says capacity_saturation 0.70",
        ),
        (
            runbook(),
            ranked(("gpu_fault", 0.91), ("capacity_saturation", 0.8)),
            Verdict.WITHHELD,
            "triage says gpu_fault 0.91, not capacity_saturation",
        ),
        (
            runbook(),
            ranked(("unknown", 1.0)),
            Verdict.WITHHELD,
            "triage says unknown 1.00, not capacity_saturation",
        ),
        (
            runbook(),
            ranked(("capacity_saturation", 0.55)),
            Verdict.WITHHELD,
            "triage says capacity_saturation 0.55, below 0.70",
        ),
        (
            runbook(),
            ranked(("capacity_saturation", 0.699)),
            Verdict.WITHHELD,
            "triage says capacity_saturation 0.699, below 0.700",
        ),
        (runbook(), None, Verdict.WITHHELD, "triage has not spoken yet"),
        (runbook(), [], Verdict.WITHHELD, "triage ranked no hypotheses"),
        (
            runbook(["capacity_saturation", "thermal_throttling"]),
            ranked(("gpu_fault", 0.8)),
            Verdict.WITHHELD,
            "triage says gpu_fault 0.80, not capacity_saturation or thermal_throttling",
        ),
        (
            runbook(["capacity_saturation", "thermal_throttling"]),
            ranked(("thermal_throttling", 0.8)),
            Verdict.AGREED,
            "triage says thermal_throttling 0.80",
        ),
        (
            runbook(min_confidence=0.5),
            ranked(("capacity_saturation", 0.55)),
            Verdict.AGREED,
            "triage says capacity_saturation 0.55",
        ),
        (
            runbook(min_confidence=0.95),
            ranked(("capacity_saturation", 0.91)),
            Verdict.WITHHELD,
            "triage says capacity_saturation 0.91, below 0.95",
        ),
        (
            runbook([]),
            ranked(("gpu_fault", 0.99)),
            Verdict.UNCONDITIONAL,
            "runbook lists no hypotheses",
        ),
        (runbook([]), None, Verdict.UNCONDITIONAL, "runbook lists no hypotheses"),
        (
            runbook(required=True),
            ranked(("gpu_fault", 0.99)),
            Verdict.HUMAN,
            "approval required by the runbook",
        ),
        (runbook(required=True), None, Verdict.HUMAN, "approval required by the runbook"),
    ],
)
def test_consent_decision_table(
    book: Runbook, hypotheses: list[RankedHypothesis] | None, verdict: Verdict, reason: str
) -> None:
    """Each row: what triage says about a runbook decides whether it may act alone, and why."""
    consent = triage_consent(book, hypotheses)
    assert consent == Consent(verdict, reason)
    assert consent.unattended is (verdict in (Verdict.AGREED, Verdict.UNCONDITIONAL))
    assert consent.withheld is (verdict is Verdict.WITHHELD)


def test_only_the_top_hypothesis_counts() -> None:
    """A listed hypothesis ranked second does not give consent, however confident."""
    consent = triage_consent(
        runbook(), ranked(("upstream_errors", 0.6), ("capacity_saturation", 0.95))
    )
    assert consent.withheld
    assert consent.reason == "triage says upstream_errors 0.60, not capacity_saturation"


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_min_confidence_is_a_fraction(value: float) -> None:
    """min_confidence outside 0..1 is refused when the runbook loads."""
    with pytest.raises(pydantic.ValidationError):
        runbook(min_confidence=value)


def test_min_confidence_defaults_to_0_7() -> None:
    """A runbook that declares no threshold asks for 0.7."""
    assert runbook().match.min_confidence == 0.7


def test_stored_report_reads_as_ranked_hypotheses() -> None:
    """The stored triage document becomes (kind, confidence) pairs in its order; no report is
    None; entries without a kind are skipped and an unreadable confidence counts as 0."""
    document = {
        "hypotheses": [
            {"kind": "gpu_fault", "confidence": 0.91, "explanation": "XID 79"},
            {"confidence": 0.5},
            {"kind": "unknown", "confidence": "n/a"},
        ]
    }
    assert ranked_hypotheses(document) == ranked(("gpu_fault", 0.91), ("unknown", 0.0))
    assert ranked_hypotheses(None) is None
    assert ranked_hypotheses({"hypotheses": []}) == []


def make_plan(approval_required: bool = False) -> Plan:
    return Plan(
        runbook="rb",
        description="",
        target="llama",
        model="llama",
        parameters={},
        steps=[],
        revert_steps=[],
        approval_required=approval_required,
        approvers=(),
        guard=Allowed(),
    )


def test_withheld_consent_turns_a_plan_into_one_awaiting_approval() -> None:
    """A withheld consent asks for approval with its reason; any other leaves the plan alone."""
    withheld = Consent(Verdict.WITHHELD, "triage says gpu_fault 0.91, not capacity_saturation")
    held = hold_for_approval(make_plan(), withheld)
    assert held.approval_required
    assert held.triage_hold == withheld.reason
    assert "approval required (triage says gpu_fault 0.91" in describe(held)[0]
    plan = make_plan()
    assert hold_for_approval(plan, Consent(Verdict.AGREED, "triage says x 0.9")) is plan
    assert describe(plan)[0].endswith("runs unattended; guards allow")
