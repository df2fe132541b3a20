"""Crash tests with real processes: the mail delivery killed (SIGKILL) in the middle of a batch, then
started again, against a real SMTP server in its own process (and the annual-report sweep killed the
same way). Nothing may be lost and nothing sent twice: the message the dead process was handing to the
server is never resent blindly — it is marked uncertain, for a person to check the PEC receipts and
put it back in the queue."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.application import Application
from models.district import District
from models.enums import NotificationStatus, State
from models.notification import Notification
from models.registry import AnnualReport, RegistryEntry
from notifications.sender import message_id
from registro.mailcatcher import READY_LINE
from tasks.delivery import LEASE

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]

MESSAGES = 300
KILL_AFTER = 60  # messages captured before the SIGKILL
AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DELIVER = """
import asyncio, sys
from datetime import datetime
from notifications.sender import SmtpConfig
from tasks.delivery import deliver
report = asyncio.run(deliver(as_of=datetime.fromisoformat(sys.argv[1]), limit=1000,
                             config=SmtpConfig(host="127.0.0.1", port=int(sys.argv[2]),
                                               mail_from="registro@regione.example", timeout=10)))
print(f"inviati={len(report.sent)} rilasciati={len(report.released)} errore={report.smtp_error}")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _queue(session: Session) -> list[str]:
    rows = [
        Notification(
            idempotency_key=f"crash:{n}",
            kind="decision",
            recipient=f"distretto{n}@pec.example.it",
            subject=f"Esito del procedimento n. {n}",
            body_text=f"La domanda n. {n} è stata accolta.\n" + "Testo della comunicazione. " * 40,
            body_html=f"<p>La domanda n. {n} è stata accolta.</p>",
            created_at=AS_OF,
            next_attempt_at=AS_OF,
        )
        for n in range(MESSAGES)
    ]
    session.add_all(rows)
    session.commit()
    return [row.idempotency_key for row in rows]


def _captured_ids(folder: Path) -> list[str]:
    ids = []
    for path in folder.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        ids.append(str(message["Message-ID"]))
    return ids


def test_delivery_killed_mid_batch_then_restarted_loses_nothing(
    clean_db: Engine, session: Session, tmp_path: Path
) -> None:
    keys = _queue(session)
    mail_dir, port = tmp_path / "posta", _free_port()
    env = {**os.environ, "REGISTRO_DATABASE_URL": clean_db.url.render_as_string(hide_password=False)}
    catcher = subprocess.Popen(
        [sys.executable, "-m", "registro.mailcatcher", "--port", str(port), "--dir", str(mail_dir)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert catcher.stdout is not None and READY_LINE in catcher.stdout.readline()
        # 1. a delivery run, killed with SIGKILL once the server has accepted KILL_AFTER messages
        run = [sys.executable, "-c", DELIVER, AS_OF.isoformat(), str(port)]
        first = subprocess.Popen(run, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(list(mail_dir.glob("*.eml"))) < KILL_AFTER and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert first.poll() is None, "la consegna è finita prima dell'interruzione: aumentare MESSAGES"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        before_restart = len(list(mail_dir.glob("*.eml")))
        assert KILL_AFTER <= before_restart < MESSAGES

        # 2. the next scheduled run, after the dead run's lease has expired, finishes the batch
        later = AS_OF + LEASE + timedelta(minutes=1)
        done = subprocess.run(
            [sys.executable, "-c", DELIVER, later.isoformat(), str(port)],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        catcher.terminate()
        catcher.wait(timeout=10)

    rows = session.exec(select(Notification.idempotency_key, Notification.status)).all()
    session.commit()
    status_of = dict(rows)
    captured = Counter(_captured_ids(mail_dir))
    of_key = {key: message_id(key, "registro@regione.example") for key in keys}
    duplicated = sum(count - 1 for count in captured.values())
    sent = [k for k, s in status_of.items() if s == NotificationStatus.SENT]
    uncertain = [k for k, s in status_of.items() if s == NotificationStatus.UNCERTAIN]
    lost = [k for k, s in status_of.items() if s != NotificationStatus.UNCERTAIN and captured[of_key[k]] == 0]
    print(
        f"\nconsegna interrotta (SIGKILL) dopo {before_restart}/{MESSAGES} messaggi: persi {len(lost)}, "
        f"duplicati {duplicated}, con esito incerto da verificare {len(uncertain)}"
    )
    assert duplicated == 0  # nothing sent twice
    assert not lost and len(sent) + len(uncertain) == MESSAGES  # everything sent, or held for a person
    assert all(captured[of_key[k]] == 1 for k in sent)
    assert len(uncertain) <= 1  # at most the message the dead process was handing over


SWEEP = """
import sys
from datetime import date
from tasks.report_cycle import run_report_cycle
report = run_report_cycle(date.fromisoformat(sys.argv[1]))
print(f"anno={report.year} aperte={report.opened} promemoria={report.reminders}")
"""
DISTRICTS = 4000


def _active_districts(session: Session, n: int) -> None:
    """n districts active in the registry since 2026, each with a PEC address (bulk, no procedure)."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    districts = [District(name=f"Distretto di prova {i}", section=1, pec_email=f"d{i}@pec.example.it",
                          created_at=start) for i in range(n)]  # fmt: skip
    session.add_all(districts)
    session.flush()
    applications = [
        Application(district_id=d.id or 0, section=1, state=State.ACTIVE, created_at=start, updated_at=start)
        for d in districts
    ]
    session.add_all(applications)
    session.flush()
    day = start.date()
    session.add_all(
        RegistryEntry(
            district_id=a.district_id,
            application_id=a.id or 0,
            section=1,
            registered_on=day,
            valid_from=day,
            valid_until=date(2029, 3, 1),
        )
        for a in applications
    )
    session.commit()


def test_report_sweep_killed_mid_way_then_rerun_opens_and_mails_each_once(clean_db: Engine, session: Session) -> None:
    _active_districts(session, DISTRICTS)
    env = {**os.environ, "REGISTRO_DATABASE_URL": clean_db.url.render_as_string(hide_password=False)}
    as_of = "2027-01-04"  # the 2026 reports open
    first = subprocess.Popen([sys.executable, "-c", SWEEP, as_of], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    # watched through a plain engine: its reads take no lock and never wait for the sweep
    watcher = create_engine(clean_db.url)
    deadline = time.monotonic() + 120
    opened = queued_at_kill = 0
    with watcher.connect() as conn:
        while first.poll() is None and time.monotonic() < deadline:
            opened = conn.execute(text("SELECT count(*) FROM annual_report")).scalar_one()
            conn.commit()
            if opened >= 1000:  # the first chunk of reports is committed: the sweep is under way
                break
            time.sleep(0.002)
        assert first.poll() is None, "lo sweep è finito prima dell'interruzione: aumentare DISTRICTS"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        queued_at_kill = conn.execute(text("SELECT count(*) FROM notification")).scalar_one()
        conn.commit()
    watcher.dispose()
    assert queued_at_kill < DISTRICTS  # killed before the reminders were all queued

    for _ in range(2):  # the next day's run, then once more: the second finds nothing to do
        done = subprocess.run([sys.executable, "-c", SWEEP, as_of], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    reports = session.exec(select(AnnualReport.registry_entry_id, AnnualReport.year)).all()
    keys = session.exec(select(Notification.idempotency_key).where(Notification.kind == "report_due")).all()
    session.commit()
    assert len(reports) == len(set(reports)) == DISTRICTS  # each entry's 2026 report opened once
    assert len(keys) == len(set(keys)) == DISTRICTS  # one reminder per district's PEC, none twice
    print(f"\nsweep interrotto (SIGKILL) con {opened} relazioni aperte e {queued_at_kill} avvisi in coda; "
          f"dopo la ripresa: {len(reports)} relazioni, {len(keys)} avvisi, nessun doppione")  # fmt: skip
