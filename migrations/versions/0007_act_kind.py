"""the kind of a numbered act: recognition (or renewal) and revocation share one yearly series

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recognition_act") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=False, server_default="recognition_act"))


def downgrade() -> None:
    with op.batch_alter_table("recognition_act") as batch:
        batch.drop_column("kind")
