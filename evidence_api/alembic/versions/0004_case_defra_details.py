"""case DEFRA details: the suspect vehicle's registration, the enforcement actions taken, and the land
type "back_alley" spelt as DEFRA's category "Back Alleyway" (``back_alleyway``)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import evidence_api.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RENAMED_LAND_TYPES = {"back_alley": "back_alleyway"}


def _rename_land_types(mapping: dict[str, str]) -> None:
    for table in ("sites", "cases"):
        for old, new in mapping.items():
            land_type = sa.column("land_type", sa.String)
            op.execute(sa.table(table, land_type).update().where(land_type == old).values(land_type=new))


def upgrade() -> None:
    # Cases opened before this revision have no registration recorded: empty, as the page shows "—".
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("suspect_registration", sa.String(length=20), nullable=False, server_default="")
        )
    op.create_table(
        "case_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", evidence_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "action"),
    )
    with op.batch_alter_table("case_actions") as batch:
        batch.create_index(batch.f("ix_case_actions_case_id"), ["case_id"], unique=False)
    _rename_land_types(RENAMED_LAND_TYPES)


def downgrade() -> None:
    _rename_land_types({new: old for old, new in RENAMED_LAND_TYPES.items()})
    with op.batch_alter_table("case_actions") as batch:
        batch.drop_index(batch.f("ix_case_actions_case_id"))
    op.drop_table("case_actions")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("suspect_registration")
