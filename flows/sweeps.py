"""The daily sweeps, one flow run each (scheduled in ``prefect.yaml``, cron in Europe/Rome).

Each takes ``as_of`` (default: today in Rome; a later day is refused), is idempotent (a second
run for the same day moves nothing and queues no mail) and set-based: one task, a few queries, work in chunks — never a
Prefect task per district. Mails are outbox rows: ``deliver-outbox`` sends them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow

from flows.as_of import sweep_day
from flows.stages import current_flow_run_id
from tasks.expiry import ExpiryReport, expiry_task
from tasks.reminders import daily_reminders_task
from tasks.report_cycle import ReportCycleReport, report_cycle_task


def _day(as_of: date | None) -> date:
    return sweep_day(as_of, now=datetime.now(UTC))  # a day still to come is refused (flows.as_of)


@flow(name="expiry-sweep", flow_run_name="expiry-sweep-{as_of}")
def expiry_sweep(as_of: date | None = None) -> ExpiryReport:
    """Scadenze: entries past their validity without a pending renewal expire; integration terms
    passed without an answer close the application as inadmissible."""
    return expiry_task(_day(as_of), current_flow_run_id())


@flow(name="annual-report-cycle", flow_run_name="annual-report-cycle-{as_of}")
def annual_report_cycle(as_of: date | None = None) -> ReportCycleReport:
    """Relazione annuale: opens the year's reports on the profile's date, reminds before and after the
    due date, tells the official after the grace period."""
    return report_cycle_task(_day(as_of))


@flow(name="daily-reminders", flow_run_name="daily-reminders-{as_of}")
def daily_reminders(as_of: date | None = None) -> dict[str, Any]:
    """Promemoria: integration answers and observations due, procedure terms about to lapse, validity
    ending in 180/90/30 days."""
    return daily_reminders_task(_day(as_of))
