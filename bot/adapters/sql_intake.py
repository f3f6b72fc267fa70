"""SqlDeliveryIntake: the webhook's one durable write per delivery, with group commit.

A delivery is one row, `INSERT ... ON CONFLICT DO NOTHING` on its digest, so a re-sent body is
a duplicate. Deliveries that arrive while a commit is in flight wait and share the next one:
under load many deliveries cost one commit, and a lone delivery pays only its own. PostgreSQL
is written with psycopg's async driver on the event loop; SQLite through the process's single
writer on a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import psycopg
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.adapters import sql_tables as t
from bot.adapters.sql_store import SqlStore
from bot.domain.deliveries import RawDelivery
from bot.domain.errors import StoreUnavailableError

MAX_BATCH = 512
POSTGRES_INSERT = """
INSERT INTO deliveries (digest, receiver, group_key, body, received_at)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[], %s::timestamp[])
ON CONFLICT (digest) DO NOTHING
RETURNING digest
"""


class SqlDeliveryIntake:
    """The DeliveryIntake port on the store's database."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"
        self._sqlite_insert = (
            sqlite.insert(t.deliveries).on_conflict_do_nothing().returning(t.deliveries.c.digest)
        )
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._waiting: list[tuple[RawDelivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def accept(self, delivery: RawDelivery) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="delivery-intake")
        return await answer

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _flush(self) -> None:
        """Write what waits, one commit per batch, until nothing waits."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                stored = await self._write({d.digest: d for d, _ in batch})
            except Exception as exc:  # noqa: BLE001  (every waiting request gets its answer)
                for _, answer in batch:
                    if not answer.done():  # a request cancelled by its client is done
                        answer.set_exception(exc)
                continue
            for delivery, answer in batch:
                if not answer.done():
                    answer.set_result(delivery.digest in stored)
                stored.discard(delivery.digest)  # a second copy in one batch is a duplicate

    async def _write(self, deliveries: dict[str, RawDelivery]) -> set[str]:
        """Store each distinct delivery; answer the digests that were new."""
        if self._postgres:
            return await self._write_postgres(list(deliveries.values()))
        rows = [_values(d) for d in deliveries.values()]
        try:
            return await asyncio.to_thread(self._write_sqlite, rows)
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
            raise

    async def _write_postgres(self, deliveries: Sequence[RawDelivery]) -> set[str]:
        columns = (
            [d.digest for d in deliveries],
            [d.receiver for d in deliveries],
            [d.group_key for d in deliveries],
            [d.body for d in deliveries],
            [d.received_at.astimezone(UTC).replace(tzinfo=None) for d in deliveries],
        )
        try:
            conn = await self._connection()  # autocommit: the one statement is its commit
            cursor = await conn.execute(POSTGRES_INSERT, columns)
            return {row[0] for row in await cursor.fetchall()}
        except psycopg.OperationalError as exc:
            await self._drop_connection()
            raise StoreUnavailableError(f"database unavailable: {exc}") from exc

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            url = self._store.engine.url.set(drivername="postgresql")
            self._conn = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False), connect_timeout=5, autocommit=True
            )
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def _write_sqlite(self, rows: list[dict[str, Any]]) -> set[str]:
        with self._store.writer_lock, self._store.engine.begin() as conn:
            return {r.digest for r in conn.execute(self._sqlite_insert, rows)}


def _values(delivery: RawDelivery) -> dict[str, Any]:
    return {
        "digest": delivery.digest,
        "receiver": delivery.receiver,
        "group_key": delivery.group_key,
        "body": delivery.body,
        "received_at": delivery.received_at,
    }
