"""The office's pages on annual reports (board, review, attachments) and on the outbox (list, filters, retry)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.enums import Event, NotificationStatus
from models.notification import Notification
from models.people import User
from models.profiles import RegionProfile
from models.registry import AnnualReport
from tasks.delivery import Outgoing, mark_refused
from tasks.report_cycle import open_reports
from tests.api_support import API, Clock, Http, People, fetch
from tests.factories import PASSWORD, Factory, Journey
from tests.pages_support import csrf_of, submit_form

REPORT = {
    "activities": [
        {"title": "Missione a Hannover Messe", "programme_objective": "Internazionalizzazione", "spending_eur": 42000},
        {"title": "Laboratorio prove materiali", "programme_objective": "Ricerca applicata", "status": "in_corso"},
    ],
    "kpis": [{"code": "export", "label": "Quota di export", "value": 38.5, "target": 40, "unit": "%"}],
    "notes": "Anno positivo.",
}
ATTACHMENT = b"%PDF-1.4 rendiconto 2026"


def as_user(client: TestClient, user: User) -> None:
    """Logs in through the form (not following the landing redirect)."""
    client.cookies.clear()
    token = csrf_of(client.get("/accesso").text)
    data = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/accesso", data=data, follow_redirects=False).status_code == 303


@dataclass
class Reports:
    """Four active districts with reports on 2026 and 2027: ``filed`` and ``accepted`` (section 1),
    ``late`` (section 2, never filed, overdue), ``agri`` (section 6). The clock is on 2027-04-10."""

    filed: Journey
    accepted: Journey
    late: Journey
    agri: Journey

    def report_id(self, session: Session, journey: Journey, year: int = 2026) -> int:
        ids = fetch(
            session,
            select(AnnualReport.id).where(AnnualReport.application_id == journey.app.id, AnnualReport.year == year),
        )
        return int(ids[0])


@pytest.fixture
def scene(
    factory: Factory, session: Session, profile: RegionProfile, client: TestClient, auth: Http, clock: Clock
) -> Reports:
    journeys = [Journey(factory, section=s) for s in (1, 1, 2, 6)]
    for journey in journeys:
        journey.to_active()
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1)) == (2026, 4)
    assert open_reports(session, profile=profile, as_of=date(2028, 1, 1)) == (2027, 4)
    session.commit()
    scene = Reports(*journeys)
    clock.now = datetime(2027, 2, 15, 9, 0, tzinfo=UTC)
    filed_id = scene.report_id(session, scene.filed)
    up = client.post(
        f"{API}/reports/{filed_id}/files",
        files={"file": ("rendiconto.pdf", ATTACHMENT, "application/pdf")},
        headers=auth(scene.filed.rep),
    )
    assert up.status_code == 201, up.text
    for journey in (scene.filed, scene.accepted):
        put = client.put(f"{API}/districts/{journey.district.id}/reports/2026", json=REPORT, headers=auth(journey.rep))
        assert put.status_code == 200, put.text
    accepted_id = scene.report_id(session, scene.accepted)
    ok = client.post(f"{API}/reports/{accepted_id}/actions/accept", headers=auth(scene.accepted.official))
    assert ok.status_code == 200, ok.text
    clock.now = datetime(2027, 4, 10, 9, 0, tzinfo=UTC)
    client.cookies.clear()
    return scene


def board_row(html: str, section: int) -> list[int]:
    """The four counts of a section's row on the board: expected, filed, overdue, accepted."""
    table = html.split('id="quadro"')[1].split("</table>")[0]
    match = re.search(rf'<th scope="row">{section} – .*?</tr>', table, re.S)
    assert match, f"sezione {section} assente dal quadro"
    return [int(n) for n in re.findall(r">(\d+)</a>", match.group(0))]


def listed_districts(html: str) -> list[str]:
    if 'id="elenco"' not in html:
        return []
    table = html.split('id="elenco"')[1].split("</table>")[0]
    return re.findall(r'<a href="/ufficio/relazioni/\d+">([^<]+)</a>', table)


# ---- access ------------------------------------------------------------------------------------


def test_anonymous_visitor_goes_to_the_login(client: TestClient) -> None:
    for url in ("/ufficio/relazioni", "/ufficio/relazioni/1", "/ufficio/comunicazioni", "/ufficio/comunicazioni/1"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/accesso?dopo="), url


def test_representative_and_committee_are_refused(client: TestClient, people: People) -> None:
    for user in (people.rep, people.members[0]):
        as_user(client, user)
        for url in ("/ufficio/relazioni", "/ufficio/comunicazioni"):
            response = client.get(url)
            assert response.status_code == 403 and "Accesso non consentito" in response.text


# ---- the board ---------------------------------------------------------------------------------


def test_board_counts_per_section_and_year(client: TestClient, people: People, scene: Reports) -> None:
    as_user(client, people.official)
    latest = client.get("/ufficio/relazioni")
    assert latest.status_code == 200
    assert "Relazioni annuali sull'anno 2027" in latest.text  # the latest year with reports
    assert board_row(latest.text, 1) == [2, 0, 0, 0] and board_row(latest.text, 2) == [1, 0, 0, 0]
    assert '<option value="2026">2026</option>' in latest.text
    assert "6 – " not in latest.text.split('id="quadro"')[1].split("</table>")[0]  # agriculture's section

    year = client.get("/ufficio/relazioni?anno=2026").text
    assert board_row(year, 1) == [2, 1, 0, 1]
    assert board_row(year, 2) == [1, 0, 1, 0]
    assert 'href="/ufficio/relazioni?anno=2026&amp;sezione=2&amp;scaduti=1"' in year
    assert sorted(listed_districts(year)) == sorted(j.district.name for j in (scene.filed, scene.accepted, scene.late))

    overdue = client.get("/ufficio/relazioni?anno=2026&sezione=2&scaduti=1").text
    assert listed_districts(overdue) == [scene.late.district.name] and "(scaduta)" in overdue
    to_review = client.get("/ufficio/relazioni?anno=2026&stato=report_filed").text
    assert listed_districts(to_review) == [scene.filed.district.name]
    accepted = client.get("/ufficio/relazioni?anno=2026&sezione=1&stato=report_accepted").text
    assert listed_districts(accepted) == [scene.accepted.district.name]
    bad = client.get("/ufficio/relazioni?anno=2026&stato=perso&sezione=x")
    assert bad.status_code == 422 and "stato «perso» sconosciuto" in bad.text and "sezione «x» non valido" in bad.text


def test_agriculture_official_sees_only_their_sections(
    client: TestClient, people: People, scene: Reports, session: Session
) -> None:
    as_user(client, people.official_agri)
    board = client.get("/ufficio/relazioni?anno=2026").text
    assert board_row(board, 6) == [1, 0, 1, 0]
    assert '<th scope="row">1 – ' not in board
    assert listed_districts(board) == [scene.agri.district.name]
    assert listed_districts(client.get("/ufficio/relazioni?anno=2026&sezione=1").text) == []
    filed_id = scene.report_id(session, scene.filed)
    assert client.get(f"/ufficio/relazioni/{filed_id}").status_code == 404
    assert client.get(f"/ufficio/relazioni/{filed_id}/allegati/1").status_code == 404


def test_pagination_keeps_the_filters(
    client: TestClient, people: People, scene: Reports, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.pages import reports_pages

    monkeypatch.setattr(reports_pages, "PAGE_SIZE", 2)
    as_user(client, people.admin)
    first = client.get("/ufficio/relazioni?anno=2026").text
    assert len(listed_districts(first)) == 2 and "Pagina 1 di 2" in first
    assert 'href="/ufficio/relazioni?anno=2026&amp;pagina=2"' in first
    second = client.get("/ufficio/relazioni?anno=2026&pagina=2").text
    assert len(listed_districts(second)) == 2 and "Pagina 2 di 2" in second
    assert set(listed_districts(first)).isdisjoint(listed_districts(second))


# ---- the review --------------------------------------------------------------------------------


def test_review_shows_the_report_and_accepts_it(
    client: TestClient, people: People, scene: Reports, session: Session
) -> None:
    report_id = scene.report_id(session, scene.filed)
    url = f"/ufficio/relazioni/{report_id}"
    as_user(client, people.official)
    review = client.get(url)
    assert review.status_code == 200
    text = review.text
    assert scene.filed.district.name in text and "31/03/2027" in text and "(nei termini)" in text
    assert "Missione a Hannover Messe" in text and "42.000,00" in text and "in corso" in text
    assert "Quota di export" in text and "38,5 %" in text and "40 %" in text and "Anno positivo." in text
    document = re.search(rf'href="(/ufficio/relazioni/{report_id}/allegati/\d+)">rendiconto.pdf', text)
    assert document
    download = client.get(document.group(1))
    assert download.status_code == 200 and download.content == ATTACHMENT
    assert client.get(f"/ufficio/relazioni/{report_id}/allegati/999999").status_code == 404
    assert f'action="/ufficio/relazioni/{report_id}/accetta"' in text
    assert f'action="/ufficio/relazioni/{report_id}/restituisci"' in text

    done = submit_form(client, url, f"{url}/accetta", {})
    assert done.status_code == 303 and done.headers["location"] == url
    assert fetch(session, select(AnnualReport.state).where(AnnualReport.id == report_id)) == ["report_accepted"]
    after = client.get(url).text
    assert "Relazione accettata." in after and 'accetta"' not in after
    again = client.post(f"{url}/accetta", data={"csrf_token": csrf_of(after)}, follow_redirects=False)
    assert again.status_code == 303  # a second click: the reason comes back as a notice, nothing changes
    assert "non consentita nello stato «Relazione accettata»" in client.get(url).text


def test_review_returns_the_report_with_remarks(
    client: TestClient, people: People, scene: Reports, session: Session
) -> None:
    report_id = scene.report_id(session, scene.filed)
    url = f"/ufficio/relazioni/{report_id}"
    as_user(client, people.head)
    empty = submit_form(client, url, f"{url}/restituisci", {"remarks": "  "})
    assert empty.status_code == 303
    shown = client.get(url).text
    assert "Osservazioni: testo troppo corto" in shown
    assert fetch(session, select(AnnualReport.state).where(AnnualReport.id == report_id)) == ["report_filed"]
    returned = submit_form(client, url, f"{url}/restituisci", {"remarks": "Mancano gli indicatori di spesa"})
    assert returned.status_code == 303
    stored = fetch(
        session, select(AnnualReport).where(AnnualReport.id == report_id).execution_options(populate_existing=True)
    )[0]
    assert stored.state == "report_open" and stored.remarks == "Mancano gli indicatori di spesa"
    page = client.get(url).text
    assert "Relazione restituita al distretto" in page and "Mancano gli indicatori di spesa" in page
    assert '/accetta"' not in page  # nothing to review until it is filed again


def test_the_administrator_reads_but_does_not_review(
    client: TestClient, people: People, scene: Reports, session: Session
) -> None:
    report_id = scene.report_id(session, scene.filed)
    as_user(client, people.admin)
    page = client.get(f"/ufficio/relazioni/{report_id}")
    assert page.status_code == 200 and "Missione a Hannover Messe" in page.text
    assert '/accetta"' not in page.text  # the lifecycle gives the review to the office


def test_a_late_report_is_marked(
    client: TestClient, auth: Http, people: People, scene: Reports, session: Session
) -> None:
    put = client.put(
        f"{API}/districts/{scene.late.district.id}/reports/2026", json=REPORT, headers=auth(scene.late.rep)
    )
    assert put.status_code == 200, put.text
    client.cookies.clear()
    as_user(client, people.official)
    page = client.get(f"/ufficio/relazioni/{scene.report_id(session, scene.late)}").text
    assert "10/04/2027" in page and "(in ritardo)" in page


# ---- the outbox --------------------------------------------------------------------------------


@dataclass
class Mails:
    ricerca: Journey
    agri: Journey


@pytest.fixture
def mails(factory: Factory, clock: Clock) -> Mails:
    ricerca = Journey(factory, section=1)
    agri = Journey(factory, section=6)
    ricerca.do(Event.SUBMIT)  # 2026-03-03: procedure_started to the district's PEC and its representative
    agri.do(Event.SUBMIT, days_later=2)  # 2026-03-04
    ricerca.do(Event.WITHDRAW, days_later=2, reason="Rinuncia")  # 2026-03-05: withdrawn, to the official
    clock.advance(days=5)
    return Mails(ricerca, agri)


def rows_of(session: Session, journey: Journey, kind: str = "procedure_started") -> list[Notification]:
    return fetch(
        session,
        select(Notification)
        .where(Notification.application_id == journey.app.id, Notification.kind == kind)
        .order_by(col(Notification.id)),
    )


def refuse(row: Notification, now: datetime) -> None:
    outgoing = Outgoing(
        row.id or 0, row.idempotency_key, row.recipient, row.subject, row.body_text, row.body_html, row.attempts
    )
    mark_refused(outgoing, error="550 5.1.1 casella inesistente", permanent=True, as_of=now)


def subjects(html: str) -> list[str]:
    if 'id="posta"' not in html:
        return []
    table = html.split('id="posta"')[1].split("</table>")[0]
    return re.findall(r'<a href="/ufficio/comunicazioni/\d+">([^<]+)</a>', table)


def test_outbox_lists_the_office_mails(client: TestClient, people: People, mails: Mails, session: Session) -> None:
    as_user(client, people.official)
    page = client.get("/ufficio/comunicazioni")
    assert page.status_code == 200
    listed = subjects(page.text)
    withdrawn = rows_of(session, mails.ricerca, "withdrawn")  # one to each official of the office
    assert len(listed) == 2 + len(withdrawn) and listed[0].startswith("Domanda ritirata")
    assert all(mails.agri.district.name not in s for s in listed)
    assert mails.ricerca.district.pec_email in page.text and "Avvio del procedimento" in page.text
    assert f'href="/pratiche/{mails.ricerca.app.id}"' in page.text and "in coda" in page.text
    row = rows_of(session, mails.ricerca)[0]
    detail = client.get(f"/ufficio/comunicazioni/{row.id}")
    assert detail.status_code == 200 and row.recipient in detail.text
    assert "avvio del procedimento" in detail.text  # the message's text
    agri_row = rows_of(session, mails.agri)[0]
    assert client.get(f"/ufficio/comunicazioni/{agri_row.id}").status_code == 404
    as_user(client, people.official_agri)
    assert len(subjects(client.get("/ufficio/comunicazioni").text)) == 2


def test_outbox_filters(client: TestClient, people: People, mails: Mails, session: Session) -> None:
    withdrawn = len(rows_of(session, mails.ricerca, "withdrawn"))
    as_user(client, people.admin)
    assert len(subjects(client.get("/ufficio/comunicazioni").text)) == 4 + withdrawn
    assert len(subjects(client.get("/ufficio/comunicazioni?tipo=withdrawn").text)) == withdrawn
    assert subjects(client.get("/ufficio/comunicazioni?stato=failed").text) == []
    assert len(subjects(client.get("/ufficio/comunicazioni?destinatario=PEC.EXAMPLE").text)) == 2
    day = mails.agri.day.date().isoformat()
    only_day = client.get(f"/ufficio/comunicazioni?dal={day}&al={day}").text
    assert len(subjects(only_day)) == 2 and all(mails.agri.district.name in s for s in subjects(only_day))
    inverted = client.get(f"/ufficio/comunicazioni?dal={day}&al=2026-03-01")
    assert inverted.status_code == 422 and "la data iniziale è successiva a quella finale" in inverted.text
    bad = client.get("/ufficio/comunicazioni?stato=perso&dal=ieri&tipo=boh")
    assert bad.status_code == 422
    assert "stato «perso» sconosciuto" in bad.text and "dal: data non valida" in bad.text and "tipo «boh»" in bad.text


def test_outbox_pages(client: TestClient, people: People, mails: Mails, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.pages import reports_pages

    monkeypatch.setattr(reports_pages, "PAGE_SIZE", 2)
    as_user(client, people.admin)
    pages = [subjects(client.get(f"/ufficio/comunicazioni?tipo=procedure_started&pagina={n}").text) for n in (1, 2)]
    assert [len(p) for p in pages] == [2, 2]
    first = client.get("/ufficio/comunicazioni?tipo=procedure_started").text
    assert 'href="/ufficio/comunicazioni?tipo=procedure_started&amp;pagina=2"' in first


def test_retry_of_a_failed_mail(
    client: TestClient, people: People, mails: Mails, session: Session, clock: Clock
) -> None:
    row = rows_of(session, mails.ricerca)[0]
    refuse(row, mails.agri.day)
    as_user(client, people.official)
    failed_url = "/ufficio/comunicazioni?stato=failed"
    failed = client.get(failed_url).text
    assert len(subjects(failed)) == 1 and "550 5.1.1 casella inesistente" in failed and "non recapitata" in failed
    assert f'action="/ufficio/comunicazioni/{row.id}/riprova"' in failed
    assert client.get("/ufficio/comunicazioni?stato=queued").text.count('/riprova"') == 0
    done = submit_form(client, failed_url, f"/ufficio/comunicazioni/{row.id}/riprova", {"dopo": failed_url})
    assert done.status_code == 303 and done.headers["location"] == failed_url
    stored = fetch(
        session, select(Notification).where(Notification.id == row.id).execution_options(populate_existing=True)
    )[0]
    assert stored.status == NotificationStatus.QUEUED and stored.next_attempt_at == clock.now
    assert "rimessa in coda" in client.get(failed_url).text
    again = submit_form(client, f"/ufficio/comunicazioni/{row.id}", f"/ufficio/comunicazioni/{row.id}/riprova", {})
    assert again.status_code == 303 and again.headers["location"] == "/ufficio/comunicazioni"
    assert "già in coda di invio" in client.get("/ufficio/comunicazioni").text
    elsewhere = submit_form(
        client, failed_url, f"/ufficio/comunicazioni/{row.id}/riprova", {"dopo": "https://esempio.it/"}
    )
    assert elsewhere.headers["location"] == "/ufficio/comunicazioni"
