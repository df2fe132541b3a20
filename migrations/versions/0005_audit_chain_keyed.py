"""audit chain keyed: HMAC-SHA256 with REGISTRO_AUDIT_KEY instead of plain SHA-256

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:00:00

Databases written by earlier versions hold plain SHA-256 chains (``legacy_event_hash``). This
migration first verifies every such chain as it stands and refuses (the whole upgrade is rolled back,
the database is left as it was) if any link is already broken: re-keying a chain someone has edited
would launder the edit. Then it recomputes every event's ``prev_hash``/``hash`` and every
application's ``audit_head`` with the HMAC and the key of the settings; the canonical form does not
change. The downgrade does the reverse, after verifying the keyed chain the same way.

A migration rather than a command of its own: ``registro init-db``/``registro run`` (and production's
``registro init-db``) bring every database to ``alembic upgrade head`` before anything writes, and the
re-keying commits with the schema revision in one transaction, so no database can run the new code
(which writes keyed events) on an unkeyed chain, and no operator step can be forgotten.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import models.base
from models.audit_chain import GENESIS, HASHED_FIELDS, ChainRefused, chain_key, keyed, legacy_event_hash, walk

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLICATIONS_PER_PASS = 500  # events of this many applications in memory at a time
SHOWN = 20  # broken links named in the refusal

Digest = Callable[[Any, str], str]

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
    _rehash(op.get_bind(), verify_with=legacy_event_hash, write_with=keyed(chain_key()), what="SHA-256")


def downgrade() -> None:
    _rehash(op.get_bind(), verify_with=keyed(chain_key()), write_with=legacy_event_hash, what="HMAC")


def _rehash(bind: sa.engine.Connection, *, verify_with: Digest, write_with: Digest, what: str) -> None:
    app_ids = list(bind.execute(sa.select(application.c.id).order_by(application.c.id)).scalars())
    broken: list[str] = []
    for start in range(0, len(app_ids), APPLICATIONS_PER_PASS):
        chunk = app_ids[start : start + APPLICATIONS_PER_PASS]
        heads = dict(
            bind.execute(sa.select(application.c.id, application.c.audit_head).where(application.c.id.in_(chunk))).all()
        )
        columns = [audit_event.c.id, audit_event.c.prev_hash, audit_event.c.hash]
        columns += [audit_event.c[name] for name in HASHED_FIELDS]
        rows = bind.execute(
            sa.select(*columns)
            .where(audit_event.c.application_id.in_(chunk))
            .order_by(audit_event.c.application_id, audit_event.c.id)
        ).all()  # read before writing: the updates share the connection
        report = walk([rows], heads, verify_with)
        broken += [link.message for link in report.broken]
        if not broken:  # once anything is broken the transaction is rolled back: no need to write
            _write(bind, rows, write_with)
    if broken:
        shown = "; ".join(broken[:SHOWN]) + (f"; … e altre {len(broken) - SHOWN}" if len(broken) > SHOWN else "")
        raise ChainRefused(
            f"catena dell'audit ({what}) già rotta in {len(broken)} {'domanda' if len(broken) == 1 else 'domande'}:"
            " non viene ricalcolata con la"
            f" nuova chiave, il database resta com'era. {shown}. Ripristinare un backup integro o"
            " verificare gli eventi indicati prima di aggiornare."
        )


def _write(bind: sa.engine.Connection, rows: Sequence[Any], digest: Digest) -> None:
    set_event = (
        sa.update(audit_event)
        .where(audit_event.c.id == sa.bindparam("event_id"))
        .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash"))
    )
    set_head = (
        sa.update(application).where(application.c.id == sa.bindparam("app_id")).values(audit_head=sa.bindparam("head"))
    )
    updates: list[dict[str, Any]] = []
    heads: dict[int, str] = {}
    for row in rows:
        prev = heads.get(row.application_id, GENESIS)
        new = digest(row, prev)
        updates.append({"event_id": row.id, "new_prev": prev, "new_hash": new})
        heads[row.application_id] = new
    if updates:
        bind.execute(set_event, updates)
        bind.execute(set_head, [{"app_id": app_id, "head": head} for app_id, head in heads.items()])
