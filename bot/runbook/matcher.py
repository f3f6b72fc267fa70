"""Which runbooks answer an incident: Alertmanager-style matchers on its labels, or triage's
top hypothesis listed by the runbook, and, when the runbook asks for evidence, every evidence
matcher on the facts triage established. Ranked hypothesis first, then evidence, then by
matcher specificity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.runbook.schema import Runbook


@dataclass(frozen=True)
class RunbookMatch:
    runbook: Runbook
    by_labels: bool
    by_hypothesis: bool

    @property
    def rank(self) -> tuple[int, int, int, int]:
        spec = self.runbook.match
        return (
            int(self.by_hypothesis),
            len(spec.evidence),
            int(self.by_labels),
            len(spec.matchers),
        )


def match_runbook(
    runbook: Runbook,
    labels: dict[str, str],
    hypothesis: str | None,
    evidence: dict[str, str] | None = None,
) -> RunbookMatch | None:
    """Whether one runbook applies; None when neither its matchers nor its hypotheses do, or
    when the evidence it asks for is not there."""
    spec = runbook.match
    if spec.evidence and not all(m.matches(evidence or {}) for m in spec.evidence):
        return None
    by_labels = bool(spec.matchers) and all(m.matches(labels) for m in spec.matchers)
    by_hypothesis = hypothesis is not None and hypothesis in {h.value for h in spec.hypotheses}
    if not (by_labels or by_hypothesis):
        return None
    return RunbookMatch(runbook, by_labels=by_labels, by_hypothesis=by_hypothesis)


def match_runbooks(
    runbooks: Iterable[Runbook],
    labels: dict[str, str],
    hypothesis: str | None = None,
    evidence: dict[str, str] | None = None,
) -> list[RunbookMatch]:
    """Every runbook that applies, best first."""
    found = [
        m for rb in runbooks if (m := match_runbook(rb, labels, hypothesis, evidence)) is not None
    ]
    return sorted(found, key=lambda m: (tuple(-x for x in m.rank), m.runbook.name))
