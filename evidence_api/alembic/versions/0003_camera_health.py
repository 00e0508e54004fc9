"""camera health: the edge box's latest report on each camera, and the periods of each status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import evidence_api.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Cameras registered before this revision have no report yet: their health is unknown, not "ok".
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("health_status", sa.String(length=40), nullable=True))
        batch.add_column(
            sa.Column("health_reported_at", evidence_api.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("health_report", sa.JSON(), nullable=True))
    op.create_table(
        "camera_health_periods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("first_received_at", evidence_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", evidence_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("audited", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("camera_health_periods") as batch:
        batch.create_index(batch.f("ix_camera_health_periods_camera_id"), ["camera_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("camera_health_periods") as batch:
        batch.drop_index(batch.f("ix_camera_health_periods_camera_id"))
    op.drop_table("camera_health_periods")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("health_report")
        batch.drop_column("health_reported_at")
        batch.drop_column("health_status")
