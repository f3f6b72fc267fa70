"""alert input bounds: unset startsAt, identities of 128-character fingerprints, rejected alerts

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.adapters.sql_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column(
            "identity",
            existing_type=sa.String(length=160),
            type_=sa.String(length=200),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "starts_at",
            existing_type=bot.adapters.sql_tables.UTCDateTime(),
            nullable=True,
        )
    op.create_table(
        "rejected_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.Column("received_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_rejected_alerts_incident_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_alerts")),
    )
    op.create_index(
        op.f("ix_rejected_alerts_digest"), "rejected_alerts", ["digest"], unique=False
    )
    op.create_index(
        op.f("ix_rejected_alerts_incident_id"), "rejected_alerts", ["incident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rejected_alerts_incident_id"), table_name="rejected_alerts")
    op.drop_index(op.f("ix_rejected_alerts_digest"), table_name="rejected_alerts")
    op.drop_table("rejected_alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column(
            "starts_at",
            existing_type=bot.adapters.sql_tables.UTCDateTime(),
            nullable=False,
        )
        batch_op.alter_column(
            "identity",
            existing_type=sa.String(length=200),
            type_=sa.String(length=160),
            existing_nullable=False,
        )
