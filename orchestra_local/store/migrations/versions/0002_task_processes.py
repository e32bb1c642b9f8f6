"""task_processes: the process groups of task attempts, with their leaders' start times

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 (cancel and retry-from-failed find what a dead runner left running)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_processes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=36), nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pgid", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["pipeline_run_id"], ["pipeline_runs.id"]),
        sa.ForeignKeyConstraint(["task_run_id"], ["task_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_processes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_processes_pipeline_run_id"), ["pipeline_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_processes_task_run_id"), ["task_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_processes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_processes_task_run_id"))
        batch_op.drop_index(batch_op.f("ix_task_processes_pipeline_run_id"))
    op.drop_table("task_processes")
