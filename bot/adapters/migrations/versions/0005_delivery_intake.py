"""delivery intake: the webhook stores raw deliveries; a normaliser turns them into incidents

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.adapters.sql_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("normalised_at IS NULL")


def upgrade() -> None:
    op.rename_table("deliveries", "deliveries_before_intake")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX pk_deliveries RENAME TO pk_deliveries_before_intake")
    op.create_table(
        "deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=True),
        sa.Column("group_key", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.Column("normalised_at", bot.adapters.sql_tables.UTCDateTime(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("digest", name=op.f("uq_deliveries_digest")),
    )
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.execute(
        "INSERT INTO deliveries (digest, received_at, normalised_at) "
        "SELECT digest, received_at, received_at FROM deliveries_before_intake "
        "ORDER BY received_at"
    )
    op.drop_table("deliveries_before_intake")


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.rename_table("deliveries", "deliveries_intake")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX pk_deliveries RENAME TO pk_deliveries_intake")
        op.execute(
            "ALTER TABLE deliveries_intake RENAME CONSTRAINT uq_deliveries_digest TO uq_deliveries_intake_digest"
        )
    op.create_table(
        "deliveries",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_deliveries")),
    )
    op.execute(
        "INSERT INTO deliveries (digest, received_at) "
        "SELECT digest, received_at FROM deliveries_intake"
    )
    op.drop_table("deliveries_intake")
