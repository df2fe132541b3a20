"""unaccent: name searches that ignore accents as well as case (``models.search``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:00:00

``unaccent`` ships with PostgreSQL (contrib) and is a trusted extension: the database's owner may
create it without being a superuser.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")


def downgrade() -> None:
    op.execute("DROP EXTENSION IF EXISTS unaccent")
