"""Scheduled sweep: deliver the outbox (every minute, see ``prefect.yaml``)."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow

from flows.as_of import sweep_moment
from tasks.delivery import DeliveryReport, deliver_task


class SmtpUnavailable(Exception):
    """The SMTP server could not be reached: the run fails (visible to operators), no row is lost."""


@flow(name="deliver-outbox", flow_run_name="deliver-outbox")
async def deliver_outbox(limit: int = 500, as_of: datetime | None = None) -> DeliveryReport:
    """Sends the queued notifications due at ``as_of`` (default: now) over one SMTP connection."""
    as_of = sweep_moment(as_of, now=datetime.now(UTC))  # not a moment still to come (flows.as_of)
    report = await deliver_task(as_of, limit)
    if report.smtp_error:
        raise SmtpUnavailable(
            f"server SMTP non raggiungibile ({report.smtp_error}): {len(report.sent)} inviati, "
            f"{len(report.released)} restano in coda per il prossimo giro"
        )
    return report
