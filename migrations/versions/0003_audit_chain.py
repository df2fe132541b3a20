"""audit trail as a hash chain per application (prev_hash, hash, application.audit_head)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00

The existing events are chained in (application_id, id) order with the same function the
service used then (models.audit_chain: its canonical form is frozen, so importing it is safe):
plain SHA-256, ``legacy_event_hash``; migration 0005 then keys the chain.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import models.base
from models.audit_chain import GENESIS, HASHED_FIELDS, legacy_event_hash

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

# typed as in the models, so the values read here are the ones the ORM reads (aware UTC, parsed JSON)
audit_event = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("subject", sa.String()),
    sa.column("application_id", sa.Integer()),
    sa.column("report_id", sa.Integer()),
    sa.column("event", sa.String()),
    sa.column("from_state", sa.String()),
    sa.column("to_state", sa.String()),
    sa.column("actor_id", sa.Integer()),
    sa.column("actor_role", sa.String()),
    sa.column("at", models.base.UTCDateTime()),
    sa.column("reason", sa.String()),
    sa.column("flow_run_id", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
application = sa.table("application", sa.column("id", sa.Integer()), sa.column("audit_head", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("audit_head", sa.String(length=64), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)


def _backfill(bind: sa.engine.Connection) -> None:
    columns = [audit_event.c.id, *(audit_event.c[name] for name in HASHED_FIELDS)]
    query = sa.select(*columns).order_by(audit_event.c.application_id, audit_event.c.id)
    set_event = (
        sa.update(audit_event)
        .where(audit_event.c.id == sa.bindparam("event_id"))
        .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash"))
    )
    set_head = (
        sa.update(application).where(application.c.id == sa.bindparam("app_id")).values(audit_head=sa.bindparam("head"))
    )
    rows = bind.execute(query).all()  # read everything first: the updates share the connection
    updates: list[dict[str, Any]] = []
    heads: dict[int, str] = {}
    for row in rows:
        prev = heads.get(row.application_id, GENESIS)
        digest = legacy_event_hash(row, prev)
        updates.append({"event_id": row.id, "new_prev": prev, "new_hash": digest})
        heads[row.application_id] = digest
        if len(updates) >= BATCH:
            bind.execute(set_event, updates)
            updates = []
    if updates:
        bind.execute(set_event, updates)
    head_rows = [{"app_id": app_id, "head": head} for app_id, head in heads.items()]
    for start in range(0, len(head_rows), BATCH):
        bind.execute(set_head, head_rows[start : start + BATCH])


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy would DROP TABLE application,
    # which the foreign keys of the other tables forbid
    op.drop_column("application", "audit_head")
    op.drop_column("audit_event", "hash")
    op.drop_column("audit_event", "prev_hash")
