"""Which runbooks answer an incident: Alertmanager-style matchers on its labels, or triage's
top hypothesis listed by the runbook. Ranked hypothesis first, then by matcher specificity."""

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
    def rank(self) -> tuple[int, int, int]:
        return (int(self.by_hypothesis), int(self.by_labels), len(self.runbook.match.matchers))


def match_runbook(
    runbook: Runbook, labels: dict[str, str], hypothesis: str | None
) -> RunbookMatch | None:
    """Whether one runbook applies; None when neither its matchers nor its hypotheses do."""
    spec = runbook.match
    by_labels = bool(spec.matchers) and all(m.matches(labels) for m in spec.matchers)
    by_hypothesis = hypothesis is not None and hypothesis in {h.value for h in spec.hypotheses}
    if not (by_labels or by_hypothesis):
        return None
    return RunbookMatch(runbook, by_labels=by_labels, by_hypothesis=by_hypothesis)


def match_runbooks(
    runbooks: Iterable[Runbook], labels: dict[str, str], hypothesis: str | None = None
) -> list[RunbookMatch]:
    """Every runbook that applies, best first."""
    found = [m for rb in runbooks if (m := match_runbook(rb, labels, hypothesis)) is not None]
    return sorted(found, key=lambda m: (tuple(-x for x in m.rank), m.runbook.name))
