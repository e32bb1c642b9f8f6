"""ticks: every evaluation of a schedule, sensor window or trigger event, and the claim on its fire time

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 (pipelines start themselves: issue 13)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_alias", sa.String(length=200), nullable=False),
        sa.Column("trigger_kind", sa.String(length=16), nullable=False),
        sa.Column("trigger_name", sa.String(length=200), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["pipeline_run_id"], ["pipeline_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pipeline_id", "trigger_kind", "trigger_name", "scheduled_for", name="uq_ticks_claim"),
    )
    with op.batch_alter_table("ticks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticks_pipeline_id"), ["pipeline_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticks_scheduled_for"), ["scheduled_for"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticks_scheduled_for"))
        batch_op.drop_index(batch_op.f("ix_ticks_pipeline_id"))
    op.drop_table("ticks")
