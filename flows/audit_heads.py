"""Scheduled sweep: the day's audit chain heads mailed to the archive (``tasks/audit_heads.py``).

Runs at 23:50 in Rome (``prefect.yaml``), after the day's work, so the record closes the day; its mail
leaves with the next ``deliver-outbox`` run, a minute later. Takes ``as_of`` (default: today in Rome;
a later day is refused) and is idempotent: a second run for the same day queues nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow

from models.base import local_date
from tasks.audit_heads import AuditHeadsReport, audit_heads_task


class AuditChainBroken(Exception):
    """The walk found broken links: the record is queued (with them) and the run fails, for operators to see."""


@flow(name="audit-heads", flow_run_name="audit-heads-{as_of}")
def audit_heads(as_of: date | None = None) -> AuditHeadsReport:
    """Impronte giornaliere dell'audit: per ogni domanda, numero di eventi e impronta dell'ultimo, con il
    loro HMAC, inviati in conservazione all'indirizzo REGISTRO_AUDIT_ARCHIVE_EMAIL."""
    now = datetime.now(UTC)
    report = audit_heads_task(as_of or local_date(now), now)
    if report.broken:
        raise AuditChainBroken(
            f"catena dell'audit rotta in {len(report.broken)} {'domanda' if len(report.broken) == 1 else 'domande'}"
            " (registro inviato comunque): " + "; ".join(report.broken[:5])
        )
    return report
