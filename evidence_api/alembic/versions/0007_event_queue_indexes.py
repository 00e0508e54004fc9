"""events: indexes for the review queue (open events newest first; by time, site, camera, plate)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.create_index(
            "ix_events_review_status_started_at", ["review_status", "started_at"], unique=False
        )
        batch.create_index("ix_events_started_at", ["started_at"], unique=False)
        batch.create_index(batch.f("ix_events_site_id"), ["site_id"], unique=False)
        batch.create_index(batch.f("ix_events_camera_id"), ["camera_id"], unique=False)
        batch.create_index(batch.f("ix_events_plate_text"), ["plate_text"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index(batch.f("ix_events_plate_text"))
        batch.drop_index(batch.f("ix_events_camera_id"))
        batch.drop_index(batch.f("ix_events_site_id"))
        batch.drop_index("ix_events_started_at")
        batch.drop_index("ix_events_review_status_started_at")
