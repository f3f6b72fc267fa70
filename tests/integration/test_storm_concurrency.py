"""Concurrent triages of one storm on SQLite and PostgreSQL: every incident joins exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.storms import LEAD_NOTE_AT
from bot.domain.timeline import EventKind
from bot.services.relate_incidents import storm_of
from bot.services.triage_incident import triage_incident
from tests.unit.test_storms import START, ingest, node_group

INCIDENTS = 24


def test_concurrent_triages_build_one_storm(database_url: str, tmp_path: Path) -> None:
    """Twenty-four triages at once (each twice, as redelivery would): one storm of 24, one note
    per member, and the lead told only at its threshold sizes."""
    store = SqlStore.from_url(database_url)
    ids = [
        ingest(store, node_group(i, pool="h100", service="llm-serving")) for i in range(INCIDENTS)
    ]

    def run(incident_id: int) -> None:
        triage_incident(store, UnconfiguredMetricsSource(), incident_id, START, tmp_path)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, ids + ids))
    with store.transaction() as tx:
        storms = {i: storm_of(tx, i) for i in ids}
        notes = {
            i: [e for e in tx.timeline.for_incident(i) if e.kind is EventKind.NOTE] for i in ids
        }
    leads = {s.lead_id for s in storms.values() if s is not None}
    assert len(leads) == 1
    lead = leads.pop()
    assert storms[lead] is not None
    assert storms[lead].size == INCIDENTS
    lead_notes = len([n for n in LEAD_NOTE_AT if n <= INCIDENTS])
    assert len(notes[lead]) == lead_notes
    assert sorted(len(n) for i, n in notes.items() if i != lead) == [1] * (INCIDENTS - 1)
    store.dispose()
