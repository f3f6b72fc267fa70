"""Runbook read models: the catalogue, an incident's runs, and the plan every matching runbook
would make for an incident, as lines; nothing here acts on a target or writes a record."""

from __future__ import annotations

from dataclasses import dataclass

from bot.correlation.facts import evidence_facts
from bot.domain.errors import NotFoundError
from bot.domain.incidents import Incident
from bot.domain.runbooks import Run
from bot.ports import RunIndex, Store
from bot.runbook.consent import (
    RankedHypothesis,
    hold_for_approval,
    ranked_hypotheses,
    triage_consent,
)
from bot.runbook.errors import PlanError
from bot.runbook.loader import RunbookCatalog
from bot.runbook.matcher import match_runbooks
from bot.runbook.planner import Planner, describe
from bot.runbook.schema import Runbook


@dataclass(frozen=True)
class IncidentContext:
    """What planning reads of an incident: the incident, triage's hypotheses best first (None
    before triage reports), and the facts triage's evidence established."""

    incident: Incident
    ranked: list[RankedHypothesis] | None
    facts: dict[str, str]

    @property
    def hypothesis(self) -> str | None:
        return self.ranked[0].kind if self.ranked else None


def incident_context(store: Store, incident_id: int) -> IncidentContext:
    """The incident and its triage; raises NotFoundError for an unknown incident."""
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        triage = tx.triages.get(incident_id) if incident is not None else None
    if incident is None:
        raise NotFoundError(f"INC-{incident_id} does not exist")
    return IncidentContext(incident, ranked_hypotheses(triage), evidence_facts(triage))


def runbook_named(catalog: RunbookCatalog, name: str) -> Runbook:
    """A runbook by name; raises NotFoundError naming the known ones."""
    runbook = catalog.get(name)
    if runbook is None:
        known = ", ".join(rb.name for rb in catalog)
        raise NotFoundError(f"no runbook named {name!r} (known: {known})")
    return runbook


class RunbookPreviews:
    """Reads runbooks, runs and plans for chat, the API and the CLI (RunbookPreview)."""

    def __init__(
        self, store: Store, runs: RunIndex, catalog: RunbookCatalog, planner: Planner
    ) -> None:
        self._store = store
        self._runs = runs
        self._catalog = catalog
        self._planner = planner

    def catalogue(self) -> list[tuple[str, str]]:
        """Every runbook's name and description."""
        return [(rb.name, rb.description) for rb in self._catalog]

    def dry_run(self, incident_id: int, runbook: str) -> list[str]:
        """One runbook's plan for one incident as lines. A person asked for it, so triage's
        consent does not apply."""
        found = runbook_named(self._catalog, runbook)
        context = incident_context(self._store, incident_id)
        plan = self._planner.plan(found, context.incident.labels, evidence=context.facts)
        return describe(plan)

    def preview(self, incident_id: int) -> tuple[str | None, list[list[str]]]:
        """Triage's top hypothesis and the plan (or why none) of every matching runbook, as
        planning after triage would create it (held for approval when triage disagrees)."""
        context = incident_context(self._store, incident_id)
        labels = context.incident.labels
        plans: list[list[str]] = []
        for found in match_runbooks(self._catalog, dict(labels), context.hypothesis, context.facts):
            consent = triage_consent(found.runbook, context.ranked)
            try:
                plan = self._planner.plan(found.runbook, labels, evidence=context.facts)
                plans.append(describe(hold_for_approval(plan, consent)))
            except PlanError as exc:
                plans.append([f"{found.runbook.name}: cannot be planned: {exc}"])
        return context.hypothesis, plans

    def runs_of(self, incident_id: int) -> list[Run]:
        """An incident's runs, oldest first; raises NotFoundError for an unknown incident."""
        incident_context(self._store, incident_id)
        return self._runs.for_incident(incident_id)

    def run(self, run_id: int) -> Run:
        found = self._runs.load(run_id)
        if found is None:
            raise NotFoundError(f"no runbook run {run_id}")
        return found
