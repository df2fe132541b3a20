"""Years in seconds: two districts recognised through HTTP, then the daily sweeps with ``as_of`` advancing
through three annual-report cycles. One files its reports (one of them late) and lets the recognition
lapse; the other files the renewal in time, is kept valid past its end date, and is confirmed from it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.application import Application
from models.notification import Notification
from models.profiles import RegionProfile
from registro.simulated_days import sweep_day
from tests.api_support import API, Clock, Http, People, act, draft_ready, fetch, to_active

REPORT = {"activities": [{"title": "Fiera di settore", "programme_objective": "Internazionalizzazione"}]}


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


RENEWAL_FILED = date(2028, 10, 2)  # after the 180-day reminder, before the 90-day one
RENEWAL_DECIDED = date(2029, 3, 20)  # after the old end date: the entry stayed valid meanwhile


def calendar() -> list[date]:
    """Every day of each report season (January–April) and of the weeks around the end of validity;
    one day a week otherwise (a reminder missed on a skipped day is sent on the next run)."""
    dense = {d for y in (2027, 2028, 2029) for d in days(date(y, 1, 1), date(y, 4, 30))}
    weekly = set(days(date(2026, 3, 3), date(2029, 6, 30))[::7])
    return sorted(dense | weekly | {RENEWAL_FILED, RENEWAL_DECIDED})


def mail_kinds(session: Session, application_ids: list[int]) -> Counter[str]:
    rows = fetch(session, select(Notification.kind).where(col(Notification.application_id).in_(application_ids)))
    return Counter(rows)


def test_three_report_cycles_then_expiry_and_a_renewal(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    lapsing = to_active(client, auth, people)  # 2026-03-02: valid until 2029-03-01
    renewing = to_active(client, auth, people, representative=people.other_rep)
    rep, other, off = people.rep, people.other_rep, people.official
    filings = {  # the day each report is filed by the lapsing district (2027 late: after the due date)
        date(2027, 4, 20): 2026,
        date(2028, 2, 15): 2027,
        date(2029, 2, 1): 2028,
    }
    renewal_id = 0
    for day in calendar():
        clock.now = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
        result = sweep_day(session, profile=profile, as_of=day)
        again = sweep_day(session, profile=profile, as_of=day)  # idempotent: nothing moves, nothing queued
        assert again.mails_queued == 0 and not again.expiry.expired and again.reports_opened == 0
        if day in filings:
            filed = client.put(
                f"{API}/districts/{people.district.id}/reports/{filings[day]}", json=REPORT, headers=auth(rep)
            )
            assert filed.status_code == 200, filed.text
            assert (
                client.post(f"{API}/reports/{filed.json()['id']}/actions/accept", headers=auth(off)).status_code == 200
            )
        if day.month == 3 and day.day == 1 and day.year in (2027, 2028, 2029):
            # the renewing district files each report on the first of March
            year = day.year - 1
            filed = client.put(
                f"{API}/districts/{people.other_district.id}/reports/{year}", json=REPORT, headers=auth(other)
            )
            assert filed.status_code == 200, filed.text
        if day == RENEWAL_FILED:
            renewal_id = draft_ready(client, auth(other), kind="renewal", renewal_of_id=renewing)
            act(client, renewal_id, "submit", auth(other))
            act(client, renewal_id, "start_review", auth(off))
        if day == RENEWAL_DECIDED:
            act(client, renewal_id, "approve_renewal", auth(off))
            act(client, renewal_id, "issue_act", auth(people.head), publication_ref="BURP n. 30")
        if day == date(2029, 3, 2):
            assert result.expiry.expired == [lapsing]

    states = dict(fetch(session, select(Application.id, Application.state)))
    assert states[lapsing] == "expired"
    assert (states[renewing], states[renewal_id]) == ("renewed", "active")
    registry = {e["district_name"]: e for e in client.get(f"{API}/registry").json()}
    assert registry[people.district.name]["status"] == "expired"
    renewed = registry[people.other_district.name]
    assert (renewed["status"], renewed["valid_from"], renewed["valid_until"]) == ("active", "2029-03-02", "2032-03-01")

    lapsing_mails = mail_kinds(session, [lapsing])
    assert lapsing_mails["validity_ending"] == 6  # 180, 90 and 30 days before, to the PEC and the representative
    assert lapsing_mails["expired"] == 2
    # 2026 report (filed late on 20 April): opened, 30 and 7 days before, the day, 3 weekly reminders;
    # 2027 and 2028 (filed in February): opened and 30 days before... only "opened" (filed before 1 March)
    assert lapsing_mails["report_due"] == 2 * (4 + 3) + 2 + 2
    assert lapsing_mails["report_escalation"] == 0  # never 60 days late
    renewing_mails = mail_kinds(session, [renewing, renewal_id])
    assert renewing_mails["validity_ending"] == 2  # only the 180-day step: the renewal was filed before the 90
    assert renewing_mails["expired"] == 0
    reports = client.get(f"{API}/reports?page_size=50", headers=auth(off)).json()
    assert reports["total"] == 6
    assert Counter(r["state"] for r in reports["items"]) == {"report_accepted": 3, "report_filed": 3}
