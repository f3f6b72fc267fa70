"""SqlIncidentOpenings: the set-based writes of deliveries that open new incidents.

A batch of such deliveries costs a handful of statements (multi-row INSERTs and one UPDATE
executed many times), whatever its size, where the one-at-a-time path costs some twenty per
delivery. The rows are built by the same functions the repositories use (`sql_rows`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.adapters import sql_tables as t
from bot.adapters.sql_rows import (
    alert_row,
    audit_row,
    event_row,
    group_hash,
    incident_row,
    outbox_row,
    utc_now,
)
from bot.domain.deliveries import IncidentOpening
from bot.domain.incidents import Incident

IN_LIST = 1000  # keys per IN (...) list: well under SQLite's bound-parameter limit
OPENED_BY = "alertmanager"


def _chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), IN_LIST):
        yield list(keys[start : start + IN_LIST])


class SqlIncidentOpenings:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def known(
        self, groups: Sequence[tuple[str, str]], fingerprints: Sequence[str]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        by_hash = {group_hash(receiver, key): (receiver, key) for receiver, key in groups}
        known_groups: set[tuple[str, str]] = set()
        for chunk in _chunks(list(by_hash)):
            query = select(t.incident_groups.c.group_hash).where(
                t.incident_groups.c.group_hash.in_(chunk)
            )
            known_groups.update(by_hash[h] for h in self._conn.execute(query).scalars())
        known_fingerprints: set[str] = set()
        for chunk in _chunks(sorted(set(fingerprints))):
            query = select(t.alerts.c.fingerprint).where(t.alerts.c.fingerprint.in_(chunk))
            known_fingerprints.update(self._conn.execute(query.distinct()).scalars())
        return known_groups, known_fingerprints

    def claim_groups(self, groups: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        if not groups:
            return set()
        by_hash = {group_hash(receiver, key): (receiver, key) for receiver, key in groups}
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t.incident_groups)
            .on_conflict_do_nothing()
            .returning(t.incident_groups.c.group_hash)
        )
        created = self._conn.execute(statement, [{"group_hash": h} for h in by_hash]).scalars()
        return {by_hash[h] for h in created}

    def add_incidents(self, incidents: Sequence[Incident]) -> list[int]:
        if not incidents:
            return []
        statement = insert(t.incidents).returning(t.incidents.c.id, sort_by_parameter_order=True)
        rows = self._conn.execute(statement, [incident_row(i) for i in incidents])
        return [int(i) for i in rows.scalars()]

    def write(self, openings: Sequence[IncidentOpening]) -> None:
        if not openings:
            return
        now = utc_now()
        pointers = [
            {"key": group_hash(o.receiver, o.group_key), "incident": o.incident_id}
            for o in openings
        ]
        self._conn.execute(
            update(t.incident_groups)
            .where(t.incident_groups.c.group_hash == bindparam("key"))
            .values(incident_id=bindparam("incident")),
            pointers,
        )
        alerts = [alert_row(o.incident_id, a, o.at) for o in openings for a in o.alerts]
        self._insert(t.alerts, alerts)
        self._insert(t.timeline_events, [event_row(e) for o in openings for e in o.events])
        self._insert(
            t.audit_log,
            [audit_row(OPENED_BY, "incident_opened", o.incident_id, o.audit) for o in openings],
        )
        self._insert(t.outbox, [outbox_row(task, args) for o in openings for task, args in o.tasks])
        self._insert(
            t.ledger,
            [
                {
                    "incident_id": o.incident_id,
                    "step": step,
                    "claimed_at": now,
                    "completed_at": now,
                    "result": result,
                }
                for o in openings
                for step, result in o.ledger
            ],
        )

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._conn.execute(insert(table), rows)
