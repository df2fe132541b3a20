"""The annual report through HTTP: filing (with files and their SHA-256), review, and the clear errors:
a year not yet open, a second report for the same year, bad roster changes, someone else's report."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.profiles import RegionProfile
from models.registry import AnnualReport
from tasks.report_cycle import open_reports
from tests.api_support import API, Clock, Http, People, fetch, roster_rows, to_active

REPORT = {
    "activities": [
        {"title": "Missione a Hannover Messe", "programme_objective": "Internazionalizzazione", "spending_eur": 42000},
        {"title": "Laboratorio prove materiali", "programme_objective": "Ricerca applicata", "status": "in_corso"},
    ],
    "kpis": [{"code": "export", "label": "Quota di export", "value": 38.5, "target": 40, "unit": "%"}],
    "notes": "Anno positivo.",
}


def _open_2026(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> int:
    to_active(client, auth, people)  # recognised on 2026-03-02
    clock.now = datetime(2027, 1, 1, 7, 0, tzinfo=UTC)
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1)) == (2026, 1)
    session.commit()
    return fetch(session, select(AnnualReport.id))[0]


def test_file_then_accept(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    report_id = _open_2026(client, auth, people, clock, session, profile)
    rep, off = auth(people.rep), auth(people.official)
    listed = client.get(f"{API}/reports?year=2026", headers=off).json()
    assert listed["total"] == 1 and listed["items"][0]["state"] == "report_open"
    content = b"%PDF-1.4 rendiconto 2026"
    up = client.post(
        f"{API}/reports/{report_id}/files", files={"file": ("rendiconto.pdf", content, "application/pdf")}, headers=rep
    )
    assert up.status_code == 201, up.text
    assert up.json()["files"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    filed = client.put(f"{API}/districts/{people.district.id}/reports/2026", json=REPORT, headers=rep)
    assert filed.status_code == 200, filed.text
    body = filed.json()
    assert body["state"] == "report_filed" and body["content"]["activities"][0]["title"] == "Missione a Hannover Messe"
    again = client.put(f"{API}/districts/{people.district.id}/reports/2026", json=REPORT, headers=rep)
    assert again.status_code == 409 and "già stata trasmessa" in again.json()["detail"]
    late_file = client.post(
        f"{API}/reports/{report_id}/files", files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}, headers=rep
    )
    assert late_file.status_code == 409
    file_id = body["files"][0]["document_id"]
    download = client.get(f"{API}/reports/{report_id}/files/{file_id}", headers=off)
    assert download.status_code == 200 and download.content == content
    accepted = client.post(f"{API}/reports/{report_id}/actions/accept", headers=off)
    assert accepted.status_code == 200 and accepted.json()["state"] == "report_accepted"


def test_returned_report_can_be_filed_again(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    report_id = _open_2026(client, auth, people, clock, session, profile)
    rep, off = auth(people.rep), auth(people.official)
    assert client.put(f"{API}/districts/{people.district.id}/reports/2026", json=REPORT, headers=rep).status_code == 200
    no_remarks = client.post(f"{API}/reports/{report_id}/actions/return", json={"remarks": ""}, headers=off)
    assert no_remarks.status_code == 422
    returned = client.post(
        f"{API}/reports/{report_id}/actions/return", json={"remarks": "Mancano gli indicatori"}, headers=off
    )
    assert returned.status_code == 200 and returned.json()["state"] == "report_open"
    assert returned.json()["remarks"] == "Mancano gli indicatori"
    assert client.put(f"{API}/districts/{people.district.id}/reports/2026", json=REPORT, headers=rep).status_code == 200


def test_clear_errors_and_nothing_stored(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    report_id = _open_2026(client, auth, people, clock, session, profile)
    rep = auth(people.rep)
    not_open = client.put(f"{API}/districts/{people.district.id}/reports/2027", json=REPORT, headers=rep)
    assert not_open.status_code == 409
    assert (
        not_open.json()["detail"]
        == "la relazione per l'anno 2027 non è ancora aperta: la raccolta si apre il 01/01/2028"
    )
    before = client.put(f"{API}/districts/{people.district.id}/reports/2025", json=REPORT, headers=rep)
    assert before.status_code == 409 and "non era iscritto" in before.json()["detail"]
    bad_rows = roster_rows(2, start=5000)
    bad_rows[1]["tax_code"] = "12345678901"  # wrong check digit
    bad = client.put(
        f"{API}/districts/{people.district.id}/reports/2026",
        json={**REPORT, "roster_changes": {"joined": bad_rows, "left": ["00000000000"]}},
        headers=rep,
    )
    assert bad.status_code == 422
    rows = {(e["row_no"], e["field"]) for e in bad.json()["errors"]}
    assert (2, "roster_changes.joined.tax_code") in rows and (1, "roster_changes.left") in rows
    empty = client.put(f"{API}/districts/{people.district.id}/reports/2026", json={"activities": []}, headers=rep)
    assert empty.status_code == 422
    other = client.put(
        f"{API}/districts/{people.district.id}/reports/2026", json=REPORT, headers=auth(people.other_rep)
    )
    assert other.status_code == 403
    assert client.get(f"{API}/reports/{report_id}", headers=auth(people.other_rep)).status_code == 404
    assert client.get(f"{API}/reports/{report_id}", headers=auth(people.official_agri)).status_code == 404
    assert client.get(f"{API}/reports", headers=auth(people.other_rep)).json()["total"] == 0
    report = fetch(session, select(AnnualReport))[0]
    assert report.state == "report_open" and report.content == {}


def test_overdue_filter(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    _open_2026(client, auth, people, clock, session, profile)
    off = auth(people.official)
    assert client.get(f"{API}/reports?overdue=true", headers=off).json()["total"] == 0
    clock.now = datetime(2027, 4, 2, 9, 0, tzinfo=UTC)
    overdue = client.get(f"{API}/reports?overdue=true", headers=auth(people.official)).json()
    assert overdue["total"] == 1 and overdue["items"][0]["overdue"] is True
