"""the draft of a stage's document on its action, while the PDF is laid out outside the transaction

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stage_action") as batch:
        batch.add_column(sa.Column("document_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stage_action") as batch:
        batch.drop_column("document_html")
