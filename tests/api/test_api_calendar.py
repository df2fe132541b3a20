"""The deadlines of an application as an iCalendar file: the right days, RFC 5545 form, access checked."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.calendar import Deadline, to_ics
from models.profiles import RegionProfile
from tasks.report_cycle import open_reports
from tests.api_support import API, Clock, Http, People, act, draft_ready, to_active


def events(body: str) -> list[dict[str, str]]:
    unfolded = body.replace("\r\n ", "")
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in unfolded.split("\r\n"):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            found.append(current)
        elif ":" in line:
            key, _, value = line.partition(":")
            current[key] = value
    return found


def test_integration_deadline_and_term(client: TestClient, auth: Http, people: People) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)  # 2026-03-02: 30 days + 21 suspended → 22/04/2026
    act(client, app_id, "start_review", off)
    act(client, app_id, "request_integration", off, missing_items=["Patto firmato"], deadline_days=20)
    response = client.get(f"{API}/applications/{app_id}/deadlines.ics", headers=rep)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    assert "scadenze-domanda" in response.headers["content-disposition"]
    body = response.text
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and body.endswith("END:VCALENDAR\r\n")
    found = {e["SUMMARY"].split(" – ")[0]: e["DTSTART;VALUE=DATE"] for e in events(body)}
    assert found == {"Invio delle integrazioni": "20260323", "Termine del procedimento": "20260422"}
    assert client.get(f"{API}/applications/{app_id}/deadlines.ics", headers=auth(people.other_rep)).status_code in (
        403,
        404,
    )


def test_validity_and_annual_report(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    app_id = to_active(client, auth, people)  # valid until 01/03/2029
    clock.now = datetime(2027, 1, 5, 9, tzinfo=UTC)
    open_reports(session, profile=profile, as_of=date(2027, 1, 5))
    session.commit()
    body = client.get(f"{API}/applications/{app_id}/deadlines.ics", headers=auth(people.rep)).text
    found = {e["SUMMARY"].split(" – ")[0]: e["DTSTART;VALUE=DATE"] for e in events(body)}
    assert found == {"Relazione annuale 2026": "20270331", "Scadenza del riconoscimento": "20290301"}


def test_text_is_escaped_and_long_lines_folded() -> None:
    item = Deadline("x", date(2026, 5, 4), "Termine; con, virgole – " + "à" * 60, "riga\nnuova")
    body = to_ics([item], application_id=7, stamp=datetime(2026, 5, 1, tzinfo=UTC)).decode("utf-8")
    assert all(len(line.encode("utf-8")) <= 75 for line in body.split("\r\n"))
    [event] = events(body)
    assert event["SUMMARY"].startswith("Termine\\; con\\, virgole") and event["DESCRIPTION"] == "riga\\nnuova"
    assert event["DTEND;VALUE=DATE"] == "20260505" and event["UID"] == "app7-x-20260504@registro-distretti"
