"""SqlIncidentMemory: the IncidentMemory port on SQLAlchemy Core (SQLite and PostgreSQL).

Candidates are found by one indexed query per key the new incident has (model, namespace, node,
top hypothesis): each reads the `limit_per_key` most recent earlier incidents with that key
from its `(key, triggered_at)` index, joined to the incidents that had ended (mitigated or
resolved) by the time the new one triggered, so concurrent incidents (a storm) are not history.
Scoring happens in Python (bot/domain/resemblance.py); the matches found at triage are stored
beside the traits. Outcomes are read for the few matches shown only: the incident, its runs,
and the first later incident on its scope within the hold window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, select, union_all
from sqlalchemy.engine import Connection

from bot.adapters import sql_tables as t
from bot.adapters.sql_records import insert_ignoring_conflict
from bot.domain.memory import (
    HOLD_WINDOW,
    IncidentTraits,
    PastIncident,
    RunOutcome,
    SignalMove,
    run_outcome,
)
from bot.domain.resemblance import Resemblance
from bot.domain.runbooks import Run

KEY_CHARS = 200  # label values are unbounded; keys are compared on their first 200 characters
_KEYS = ("model", "namespace", "node", "hypothesis")


def _key(value: str | None) -> str | None:
    return None if value is None else value[:KEY_CHARS]


class _StoredSignals(Mapping[str, SignalMove]):
    """A remembered incident's moved signals, decoded from their JSON text on first use: most
    candidates are ranked out on scope and cause before their evidence is read."""

    def __init__(self, raw: str | None) -> None:
        self._raw = raw
        self._moves: dict[str, SignalMove] | None = None

    def _decoded(self) -> dict[str, SignalMove]:
        if self._moves is None:
            loaded = json.loads(self._raw or "{}")
            self._moves = {str(k): SignalMove.from_dict(v) for k, v in loaded.items()}
        return self._moves

    def __getitem__(self, name: str) -> SignalMove:
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


def _traits(row: Any, signals: Mapping[str, SignalMove]) -> IncidentTraits:
    return IncidentTraits(
        incident_id=int(row.incident_id),
        triggered_at=row.triggered_at,
        model=row.model,
        namespace=row.namespace,
        node=row.node,
        nodes=tuple(str(n) for n in row.nodes or []),
        hypothesis=row.hypothesis,
        confidence=row.confidence,
        signals=signals,
    )


class SqlIncidentMemory:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def remember(self, traits: IncidentTraits, matches: Sequence[Resemblance]) -> None:
        """Store (or replace, after a follow-up triage) an incident's traits and matches."""
        m = t.incident_memory
        values = {
            "incident_id": traits.incident_id,
            "triggered_at": traits.triggered_at,
            "model": _key(traits.model),
            "namespace": _key(traits.namespace),
            "node": _key(traits.node),
            "hypothesis": traits.hypothesis,
            "confidence": traits.confidence,
            "nodes": list(traits.nodes),
            "signals": traits.signals_to_dict(),
            "matches": [match.to_dict() for match in matches],
        }
        if not insert_ignoring_conflict(self._conn, m, values):
            key = values.pop("incident_id")
            self._conn.execute(m.update().where(m.c.incident_id == key).values(**values))

    def traits(self, incident_id: int) -> IncidentTraits | None:
        m = t.incident_memory
        query = select(*(c for c in m.c if c.name != "matches")).where(
            m.c.incident_id == incident_id
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        signals = {str(k): SignalMove.from_dict(v) for k, v in (row.signals or {}).items()}
        return _traits(row, signals)

    def matches(self, incident_id: int) -> list[Resemblance] | None:
        m = t.incident_memory
        query = select(m.c.matches).where(m.c.incident_id == incident_id)
        stored = self._conn.execute(query).scalar_one_or_none()
        return None if stored is None else [Resemblance.from_dict(d) for d in stored]

    def candidates(self, traits: IncidentTraits, limit_per_key: int) -> list[IncidentTraits]:
        """Earlier incidents sharing any key with `traits` that had ended by the time it
        triggered: at most `limit_per_key` per key, the most recent first."""
        m, i = t.incident_memory, t.incidents
        ended = func.coalesce(i.c.mitigated_at, i.c.resolved_at)
        selects = []
        for name in _KEYS:
            value = _key(getattr(traits, name))
            if not value:
                continue
            column = m.c[name]
            selects.append(
                select(m.c.incident_id)
                .join(i, i.c.id == m.c.incident_id)
                .where(
                    column == value,
                    m.c.triggered_at < traits.triggered_at,
                    m.c.incident_id != traits.incident_id,
                    ended <= traits.triggered_at,
                )
                .order_by(m.c.triggered_at.desc())
                .limit(limit_per_key)
            )
        if not selects:
            return []
        ids = union_all(*(s.subquery().select() for s in selects)).subquery()
        columns = [c for c in m.c if c.name not in ("signals", "matches")]
        query = select(*columns, cast(m.c.signals, Text).label("signals_text")).where(
            m.c.incident_id.in_(select(ids.c.incident_id))
        )
        return [_traits(row, _StoredSignals(row.signals_text)) for row in self._conn.execute(query)]

    def outcomes(self, incident_ids: Sequence[int]) -> dict[int, PastIncident]:
        """What became of each incident: its lifecycle, the run that speaks for its
        remediation, and the first later incident on its scope within the hold window."""
        if not incident_ids:
            return {}
        i = t.incidents
        rows = self._conn.execute(select(i).where(i.c.id.in_(list(incident_ids)))).all()
        answers = {}
        for row in rows:
            past = PastIncident(
                incident_id=int(row.id),
                title=row.title,
                status=row.status,
                triggered_at=row.triggered_at,
                mitigated_at=row.mitigated_at,
                resolved_at=row.resolved_at,
                reopened_count=int(row.reopened_count or 0),
                run=self._run_of(int(row.id)),
            )
            recurred = self._recurrence(past)
            if recurred is not None:
                past = replace(past, recurred_id=recurred[0], recurred_at=recurred[1])
            answers[past.incident_id] = past
        return answers

    def _run_of(self, incident_id: int) -> RunOutcome | None:
        runs = t.runbook_runs
        query = select(runs.c.document).where(runs.c.incident_id == incident_id).order_by(runs.c.id)
        return run_outcome([Run.model_validate(row.document) for row in self._conn.execute(query)])

    def _recurrence(self, past: PastIncident) -> tuple[int, datetime] | None:
        ended = past.ended_at
        own = self.traits(past.incident_id)
        scope = own.scope if own is not None else None
        if ended is None or scope is None:
            return None
        m = t.incident_memory
        query = (
            select(m.c.incident_id, m.c.triggered_at)
            .where(
                m.c[scope[0]] == _key(scope[1]),
                m.c.triggered_at > ended,
                m.c.triggered_at <= ended + HOLD_WINDOW,
                m.c.incident_id != past.incident_id,
            )
            .order_by(m.c.triggered_at, m.c.incident_id)
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else (int(row.incident_id), row.triggered_at)
