"""Triage's consent to an unattended run: whether a runbook that needs no approval may start on
what triage says now, or must wait for a human, and the reason either way.

    runbook requires approval          → a human decides anyway; triage is not asked
    runbook lists no hypotheses        → runs on its matchers alone, as before
    triage has no report yet           → withheld: "triage has not spoken yet"
    top hypothesis not one it lists    → withheld: "triage says gpu_fault 0.91, not ..."
    top hypothesis below its threshold → withheld: "triage says ... 0.55, below 0.70"
    otherwise                          → agreed:   "triage says capacity_saturation 0.91"

Matching picks runbooks by labels *or* hypothesis; this decides whether one picked may act
alone. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.runbooks import Plan
from bot.runbook.schema import Runbook

TRIAGE_ACTOR = "triage"


@dataclass(frozen=True)
class RankedHypothesis:
    """One of triage's hypotheses: its kind and confidence (0..1)."""

    kind: str
    confidence: float


def ranked_hypotheses(triage: dict[str, Any] | None) -> list[RankedHypothesis] | None:
    """Triage's hypotheses, best first, from its stored report; None when it has none yet.
    An entry without a kind is skipped; a missing or unreadable confidence counts as 0."""
    if triage is None:
        return None
    ranked: list[RankedHypothesis] = []
    for entry in triage.get("hypotheses") or []:
        if not isinstance(entry, dict) or not entry.get("kind"):
            continue
        try:
            confidence = float(entry.get("confidence") or 0.0)
        except (TypeError, ValueError):
            confidence = 0.0
        ranked.append(RankedHypothesis(str(entry["kind"]), confidence))
    return ranked


class Verdict(StrEnum):
    HUMAN = "human"
    UNCONDITIONAL = "unconditional"
    AGREED = "agreed"
    WITHHELD = "withheld"


@dataclass(frozen=True)
class Consent:
    """Triage's verdict on one runbook, with the sentence that explains it."""

    verdict: Verdict
    reason: str

    @property
    def unattended(self) -> bool:
        """The runbook may start without a human."""
        return self.verdict in (Verdict.UNCONDITIONAL, Verdict.AGREED)

    @property
    def withheld(self) -> bool:
        """The runbook would run unattended, but triage does not agree with it."""
        return self.verdict is Verdict.WITHHELD


def _scores(confidence: float, threshold: float) -> tuple[str, str]:
    """Both numbers to two places, or three when two would print them equal."""
    for places in (2, 3, 4):
        shown = f"{confidence:.{places}f}", f"{threshold:.{places}f}"
        if shown[0] != shown[1] or confidence == threshold:
            return shown
    return f"{confidence:g}", f"{threshold:g}"


def triage_consent(runbook: Runbook, ranked: Sequence[RankedHypothesis] | None) -> Consent:
    """Whether `runbook` may start unattended given triage's hypotheses, best first (None
    when triage has not reported)."""
    if runbook.approval.required:
        return Consent(Verdict.HUMAN, "approval required by the runbook")
    listed = [h.value for h in runbook.match.hypotheses]
    if not listed:
        return Consent(Verdict.UNCONDITIONAL, "runbook lists no hypotheses")
    if ranked is None:
        return Consent(Verdict.WITHHELD, "triage has not spoken yet")
    if not ranked:
        return Consent(Verdict.WITHHELD, "triage ranked no hypotheses")
    top = ranked[0]
    threshold = runbook.match.min_confidence
    confidence, bar = _scores(top.confidence, threshold)
    says = f"triage says {top.kind} {confidence}"
    if top.kind not in listed:
        return Consent(Verdict.WITHHELD, f"{says}, not {' or '.join(listed)}")
    if top.confidence < threshold:
        return Consent(Verdict.WITHHELD, f"{says}, below {bar}")
    return Consent(Verdict.AGREED, says)


def hold_for_approval(plan: Plan, consent: Consent) -> Plan:
    """The plan as it must be run: awaiting approval, saying why, when triage withholds
    consent; unchanged otherwise."""
    if not consent.withheld:
        return plan
    return dataclasses.replace(plan, approval_required=True, triage_hold=consent.reason)
