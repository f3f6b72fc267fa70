"""Markers from folders (unit / integration / e2e / chaos) and the fixtures every layer shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from bot.adapters.sql_migrations import upgrade
from bot.adapters.sql_store import SqlStore
from bot.settings import Settings
from tests.redis_server import redis_server

_TESTS = Path(__file__).parent
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).relative_to(_TESTS).parts[0]
        if layer in {"unit", "integration", "e2e", "chaos"}:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'firebreak.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"firebreak_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL, migrated to head."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def session_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test session's own: no other session takes its queued tasks."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(session_redis: str) -> str:
    """The session's Redis, emptied before the test."""
    redis.Redis.from_url(session_redis).flushdb()
    return session_redis


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: its own home folder, plus whatever the test overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"home": tmp_path / "home"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def sqlite_store(sqlite_url: str) -> SqlStore:
    upgrade(sqlite_url)
    return SqlStore.from_url(sqlite_url)
