"""Composite indexes matching each list query's filter and order, and completed_at for trigger events

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 (the API at scale: issue 16)

Every list endpoint filters on equality columns (status, pipeline, integration) and a time window,
and orders by that time: an index on (filter column, time) answers both the count and the page
from one range scan, where a single-column status index made the database sort every match.
The single-column status and pipeline indexes are replaced (their composites lead with them).
``pipeline_runs.completed_at`` is what trigger events poll on.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_REPLACED = [("pipeline_runs", "ix_pipeline_runs_run_status", ["run_status"]),
             ("pipeline_runs", "ix_pipeline_runs_pipeline_id", ["pipeline_id"]),
             ("task_runs", "ix_task_runs_status", ["status"])]
_ADDED = [("pipeline_runs", "ix_pipeline_runs_status_created", ["run_status", "created_at"]),
          ("pipeline_runs", "ix_pipeline_runs_pipeline_created", ["pipeline_id", "created_at"]),
          ("pipeline_runs", "ix_pipeline_runs_completed_at", ["completed_at"]),
          ("task_runs", "ix_task_runs_status_created", ["status", "created_at"]),
          ("task_runs", "ix_task_runs_integration_created", ["integration", "created_at"]),
          ("task_runs", "ix_task_runs_pipeline_created", ["pipeline_id", "created_at"]),
          ("operations", "ix_operations_status_inserted", ["operation_status", "inserted_at"]),
          ("operations", "ix_operations_integration_inserted", ["integration", "inserted_at"])]


def upgrade() -> None:
    for table, name, columns in _ADDED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in _REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in _REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in _ADDED:
        op.drop_index(name, table_name=table)
