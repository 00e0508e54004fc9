"""blobs.preview_sha256: the reduced print copy of a still

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stills stored before this revision have no print copy; a bundle export makes one for them.
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("preview_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("preview_sha256")
