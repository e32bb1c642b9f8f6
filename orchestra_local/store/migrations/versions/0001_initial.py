"""initial schema: pipeline runs, task runs, outputs, files, operations

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-04 (the tables that create_all made before migrations existed)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_name", sa.String(length=100), nullable=False),
        sa.Column("pipeline_alias", sa.String(length=200), nullable=False),
        sa.Column("yaml_path", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("env_id", sa.String(length=36), nullable=True),
        sa.Column("env_name", sa.String(length=200), nullable=True),
        sa.Column("run_status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("branch", sa.String(length=200), nullable=True),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("pipeline_version_number", sa.Integer(), nullable=True),
        sa.Column("triggered_by", sa.JSON(), nullable=False),
        sa.Column("run_inputs", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_runs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_runs_pipeline_id"), ["pipeline_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_runs_run_status"), ["run_status"], unique=False)

    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.String(length=200), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("integration", sa.String(length=64), nullable=False),
        sa.Column("integration_job", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("external_status", sa.String(length=64), nullable=True),
        sa.Column("external_message", sa.Text(), nullable=True),
        sa.Column("platform_link", sa.Text(), nullable=True),
        sa.Column("task_parameters", sa.JSON(), nullable=True),
        sa.Column("run_parameters", sa.JSON(), nullable=True),
        sa.Column("connection_id", sa.String(length=200), nullable=True),
        sa.Column("number_of_attempts", sa.Integer(), nullable=False),
        sa.Column("matrix_parent", sa.Boolean(), nullable=False),
        sa.Column("matrix_parent_id", sa.String(length=36), nullable=True),
        sa.Column("depends_on", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id"],
            ["pipeline_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_runs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_runs_matrix_parent_id"), ["matrix_parent_id"], unique=False)
        batch_op.create_index("ix_task_runs_run_task", ["pipeline_run_id", "task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_runs_status"), ["status"], unique=False)

    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=36), nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("operation_name", sa.Text(), nullable=True),
        sa.Column("operation_status", sa.String(length=16), nullable=False),
        sa.Column("operation_type", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("external_status", sa.String(length=64), nullable=True),
        sa.Column("external_detail", sa.Text(), nullable=True),
        sa.Column("integration", sa.String(length=64), nullable=True),
        sa.Column("integration_job", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("dependencies", sa.JSON(), nullable=False),
        sa.Column("operation_duration", sa.Float(), nullable=True),
        sa.Column("rows_affected", sa.Integer(), nullable=True),
        sa.Column("asset_external_id", sa.Text(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id"],
            ["pipeline_runs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operations_inserted_at"), ["inserted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_operations_pipeline_run_id"), ["pipeline_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_operations_task_run_id"), ["task_run_id"], unique=False)

    op.create_table(
        "task_outputs",
        sa.Column("task_run_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
        ),
        sa.PrimaryKeyConstraint("task_run_id", "name"),
    )
    op.create_table(
        "task_run_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_run_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_run_files_task_run_id"), ["task_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_run_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_run_files_task_run_id"))

    op.drop_table("task_run_files")
    op.drop_table("task_outputs")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operations_task_run_id"))
        batch_op.drop_index(batch_op.f("ix_operations_pipeline_run_id"))
        batch_op.drop_index(batch_op.f("ix_operations_inserted_at"))

    op.drop_table("operations")
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_runs_status"))
        batch_op.drop_index("ix_task_runs_run_task")
        batch_op.drop_index(batch_op.f("ix_task_runs_matrix_parent_id"))
        batch_op.drop_index(batch_op.f("ix_task_runs_created_at"))

    op.drop_table("task_runs")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_run_status"))
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_pipeline_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_created_at"))

    op.drop_table("pipeline_runs")
