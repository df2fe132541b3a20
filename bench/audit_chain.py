"""Benchmark: ``registro audit-verify`` over many events, keyed (HMAC-SHA256) against plain SHA-256.

Seeds N active applications (``bench/sweeps.py``'s bulk seed) with E audit events each, chained with
the audit key, in a new PostgreSQL database (``bench/database.py``: on an embedded server of its own in
a temporary folder, or created on the server of ``--postgres`` and dropped at the end).
Then prints: the walk of the same rows in memory with each digest (SHA-256 as before migration 0005,
HMAC as now: the difference is the key's cost), the whole ``audit-verify`` from the database, the day's
record of heads (``audit-heads``: time and size of the mail) and ``audit-verify --teste`` with it.

    .venv/bin/python bench/audit_chain.py                         # 10,000 applications x 10 events
    .venv/bin/python bench/audit_chain.py --applications 200 --repeat 1   # a quick check
    .venv/bin/python bench/audit_chain.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from database import add_postgres_option, describe, fresh_database  # noqa: E402
from sweeps import configure, seed  # noqa: E402  (bench/sweeps.py: the same seed of applications)

DAY = date(2026, 3, 20)


@dataclass
class Row:
    """An audit event as ``walk`` reads it (the hashed fields, id, prev_hash, hash)."""

    id: int
    subject: str
    application_id: int
    report_id: int | None
    event: str
    from_state: str
    to_state: str
    actor_id: int | None
    actor_role: str
    at: datetime
    reason: str | None
    flow_run_id: str | None
    details: dict[str, Any]
    prev_hash: str = ""
    hash: str = ""


STEPS = [("submit", "draft", "submitted"), ("start_review", "submitted", "completeness_check")]


def events_of(applications: int, per_application: int) -> list[Row]:
    start = datetime(2026, 1, 10, 9, tzinfo=UTC)
    rows: list[Row] = []
    for app_id in range(1, applications + 1):
        for n in range(per_application):
            event, source, target = STEPS[n % 2]
            rows.append(
                Row(
                    id=len(rows) + 1, subject="application", application_id=app_id, report_id=None, event=event,
                    from_state=source, to_state=target, actor_id=None, actor_role="system",
                    at=start + timedelta(hours=n), reason="termine decorso" if n % 3 else None,
                    flow_run_id="0d8c1f2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f", details={"nota": f"evento {n} €"},
                )
            )  # fmt: skip
    return rows


def chain(rows: list[Row], digest: Callable[[Any, str], str]) -> dict[int, str | None]:
    heads: dict[int, str | None] = {}
    for row in rows:
        row.prev_hash = heads.get(row.application_id) or "0" * 64
        row.hash = digest(row, row.prev_hash)
        heads[row.application_id] = row.hash
    return heads


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def span(times: list[float]) -> str:
    return f"{min(times):.2f}-{max(times):.2f} s (mediana {statistics.median(times):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10, help="eventi per domanda")
    parser.add_argument("--repeat", type=int, default=5)
    add_postgres_option(parser)
    args = parser.parse_args()
    with fresh_database(args.postgres) as database_url:
        configure(database_url)
        try:
            run(args)
        finally:
            from registro import db
            from registro.settings import get_settings

            db.get_engine().dispose()
            shutil.rmtree(get_settings().data_dir, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    from sqlalchemy import insert, update

    from models.application import Application
    from models.audit_chain import chain_key, keyed, legacy_event_hash, walk
    from models.procedure import AuditEvent
    from registro import audit, db
    from registro.bootstrap import migrate
    from registro.settings import get_settings
    from tasks.audit_heads import queue_audit_heads

    migrate(db.get_engine())
    seed(args.applications)
    rows = events_of(args.applications, args.events)
    key = chain_key()
    total = len(rows)
    print(f"{total} eventi su {args.applications} domande ({describe(args.postgres)})")

    # the same events chained each way; walked in alternation (the machine's other load hits both alike),
    # timed in CPU seconds of this process
    digests = {"SHA-256 (prima della 0005)": legacy_event_hash, "HMAC-SHA256 con la chiave": keyed(key)}
    chains = {name: (copy.deepcopy(rows), digest) for name, digest in digests.items()}
    chain_heads = {name: chain(chained, digest) for name, (chained, digest) in chains.items()}
    cpu: dict[str, list[float]] = {name: [] for name in digests}
    for _ in range(args.repeat):
        for name, (chained, digest) in chains.items():
            started = time.process_time()
            assert walk([chained], dict(chain_heads[name]), digest).ok
            cpu[name].append(time.process_time() - started)
    for name, times in cpu.items():
        print(f"  verifica in memoria, {name}: CPU {span(times)}, {total / statistics.median(times):,.0f} eventi/s")
    rows, heads = chains["HMAC-SHA256 con la chiave"][0], chain_heads["HMAC-SHA256 con la chiave"]

    with db.session_scope() as session:  # the keyed chain (the last one computed) into the database
        for start in range(0, total, 5000):
            session.execute(insert(AuditEvent), [vars(row) for row in rows[start : start + 5000]])
        session.execute(
            update(Application),
            [{"id": app_id, "audit_head": head} for app_id, head in heads.items()],
        )
        session.commit()

    def verify_all(*witnesses: Path) -> int:
        with db.read_scope() as session:
            return audit.check(session, lambda _line: None, witnesses=witnesses, key=key)

    code, times = timed(verify_all)
    assert code == 0
    print(f"  registro audit-verify dal database: {span(times)}")

    with db.session_scope() as session:
        started = time.perf_counter()
        made = queue_audit_heads(session, as_of=DAY, now=datetime(2026, 3, 20, 22, 50, tzinfo=UTC))
        seconds = time.perf_counter() - started
        from sqlmodel import select

        from models.notification import Notification

        body = session.exec(select(Notification.body_text)).one()
    print(f"  impronte del giorno ({made.applications} domande): {seconds:.2f} s, mail di {len(body) / 1e6:.2f} MB")
    record = get_settings().data_dir / "impronte.txt"
    record.write_text(body, encoding="utf-8")
    code, times = timed(lambda: verify_all(record))
    assert code == 0
    print(f"  registro audit-verify --teste: {span(times)}")


if __name__ == "__main__":
    main()
