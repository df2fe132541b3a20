"""documents attached to an annual report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("annual_report_id", sa.Integer(), nullable=True))
        batch.create_index("ix_document_annual_report_id", ["annual_report_id"])
        batch.create_foreign_key("fk_document_annual_report_id", "annual_report", ["annual_report_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("document") as batch:
        batch.drop_constraint("fk_document_annual_report_id", type_="foreignkey")
        batch.drop_index("ix_document_annual_report_id")
        batch.drop_column("annual_report_id")
