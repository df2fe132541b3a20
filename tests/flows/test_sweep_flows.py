"""The scheduled sweeps run as real Prefect flows (test server): one flow run each, idempotent by day,
the expiry recorded with the sweep's flow-run id; and the project's prefect.yaml serves them on cron."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from flows.sweeps import annual_report_cycle, daily_reminders, expiry_sweep
from models.enums import Event, State
from models.procedure import AuditEvent
from models.registry import AnnualReport
from registro.serve import PROJECT_ROOT, build_deployments
from tests.factories import Factory, Journey

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


def test_sweeps_as_flows(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.to_active()  # valid until 2029-03-06
    opened = annual_report_cycle(as_of=date(2027, 1, 1))
    assert (opened.year, opened.opened, opened.reminders) == (2026, 1, 2)
    again = annual_report_cycle(as_of=date(2027, 1, 1))
    assert (again.opened, again.reminders, again.escalations) == (0, 0, 0)
    assert session.exec(select(AnnualReport.state)).one() == State.REPORT_OPEN
    reminders = daily_reminders(as_of=date(2029, 3, 6) - timedelta(days=30))
    assert reminders["queued"]["validity_ending"] == 2 and reminders["total"] == 2
    assert daily_reminders(as_of=date(2029, 3, 6) - timedelta(days=30))["total"] == 0
    state = expiry_sweep(as_of=date(2029, 3, 7), return_state=True)
    assert state.is_completed()
    assert state.result().expired == [j.app.id]
    audit = session.exec(select(AuditEvent).where(AuditEvent.event == Event.EXPIRE)).one()
    assert audit.flow_run_id == str(state.state_details.flow_run_id)


def test_prefect_yaml_schedules_the_daily_sweeps_in_rome_time() -> None:
    deployments = {d.flow_name: d for d in build_deployments(PROJECT_ROOT / "prefect.yaml")}
    for name, cron in (
        ("expiry-sweep", "0 6 * * *"),
        ("annual-report-cycle", "10 6 * * *"),
        ("daily-reminders", "20 6 * * *"),
    ):
        schedule = (deployments[name].schedules or [])[0].schedule
        assert (schedule.cron, schedule.timezone) == (cron, "Europe/Rome")  # type: ignore[union-attr]
