"""change gate: changes to models, deploy freezes and single-use deploy exceptions

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.adapters.sql_tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = bot.adapters.sql_tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("recorded_at", TIME(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("exception_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    op.create_index("ix_changes_scope", "changes", ["scope", "at"])
    op.create_table(
        "deploy_freezes",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("until", TIME(), nullable=False),
        sa.Column("frozen_by", sa.String(length=255), nullable=False),
        sa.Column("frozen_at", TIME(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_deploy_freezes")),
    )
    op.create_table(
        "deploy_exceptions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("granted_by", sa.String(length=255), nullable=False),
        sa.Column("granted_at", TIME(), nullable=False),
        sa.Column("expires_at", TIME(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("used_at", TIME(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deploy_exceptions")),
    )
    op.create_index("ix_deploy_exceptions_model", "deploy_exceptions", ["model"])


def downgrade() -> None:
    op.drop_index("ix_deploy_exceptions_model", table_name="deploy_exceptions")
    op.drop_table("deploy_exceptions")
    op.drop_table("deploy_freezes")
    op.drop_index("ix_changes_scope", table_name="changes")
    op.drop_table("changes")
