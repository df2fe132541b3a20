"""Benchmark: the daily sweeps over 10,000 active registry entries, and mail delivery to a local server.

Seeds N active districts (bulk inserts: district, representative, active application, registry
entry with validity ends spread over three years) in a new PostgreSQL database (``bench/database.py``:
on an embedded server of its own in a temporary folder, or created on the server of ``--postgres``
and dropped at the end) — then times one day of sweeps on the
report cycle's opening day (every entry gets its report opened and its first mail; those near the
end of validity get their reminder), then the same day again (must queue 0), and prints wall time,
peak resident memory of the process and mails queued. Last, it
delivers a batch of the queued mails over one SMTP connection to a local aiosmtpd capture server
and prints the rate.

    .venv/bin/python bench/sweeps.py                                  # embedded PostgreSQL
    .venv/bin/python bench/sweeps.py --entries 500 --deliver 200      # a quick check
    .venv/bin/python bench/sweeps.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from database import add_postgres_option, describe, fresh_database  # noqa: E402

T = TypeVar("T")
AS_OF = date(2027, 1, 4)  # a Monday: the 2026 reports are open, their first mail is due


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configure(database_url: str) -> None:
    """Points the settings at ``database_url`` (``bench/database.py``) and a new data folder."""
    data_dir = Path(tempfile.mkdtemp(prefix="registro-bench-sweeps-"))
    os.environ["REGISTRO_DATA_DIR"] = str(data_dir)
    os.environ["REGISTRO_DATABASE_URL"] = database_url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def seed(entries: int) -> float:
    from sqlalchemy import insert

    from models.application import Application
    from models.district import District
    from models.enums import ApplicationKind, Role, State
    from models.people import User
    from models.registry import RegistryEntry
    from registro.db import session_scope
    from registro.passwords import hash_password

    started = time.perf_counter()
    now = datetime(2026, 1, 10, 9, tzinfo=UTC)
    password = hash_password("bench-non-usare")
    sections = [1, 2, 3, 4, 6, 7]
    with session_scope() as session:
        for office in ("ricerca", "agricoltura"):
            session.add(
                User(
                    username=f"funz.{office}",
                    full_name=f"Funzionario {office}",
                    email=f"funz.{office}@regione.example",
                    role=Role.OFFICIAL,
                    office=office,
                    password_hash=password,
                    created_at=now,
                )
            )
        session.commit()
        for start in range(1, entries + 1, 1000):
            block = range(start, min(start + 1000, entries + 1))
            session.execute(
                insert(District),
                [
                    {
                        "id": n,
                        "name": f"Distretto {n:05d}",
                        "section": sections[n % 6],
                        "supply_chain": "filiera",
                        "territory": "Puglia",
                        "representative_org": f"Consorzio {n}",
                        "pec_email": f"d{n}@pec.example.it",
                        "created_at": now,
                    }
                    for n in block
                ],
            )
            session.execute(
                insert(User),
                [
                    {
                        "username": f"rapp{n:05d}",
                        "full_name": f"Rappresentante {n}",
                        "email": f"rapp{n}@example.it",
                        "role": Role.REPRESENTATIVE,
                        "district_id": n,
                        "password_hash": password,
                        "active": True,
                        "created_at": now,
                    }
                    for n in block
                ],
            )
            session.execute(
                insert(Application),
                [
                    {
                        "id": n,
                        "district_id": n,
                        "kind": ApplicationKind.RECOGNITION,
                        "section": sections[n % 6],
                        "state": State.ACTIVE,
                        "version": 5,
                        "observation_rounds": 0,
                        "programme_summary": "",
                        "specificity": "",
                        "created_at": now,
                        "updated_at": now,
                        "activated_at": now,
                    }
                    for n in block
                ],
            )
            session.execute(
                insert(RegistryEntry),
                [
                    {
                        "district_id": n,
                        "application_id": n,
                        "section": sections[n % 6],
                        "registered_on": date(2026, 1, 10) - timedelta(days=n % 700),
                        "valid_from": date(2026, 1, 10) - timedelta(days=n % 700),
                        "valid_until": AS_OF + timedelta(days=n % 1095),
                        "enterprises": 55,
                        "employees": 220,
                    }
                    for n in block
                ],
            )
            session.commit()
        from sqlalchemy import text

        for table in ("district", "application"):
            session.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        session.execute(text("ANALYZE"))
        session.commit()
    return time.perf_counter() - started


def measured(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, seconds, the process's resident peak in MB so far). Modules are imported before."""
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return result, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_day() -> Any:
    from models.profiles import load_profile
    from registro.db import session_scope
    from registro.settings import get_settings
    from registro.simulated_days import sweep_day

    with session_scope() as session:
        return sweep_day(session, profile=load_profile(get_settings().profile), as_of=AS_OF)


def deliver(count: int) -> tuple[int, float]:
    """Sends ``count`` queued mails to a local aiosmtpd capture server run as its own process,
    as ``registro run`` does: (mails sent, seconds)."""
    import subprocess

    from notifications.sender import SmtpConfig
    from registro.mailcatcher import READY_LINE
    from registro.settings import get_settings
    from tasks.delivery import deliver as deliver_outbox

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="registro-bench-mail-"))
    server = subprocess.Popen(
        [sys.executable, "-m", "registro.mailcatcher", "--port", str(port), "--dir", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith(READY_LINE):
                break
        threading.Thread(target=server.stdout.read, daemon=True).start()  # drain its log
        settings = get_settings()
        config = SmtpConfig(
            host="127.0.0.1", port=port, mail_from=settings.mail_from, connections=settings.smtp_connections
        )
        as_of = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
        started = time.perf_counter()
        report = asyncio.run(deliver_outbox(as_of=as_of, limit=count, config=config))
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    captured = len(list(folder.glob("*.eml")))
    assert captured == len(report.sent), f"inviate {len(report.sent)}, ricevute {captured}"
    return len(report.sent), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--deliver", type=int, default=2_000, help="quante mail consegnare al server locale")
    add_postgres_option(parser)
    args = parser.parse_args()
    with fresh_database(args.postgres) as database_url:
        configure(database_url)
        run(args, describe(args.postgres))


def run(args: argparse.Namespace, kind: str) -> None:
    from registro import db
    from registro.bootstrap import migrate
    from registro.settings import get_settings

    migrate(db.get_engine())
    import registro.simulated_days  # noqa: F401  (Prefect and the tasks load before the clock starts)

    try:
        print(f"{kind}: {args.entries} iscrizioni attive…", flush=True)
        print(f"  preparazione: {seed(args.entries):.1f} s", flush=True)
        first, seconds, peak = measured(one_day)
        print(f"Giornata di sweep del {AS_OF:%d/%m/%Y} (scadenze, relazioni annuali, promemoria) su {kind}:")
        print(f"  prima esecuzione:  {seconds:6.2f} s, memoria residente di picco {peak:6.0f} MB")
        print(
            f"    relazioni aperte {first.reports_opened}, mail accodate {first.mails_queued} "
            f"(relazioni {first.report_reminders}, segnalazioni {first.report_escalations}, "
            f"altri promemoria {first.reminders.queued}), scadute {len(first.expiry.expired)}"
        )
        second, seconds2, peak2 = measured(one_day)
        print(
            f"  seconda esecuzione: {seconds2:6.2f} s, picco {peak2:6.0f} MB, mail accodate {second.mails_queued}, "
            f"relazioni aperte {second.reports_opened}"
        )
        sent, delivery_seconds = deliver(args.deliver)
        print(
            f"Consegna SMTP a aiosmtpd locale ({get_settings().smtp_connections} connessioni): "
            f"{sent} mail in {delivery_seconds:.2f} s "
            f"= {sent / delivery_seconds:.0f} mail/s"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Picco di memoria residente (tutto il benchmark): {rss:.0f} MB; macchina: {os.cpu_count()} core")
    finally:
        db.get_engine().dispose()
        print(f"(dati in {get_settings().data_dir})")


if __name__ == "__main__":
    main()
