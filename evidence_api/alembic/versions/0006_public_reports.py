"""public reports: fly-tips reported on /report by the public, with their photos

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import evidence_api.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("received_at", evidence_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("location_description", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("location_source", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("saw_who", sa.String(length=10), nullable=False),
        sa.Column("will_give_statement", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("public_reports") as batch:
        batch.create_index(batch.f("ix_public_reports_client_key"), ["client_key"], unique=False)
        batch.create_index(batch.f("ix_public_reports_received_at"), ["received_at"], unique=False)
    op.create_table(
        "public_report_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=60), nullable=False),
        sa.Column("display_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["public_reports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "position"),
    )
    with op.batch_alter_table("public_report_photos") as batch:
        batch.create_index(batch.f("ix_public_report_photos_sha256"), ["sha256"], unique=False)
        batch.create_index(
            batch.f("ix_public_report_photos_display_sha256"), ["display_sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("public_report_photos") as batch:
        batch.drop_index(batch.f("ix_public_report_photos_display_sha256"))
        batch.drop_index(batch.f("ix_public_report_photos_sha256"))
    op.drop_table("public_report_photos")
    with op.batch_alter_table("public_reports") as batch:
        batch.drop_index(batch.f("ix_public_reports_received_at"))
        batch.drop_index(batch.f("ix_public_reports_client_key"))
    op.drop_table("public_reports")
