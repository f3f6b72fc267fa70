"""SqlRunStore: the RunStore port on SQLAlchemy Core (SQLite and PostgreSQL).

A run is one `runbook_runs` row: its whole document as JSON, beside the columns queries need
(state, wake_at, approval deadline). `active_target` holds the target while the run is
unfinished; its unique index makes "one run per target" hold across processes, so `add`
raises TargetBusyError rather than create a second run. `runbook_steps` is the step ledger:
a claim expires after its lease, and re-claiming an expired, uncompleted step answers
IN_DOUBT (a worker died mid-step), exactly as tests/fakes/runbooks.py FakeRunStore does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.adapters import sql_tables as t
from bot.adapters.sql_records import insert_ignoring_conflict
from bot.adapters.sql_rows import utc_now
from bot.adapters.sql_store import SqlStore, writer_lock_for
from bot.domain.errors import StoreUnavailableError
from bot.domain.remediation import TargetBusyError, TickLease
from bot.domain.runbooks import Run, RunState, StepClaim


def _values(run: Run, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": run.incident_id,
        "runbook": run.runbook,
        "target": run.target,
        "state": run.state.value,
        "active_target": None if run.finished else run.target,
        "wake_at": run.wake_at,
        "approval_deadline": run.approval_deadline,
        "updated_at": now,
        "document": run.model_dump(mode="json"),
    }


class SqlRunStore:
    """Runs and their step ledger; each call is its own short transaction."""

    def __init__(
        self, engine: Engine, writer_lock: contextlib.AbstractContextManager[object] | None = None
    ) -> None:
        self.engine = engine
        self.writer_lock = writer_lock or writer_lock_for(engine)

    @classmethod
    def on(cls, store: SqlStore) -> SqlRunStore:
        """A run store sharing the incident store's database and, on SQLite, its writer queue."""
        return cls(store.engine, store.writer_lock)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.writer_lock, self.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
            raise

    # ---- RunStore -------------------------------------------------------------------------

    def add(self, run: Run) -> Run:
        """Record a new run; raises TargetBusyError when an unfinished run holds its target."""
        try:
            with self._tx() as conn:
                values = {**_values(run, utc_now()), "created_at": run.created_at}
                result = conn.execute(insert(t.runbook_runs), values)
                run.id = int(result.inserted_primary_key[0])  # type: ignore[index]
                conn.execute(
                    update(t.runbook_runs)
                    .where(t.runbook_runs.c.id == run.id)
                    .values(document=run.model_dump(mode="json"))
                )
        except IntegrityError as exc:
            raise TargetBusyError(run.target, self._holder_of(run.target)) from exc
        return run

    def save(self, run: Run) -> None:
        assert run.id is not None
        with self._tx() as conn:
            conn.execute(
                update(t.runbook_runs)
                .where(t.runbook_runs.c.id == run.id)
                .values(**_values(run, utc_now()))
            )

    def load(self, run_id: int) -> Run | None:
        with self._tx() as conn:
            query = select(t.runbook_runs.c.document).where(t.runbook_runs.c.id == run_id)
            document = conn.execute(query).scalar_one_or_none()
        return None if document is None else Run.model_validate(document)

    def claim_step(self, run_id: int, key: str, now: datetime, lease_s: float) -> StepClaim:
        """Claim a step before acting: CLAIMED first time, DONE once completed, HELD while
        another claim's lease runs, IN_DOUBT when an expired claim is taken over."""
        expires = now + timedelta(seconds=lease_s)
        steps = t.runbook_steps
        with self._tx() as conn:
            values = {
                "run_id": run_id,
                "step": key,
                "claimed_at": now,
                "expires_at": expires,
                "claims": 1,
            }
            if insert_ignoring_conflict(conn, steps, values):
                return StepClaim.CLAIMED
            taken = conn.execute(
                update(steps)
                .where(
                    steps.c.run_id == run_id,
                    steps.c.step == key,
                    steps.c.completed_at.is_(None),
                    steps.c.expires_at <= now,
                )
                .values(claimed_at=now, expires_at=expires, claims=steps.c.claims + 1)
            )
            if taken.rowcount:
                return StepClaim.IN_DOUBT
            query = select(steps.c.completed_at).where(
                steps.c.run_id == run_id, steps.c.step == key
            )
            completed = conn.execute(query).scalar_one()
        return StepClaim.HELD if completed is None else StepClaim.DONE

    def complete_step(self, run_id: int, key: str, result: dict[str, Any]) -> None:
        steps = t.runbook_steps
        with self._tx() as conn:
            conn.execute(
                update(steps)
                .where(steps.c.run_id == run_id, steps.c.step == key)
                .values(completed_at=func.coalesce(steps.c.completed_at, utc_now()), result=result)
            )

    # ---- queries remediation needs --------------------------------------------------------

    def result(self, run_id: int, key: str) -> dict[str, Any] | None:
        """A completed step's result; None while it is unclaimed or in flight."""
        steps = t.runbook_steps
        query = select(steps.c.result).where(
            steps.c.run_id == run_id, steps.c.step == key, steps.c.completed_at.is_not(None)
        )
        with self._tx() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else dict(value)

    def claims(self, run_id: int) -> dict[str, int]:
        """How often each step of a run was claimed (1 means it never had to be retaken)."""
        steps = t.runbook_steps
        query = select(steps.c.step, steps.c.claims).where(steps.c.run_id == run_id)
        with self._tx() as conn:
            return {row.step: int(row.claims) for row in conn.execute(query)}

    def for_incident(self, incident_id: int) -> list[Run]:
        """An incident's runs, oldest first."""
        runs = t.runbook_runs
        query = select(runs.c.document).where(runs.c.incident_id == incident_id).order_by(runs.c.id)
        with self._tx() as conn:
            return [Run.model_validate(row.document) for row in conn.execute(query)]

    def active_on(self, target: str) -> Run | None:
        """The unfinished run holding a target, if any."""
        query = select(t.runbook_runs.c.document).where(t.runbook_runs.c.active_target == target)
        with self._tx() as conn:
            document = conn.execute(query).scalar_one_or_none()
        return None if document is None else Run.model_validate(document)

    def due(self, now: datetime, stale_before: datetime, limit: int = 100) -> list[int]:
        """Unfinished runs owed a tick: an approval deadline passed, or a wake-up missed
        (woken before `stale_before` and still not ticked, e.g. a worker died)."""
        runs = t.runbook_runs
        awaiting = RunState.AWAITING_APPROVAL.value
        query = (
            select(runs.c.id)
            .where(
                runs.c.active_target.is_not(None),
                or_(runs.c.tick_until.is_(None), runs.c.tick_until <= now),
                or_(
                    and_(runs.c.state == awaiting, runs.c.approval_deadline <= now),
                    and_(
                        runs.c.state != awaiting,
                        or_(runs.c.wake_at.is_(None), runs.c.wake_at <= stale_before),
                        runs.c.updated_at <= stale_before,
                    ),
                ),
            )
            .order_by(runs.c.id)
            .limit(limit)
        )
        with self._tx() as conn:
            return [int(row.id) for row in conn.execute(query)]

    def lease_tick(self, run_id: int, holder: str, now: datetime, lease_s: float) -> TickLease:
        """Take the run's tick lease unless another holder's lease is still running."""
        runs = t.runbook_runs
        until = now + timedelta(seconds=lease_s)
        with self._tx() as conn:
            taken = conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    or_(
                        runs.c.tick_until.is_(None),
                        runs.c.tick_until <= now,
                        runs.c.tick_holder == holder,
                    ),
                )
                .values(tick_holder=holder, tick_until=until)
            )
            if taken.rowcount:
                return TickLease(granted=True)
            query = select(runs.c.tick_until).where(runs.c.id == run_id)
            held_until = conn.execute(query).scalar_one_or_none()
        return TickLease(granted=False, held_until=held_until)

    def release_tick(self, run_id: int, holder: str) -> None:
        runs = t.runbook_runs
        with self._tx() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.tick_holder == holder)
                .values(tick_holder=None, tick_until=None)
            )

    def _holder_of(self, target: str) -> int | None:
        query = select(t.runbook_runs.c.id).where(t.runbook_runs.c.active_target == target)
        with self._tx() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)
