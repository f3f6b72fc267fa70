"""Incident memory: remember what each triaged incident looked like, and recall the earlier
incidents that looked like it, with what became of them.

Triage remembers an incident's traits (bot/domain/memory.py) in the transaction that stores its
report, with the earlier incidents most like it: candidates read through one indexed query per
key (bot/ports/records.py IncidentMemory), ranked in Python (bot/domain/resemblance.py). Recalling
reads those stored matches and the outcome of each as it stands now: the runbook that acted and
whether it verified, time to mitigate, and whether the same scope fired again within 24 h.
Chat shows the best two, the API and the postmortem up to five; every match says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.errors import NotFoundError
from bot.domain.incidents import Incident
from bot.domain.memory import HOLD_WINDOW, Held, IncidentTraits, PastIncident, traits_of
from bot.domain.resemblance import Resemblance, rank
from bot.ports import Store, UnitOfWork
from bot.summary.durations import human_duration

LIMIT_PER_KEY = 200  # the most recent earlier incidents read per key (model, node, ...)
SHOWN_IN_CHAT = 2
SHOWN_IN_FULL = 5


@dataclass(frozen=True)
class SimilarIncident:
    """An earlier incident that looked like the `viewer`, why, and what became of it."""

    resemblance: Resemblance
    past: PastIncident
    viewer: IncidentTraits

    @property
    def ref(self) -> str:
        return self.past.ref

    def held_text(self, now: datetime) -> str:
        """Whether its fix held, in words (`did not hold: INC-9 fired 4 min after`)."""
        past = self.past
        verdict = past.held(now)
        if verdict is Held.DID_NOT_HOLD:
            if past.recurred_id is not None and past.recurred_at and past.ended_at:
                again = past.recurred_id == self.viewer.incident_id
                who = "this incident" if again else f"INC-{past.recurred_id}"
                gap = human_duration((past.recurred_at - past.ended_at).total_seconds())
                return f"did not hold: {who} fired {gap} after"
            return f"did not hold: reopened {past.reopened_count}x"
        if verdict is Held.HELD:
            return f"held: quiet for {HOLD_WINDOW.total_seconds() / 3600:g} h after"
        if verdict is Held.HOLDING:
            return "holding so far (24 h not yet passed)"
        return "never mitigated"

    def fix_text(self) -> str:
        """What was done and how fast: `scale-out verified (RUN-3); mitigated in 3 min`."""
        past, run = self.past, self.past.run
        if run is None:
            parts = ["no runbook ran"]
        elif run.verified is True:
            parts = [f"{run.runbook} verified (RUN-{run.run_id})"]
        elif run.verified is False:
            parts = [f"{run.runbook} failed verification (RUN-{run.run_id} {run.state})"]
        else:
            parts = [f"{run.runbook} {run.state.replace('_', ' ')} (RUN-{run.run_id})"]
        spent = past.time_to_mitigate_s
        if spent is not None:
            verb = "mitigated" if past.mitigated_at is not None else "resolved"
            parts.append(f"{verb} in {human_duration(spent)}")
        return "; ".join(parts)

    def line(self, now: datetime) -> str:
        """One line for chat: which incident, how alike and why, what fixed it, did it hold."""
        match = self.resemblance
        age_s = (self.viewer.triggered_at - self.past.triggered_at).total_seconds()
        return (
            f"{self.ref} ({human_duration(age_s)} earlier, {match.score:.0%} alike: "
            f"{'; '.join(match.reasons)}) — {self.fix_text()}; {self.held_text(now)}"
        )

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """The API's and the postmortem's form: numbers, reasons and the outcome."""
        match, past, run = self.resemblance, self.past, self.past.run
        mitigated = past.mitigated_at
        return {
            "incident_id": past.incident_id,
            "ref": past.ref,
            "title": past.title,
            "status": past.status,
            "triggered_at": past.triggered_at.isoformat(),
            "score": match.score,
            "similarity": match.similarity,
            "recency": match.recency,
            "hypothesis": match.hypothesis,
            "reasons": list(match.reasons),
            "outcome": {
                "runbook": None if run is None else run.runbook,
                "run_id": None if run is None else run.run_id,
                "run_state": None if run is None else run.state,
                "verified": None if run is None else run.verified,
                "mitigated_at": None if mitigated is None else mitigated.isoformat(),
                "time_to_mitigate_s": past.time_to_mitigate_s,
                "held": past.held(now).value,
                "recurred_incident_id": past.recurred_id,
                "text": f"{self.fix_text()}; {self.held_text(now)}",
            },
        }


def remember_triage(
    tx: UnitOfWork, incident: Incident, report: Mapping[str, Any]
) -> list[Resemblance]:
    """Remember what a triaged incident looked like (its stored report) and the earlier
    incidents most like it; answer those matches, best first."""
    traits = traits_of(incident.id, incident.triggered_at, incident.labels, report)
    matches = match_earlier(tx, traits)
    tx.memory.remember(traits, matches)
    return matches


def match_earlier(
    tx: UnitOfWork, traits: IncidentTraits, limit: int = SHOWN_IN_FULL
) -> list[Resemblance]:
    """The earlier incidents most like one with these traits: the indexed candidate queries
    (LIMIT_PER_KEY per key), then scoring."""
    return rank(traits, tx.memory.candidates(traits, LIMIT_PER_KEY), limit)


def recall(tx: UnitOfWork, incident_id: int, limit: int = SHOWN_IN_CHAT) -> list[SimilarIncident]:
    """The earlier incidents found most like this one at its triage, with what became of them
    now (none before it is triaged; found now for one triaged before matches were stored)."""
    traits = tx.memory.traits(incident_id)
    if traits is None:
        return []
    matches = tx.memory.matches(incident_id)
    if matches is None:
        matches = match_earlier(tx, traits)
    shown = matches[:limit]
    outcomes = tx.memory.outcomes([m.incident_id for m in shown])
    return [
        SimilarIncident(m, outcomes[m.incident_id], traits)
        for m in shown
        if m.incident_id in outcomes
    ]


def similar_incidents(
    store: Store, incident_id: int, now: datetime, limit: int = SHOWN_IN_FULL
) -> list[dict[str, Any]]:
    """The API's answer: the best matches, best first, each with why and what became of it."""
    with store.transaction() as tx:
        if tx.incidents.get(incident_id) is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        found = recall(tx, incident_id, limit)
    return [match.to_dict(now) for match in found]
