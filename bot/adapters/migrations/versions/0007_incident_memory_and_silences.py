"""incident memory and silences: what triaged incidents looked like, and the silences covering them

Incidents already triaged are remembered from their stored triage reports (their matches are
found when first asked for).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.adapters.sql_tables
from bot.domain.memory import traits_of

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KEY_CHARS = 200


def upgrade() -> None:
    op.create_table(
        "incident_memory",
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("triggered_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("namespace", sa.Text(), nullable=True),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("hypothesis", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_memory_incident_id")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_memory")),
    )
    for key in ("model", "namespace", "node", "hypothesis"):
        op.create_index(
            f"ix_incident_memory_{key}", "incident_memory", [key, "triggered_at"], unique=False
        )
    op.create_table(
        "incident_silences",
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("silence_id", sa.String(length=64), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("starts_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("updated_at", bot.adapters.sql_tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_silences_incident_id")
        ),
        sa.PrimaryKeyConstraint("incident_id", "silence_id", name=op.f("pk_incident_silences")),
    )
    _remember_triaged()


def _remember_triaged() -> None:
    """One memory row per incident that already has a triage report."""
    incidents = sa.table(
        "incidents",
        sa.column("id", ID),
        sa.column("triggered_at", bot.adapters.sql_tables.UTCDateTime()),
        sa.column("labels", sa.JSON()),
        sa.column("triage", sa.JSON()),
    )
    memory = sa.table(
        "incident_memory",
        *(sa.column(name) for name in ("incident_id", "model", "namespace", "node")),
        sa.column("triggered_at", bot.adapters.sql_tables.UTCDateTime()),
        sa.column("hypothesis", sa.String()),
        sa.column("confidence", sa.Float()),
        sa.column("nodes", sa.JSON()),
        sa.column("signals", sa.JSON()),
    )
    bind = op.get_bind()
    query = sa.select(incidents).where(incidents.c.triage.is_not(None)).order_by(incidents.c.id)
    rows = []
    for row in bind.execute(query):
        if not isinstance(row.triage, dict):
            continue
        traits = traits_of(row.id, row.triggered_at, dict(row.labels or {}), row.triage)
        rows.append(
            {
                "incident_id": row.id,
                "triggered_at": row.triggered_at,
                "model": _key(traits.model),
                "namespace": _key(traits.namespace),
                "node": _key(traits.node),
                "hypothesis": traits.hypothesis,
                "confidence": traits.confidence,
                "nodes": list(traits.nodes),
                "signals": traits.signals_to_dict(),
            }
        )
    if rows:
        bind.execute(sa.insert(memory), rows)


def _key(value: str | None) -> str | None:
    return None if value is None else value[:KEY_CHARS]


def downgrade() -> None:
    op.drop_table("incident_silences")
    for key in ("model", "namespace", "node", "hypothesis"):
        op.drop_index(f"ix_incident_memory_{key}", table_name="incident_memory")
    op.drop_table("incident_memory")
