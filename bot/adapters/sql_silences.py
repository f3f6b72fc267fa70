"""SqlSilenceRecords: the silences covering each incident (`incident_silences`), on SQLAlchemy
Core. Matchers are stored in their text form (`name="value"`, `=~`, ...) and parsed back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from bot.adapters import sql_tables as t
from bot.adapters.sql_records import insert_ignoring_conflict
from bot.domain.label_matchers import LabelMatcher
from bot.domain.silences import Silence, SilenceOrigin, SilenceState


def _silence(row: Row[Any]) -> Silence:
    return Silence(
        id=row.silence_id,
        matchers=tuple(LabelMatcher.parse(text) for text in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        state=SilenceState(row.state),
        origin=SilenceOrigin(row.origin),
    )


class SqlSilenceRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save(self, incident_id: int, silence: Silence, at: datetime) -> None:
        s = t.incident_silences
        values = {
            "matchers": [str(m) for m in silence.matchers],
            "created_by": silence.created_by,
            "comment": silence.comment,
            "starts_at": silence.starts_at,
            "ends_at": silence.ends_at,
            "state": silence.state.value,
            "updated_at": at,
        }
        key = {"incident_id": incident_id, "silence_id": silence.id}
        row = {**key, **values, "origin": silence.origin.value}
        if not insert_ignoring_conflict(self._conn, s, row):
            self._conn.execute(
                update(s)
                .where(s.c.incident_id == incident_id, s.c.silence_id == silence.id)
                .values(**values)
            )

    def for_incident(self, incident_id: int) -> list[Silence]:
        s = t.incident_silences
        query = (
            select(s).where(s.c.incident_id == incident_id).order_by(s.c.starts_at, s.c.silence_id)
        )
        return [_silence(row) for row in self._conn.execute(query)]

    def expire(self, incident_id: int, silence_id: str, at: datetime) -> None:
        s = t.incident_silences
        self._conn.execute(
            update(s)
            .where(s.c.incident_id == incident_id, s.c.silence_id == silence_id)
            .values(state=SilenceState.EXPIRED.value, updated_at=at)
        )
