"""sensor_events: events POSTed for ORCHESTRA_WEBHOOK_EVENT sensor checks

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 (native sensors: issue 13)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sensor_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sensor_event_type", sa.String(length=200), nullable=False),
        sa.Column("sensor_event", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sensor_events", schema=None) as batch_op:
        batch_op.create_index("ix_sensor_events_type_received", ["sensor_event_type", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sensor_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sensor_events_type_received")
    op.drop_table("sensor_events")
