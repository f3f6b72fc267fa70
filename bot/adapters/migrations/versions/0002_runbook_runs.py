"""runbook runs and their step ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.adapters.sql_tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('runbook_runs',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('incident_id', _ID, nullable=False),
    sa.Column('runbook', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('active_target', sa.String(length=255), nullable=True),
    sa.Column('wake_at', bot.adapters.sql_tables.UTCDateTime(), nullable=True),
    sa.Column('approval_deadline', bot.adapters.sql_tables.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.adapters.sql_tables.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.adapters.sql_tables.UTCDateTime(), nullable=False),
    sa.Column('tick_holder', sa.String(length=64), nullable=True),
    sa.Column('tick_until', bot.adapters.sql_tables.UTCDateTime(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_runbook_runs_incident_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runbook_runs')),
    sa.UniqueConstraint('active_target', name=op.f('uq_runbook_runs_active_target'))
    )
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runbook_runs_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runbook_runs_state'), ['state'], unique=False)

    op.create_table('runbook_steps',
    sa.Column('run_id', _ID, nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', bot.adapters.sql_tables.UTCDateTime(), nullable=False),
    sa.Column('expires_at', bot.adapters.sql_tables.UTCDateTime(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('completed_at', bot.adapters.sql_tables.UTCDateTime(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runbook_runs.id'], name=op.f('fk_runbook_steps_run_id')),
    sa.PrimaryKeyConstraint('run_id', 'step', name=op.f('pk_runbook_steps'))
    )


def downgrade() -> None:
    op.drop_table('runbook_steps')
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runbook_runs_state'))
        batch_op.drop_index(batch_op.f('ix_runbook_runs_incident_id'))

    op.drop_table('runbook_runs')
