"""Benchmark (issue 15, attack 4): a batch of 300 mails with one poisoned address, delivered for real.

Writes 300 due outbox rows straight into a new PostgreSQL database (as rows stored before the input
rule would be; ``bench/database.py``: on an embedded server of its own in a temporary folder, or on the
server of ``--postgres``), one of them addressed to ``pec@x.example\\r\\nBcc: spia@x.example``; starts
the project's capture server (``registro.mailcatcher``, its own process, as ``registro run`` does) on a
free port of 127.0.0.1; runs one delivery (``tasks.delivery.deliver``) and prints what the server received, what the
database says of each row (sent / failed with its reason / still leased) and the time taken; then runs
the delivery again a minute and an hour later and checks that nothing is sent twice.

    .venv/bin/python bench/poisoned_batch.py                       # poisoned row first
    .venv/bin/python bench/poisoned_batch.py --position 150 --repeat 3
    .venv/bin/python bench/poisoned_batch.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Before the fix the email library's ``HeaderParseError`` escaped the delivery: with the poisoned row
first, 0 delivered, 300 left leased and retried every 10 minutes with the same result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from database import add_postgres_option, describe, fresh_database  # noqa: E402

AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
POISON = "pec@x.example\r\nBcc: spia@x.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configure(database_url: str) -> None:
    """Points the settings at ``database_url`` (``bench/database.py``) and a new data folder."""
    os.environ["REGISTRO_DATA_DIR"] = tempfile.mkdtemp(prefix="registro-bench-poison-")
    os.environ["REGISTRO_DATABASE_URL"] = database_url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def queue(run: int, count: int, position: int) -> None:
    from sqlalchemy import insert

    from models.enums import NotificationStatus
    from models.notification import Notification
    from registro.db import session_scope

    rows = [
        {
            "idempotency_key": f"decision:run{run}:{n}",
            "kind": "decision",
            "recipient": POISON if n == position else f"distretto{n}@pec.example.it",
            "subject": f"Esito del procedimento – domanda n. {n}",
            "body_text": f"La domanda n. {n} è stata accolta.\n" + "Testo della comunicazione. " * 40,
            "body_html": f"<p>La domanda n. {n} è stata accolta.</p>",
            "status": NotificationStatus.QUEUED,
            "attempts": 0,
            "created_at": AS_OF,
            "next_attempt_at": AS_OF,
        }
        for n in range(1, count + 1)
    ]
    with session_scope() as session:
        session.execute(insert(Notification), rows)
        session.commit()


def outcome() -> dict[str, list[tuple[str, str | None, datetime | None]]]:
    from sqlmodel import select

    from models.notification import Notification
    from registro.db import session_scope

    found: dict[str, list[tuple[str, str | None, datetime | None]]] = {}
    with session_scope() as session:
        for row in session.exec(select(Notification)):
            found.setdefault(row.status.value, []).append((row.recipient, row.last_error, row.next_attempt_at))
        session.commit()
    return found


def envelope_recipients(folder: Path) -> list[str]:
    return [str(BytesHeaderParser().parsebytes(p.read_bytes())["X-Envelope-To"]) for p in folder.glob("*.eml")]


def one_run(run: int, count: int, position: int) -> float:
    from models.notification import Notification
    from notifications.sender import SmtpConfig
    from registro.db import session_scope
    from registro.mailcatcher import READY_LINE
    from tasks.delivery import deliver

    with session_scope() as session:  # each run on an empty outbox
        session.execute(Notification.__table__.delete())  # type: ignore[attr-defined]
        session.commit()
    queue(run, count, position)
    port, folder = free_port(), Path(tempfile.mkdtemp(prefix="registro-bench-mail-"))
    server = subprocess.Popen(
        [sys.executable, "-m", "registro.mailcatcher", "--port", str(port), "--dir", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith(READY_LINE):
                break
        threading.Thread(target=server.stdout.read, daemon=True).start()  # drain its log
        config = SmtpConfig(host="127.0.0.1", port=port, mail_from="registro@regione.example", timeout=10)
        started = time.perf_counter()
        report = asyncio.run(deliver(as_of=AS_OF, limit=1000, config=config))
        seconds = time.perf_counter() - started
        received = envelope_recipients(folder)
        states = outcome()
        leased = [r for r in states.get("queued", []) if r[2] is not None and r[2] > AS_OF]
        print(f"  giro {run}: {len(report.sent)} inviate, {len(report.failed)} non recapitate, "
              f"{len(report.released)} rilasciate, errore SMTP: {report.smtp_error or 'nessuno'} — {seconds:.2f} s "
              f"({len(report.sent) / seconds:.0f} mail/s)")  # fmt: skip
        print(f"    il server ha ricevuto {len(received)} messaggi, {len(set(received))} destinatari distinti; "
              f"nessuno a spia@x.example: {all('spia' not in r for r in received)}")  # fmt: skip
        print("    nella banca dati: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(states.items()))
              + f"; ancora riservate (lease) {len(leased)}")  # fmt: skip
        for recipient, reason, _ in states.get("failed", []):
            print(f"    non recapitata {recipient!r}: {reason}")
        for later in (AS_OF + timedelta(minutes=1), AS_OF + timedelta(hours=1)):
            again = asyncio.run(deliver(as_of=later, limit=1000, config=config))
            assert again.claimed == 0 and not again.sent, again
        assert len(envelope_recipients(folder)) == len(received), "un secondo giro ha inviato di nuovo"
        print("    secondo e terzo giro (dopo 1 minuto e dopo 1 ora): 0 prese in carico, 0 inviate di nuovo")
        assert len(report.sent) == count - 1 and len(report.failed) == 1 and not leased
    finally:
        server.terminate()
        server.wait(timeout=30)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--position", type=int, default=1, help="posizione della mail avvelenata nel lotto (da 1)")
    parser.add_argument("--repeat", type=int, default=1)
    add_postgres_option(parser)
    args = parser.parse_args()
    with fresh_database(args.postgres) as database_url:
        configure(database_url)
        run(args, describe(args.postgres))


def run(args: argparse.Namespace, kind: str) -> None:
    from registro import db
    from registro.bootstrap import migrate

    migrate(db.get_engine())
    print(f"{args.mails} mail, una avvelenata ({POISON!r}) in posizione {args.position}, su {kind}, "
          f"al server di cattura registro.mailcatcher su 127.0.0.1 ({os.cpu_count()} core, "
          f"{datetime.now():%d/%m/%Y %H:%M}):")  # fmt: skip
    try:
        times = [one_run(run, args.mails, args.position) for run in range(1, args.repeat + 1)]
        print(f"Tempo della consegna del lotto: {min(times):.2f}–{max(times):.2f} s su {len(times)} giri")
    finally:
        db.get_engine().dispose()


if __name__ == "__main__":
    main()
