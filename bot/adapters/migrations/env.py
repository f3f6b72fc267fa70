"""Alembic environment: migrates the schema in bot.adapters.sql_tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bot.adapters.sql_tables import metadata

url = context.config.get_main_option("sqlalchemy.url") or ""
if url.startswith("postgresql://"):
    url = "postgresql+psycopg://" + url.removeprefix("postgresql://")

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
