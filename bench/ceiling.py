"""The physical limit for the ingest benchmark: a bare FastAPI endpoint that stores each request
body with one PostgreSQL INSERT and its own commit (psycopg async, one connection per concurrent
request), with no authentication, parsing or validation.

    CEILING_DATABASE_URL=postgresql://... python -m uvicorn bench.ceiling:app --port 8099
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request

CONNECTIONS = 16
connections: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    url = os.environ["CEILING_DATABASE_URL"]
    for _ in range(CONNECTIONS):
        connections.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))
    first = await connections.get()
    await first.execute("CREATE TABLE IF NOT EXISTS ceiling (id bigserial PRIMARY KEY, body bytea)")
    connections.put_nowait(first)
    yield
    while not connections.empty():
        await connections.get_nowait().close()


app = FastAPI(lifespan=lifespan)


@app.post("/webhooks/alertmanager")
async def store(request: Request) -> dict[str, str]:
    body = await request.body()
    conn = await connections.get()
    try:
        await conn.execute("INSERT INTO ceiling (body) VALUES (%s)", (body,))
    finally:
        connections.put_nowait(conn)
    return {"status": "stored"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
