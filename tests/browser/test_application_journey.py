"""In a real browser, the application's journeys: a representative applies and submits; then an official
asks for an integration, the representative answers, the committee scores, the head of office issues the
act and the district appears on the public registry. Every action runs its real Prefect stage flow."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, col, select

from models.application import Application, Document, ProtocolEntry
from models.district import MemberEnterprise
from models.enums import DocumentKind, State
from models.people import User
from models.profiles import RegionProfile
from models.registry import RecognitionAct, RegistryEntry
from tests.api_support import HIGH_SCORES, Http, People, act, draft_ready, fetch, roster_csv, roster_rows, roster_xlsx
from tests.browser.conftest import TIMEOUT_MS, LiveServer, login, logout, shot, unlabelled_fields
from tests.factories import pdf_text

pytestmark = pytest.mark.browser

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---- helpers ---------------------------------------------------------------------------------


def upload(page: Page, label: str, name: str, content: bytes, mime: str = PDF) -> None:
    page.get_by_label(label).set_input_files(files=[{"name": name, "mimeType": mime, "buffer": content}])


def act_on(page: Page, live_server: LiveServer, button: str) -> None:
    """Presses an action's button and waits for the flow behind it to end."""
    page.get_by_role("button", name=button, exact=True).click()
    settled(page, live_server)


def settled(page: Page, live_server: LiveServer) -> None:
    """Waits for the stage flows, then for the application page to show the outcome: while an action
    runs the page reloads itself every 2 s (meta refresh), and stops once it is done."""
    page.wait_for_load_state()
    live_server.settle()
    expect(page.get_by_text("Azione in corso:")).to_have_count(0, timeout=TIMEOUT_MS)


def download(page: Page, kind_label: str) -> bytes:
    """Clicks the link of the document of that kind on the application page; the file the browser saved."""
    documents = page.locator("section[aria-labelledby=documenti] tbody tr")
    row = documents.filter(has=page.get_by_role("rowheader", name=re.compile(kind_label, re.IGNORECASE)))
    with page.expect_download() as info:
        row.get_by_role("link").first.click()
    path = info.value.path()
    return path.read_bytes()


def state_of(session: Session, app_id: int) -> State:
    """The state as stored now (a column read: the test session's identity map may hold an older row)."""
    [state] = fetch(session, select(Application.state).where(Application.id == app_id))
    return State(state)


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Navigazione principale")


def status_text(page: Page) -> str:
    return page.locator(".app-state strong").inner_text()


# ---- a representative applies and submits ---------------------------------------------------------


def test_representative_applies_and_submits(
    live_server: LiveServer, page: Page, people: People, session: Session, tmp_path: Any
) -> None:
    base = live_server.url
    login(page, base, people.rep)
    assert page.url == f"{base}/distretto"
    expect(page.get_by_role("heading", level=1)).to_contain_text(people.district.name)
    shot(page, "rappresentante-home")

    # 1. the application's data
    page.get_by_role("link", name="Nuova domanda di riconoscimento").click()
    page.wait_for_url(f"{base}/distretto/domande/nuova")
    assert unlabelled_fields(page) == []
    page.get_by_label("Sintesi del Programma di Sviluppo").fill("Rete di ricerca sulla meccatronica: 3 laboratori")
    page.get_by_label("Specificità rispetto ai distretti già iscritti").fill("Unica filiera dell'automazione")
    shot(page, "nuova-domanda")
    page.get_by_role("button", name="Crea la bozza").click()
    page.wait_for_url(re.compile(r"/pratiche/\d+/modifica$"))
    app_id = int(page.url.split("/")[-2])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Domanda n. {app_id} – {people.district.name}")

    # 2. the roster: a file with bad rows is refused as a whole, each bad row named
    page.get_by_role("link", name="2. Elenco delle imprese").click()
    page.wait_for_url(f"{base}/pratiche/{app_id}/elenco-imprese")
    bad = roster_rows(5, start=7000)
    bad[1]["tax_code"] = "12345678901"  # wrong check digit, data row 2
    bad[3]["region"] = "Atlantide"  # data row 4
    upload(page, "File dell'elenco (CSV o XLSX)", "elenco.csv", roster_csv(bad), "text/csv")
    page.get_by_role("button", name="Carica l'elenco").click()
    errors = page.get_by_role("table").filter(has_text="Righe non valide")
    expect(errors).to_be_visible()
    expect(errors.locator("tbody tr").filter(has=page.locator("th", has_text=re.compile(r"^2$")))).not_to_have_count(0)
    expect(errors.locator("tbody tr").filter(has=page.locator("th", has_text=re.compile(r"^4$")))).not_to_have_count(0)
    expect(errors).to_contain_text("Atlantide")
    shot(page, "elenco-imprese-righe-errate")
    members = select(MemberEnterprise.id).where(MemberEnterprise.application_id == app_id)
    assert fetch(session, members) == []  # nothing of the bad file stored

    # the same roster as an Excel sheet, all rows valid
    sheet = tmp_path / "elenco-imprese.xlsx"
    sheet.write_bytes(roster_xlsx(roster_rows()))
    page.get_by_label("File dell'elenco (CSV o XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Carica l'elenco").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Nell'elenco attuale: 50 imprese")
    assert len(fetch(session, members)) == 50

    # 3. the documents, then the submission
    page.get_by_role("link", name="3. Documenti e presentazione").click()
    page.wait_for_url(f"{base}/pratiche/{app_id}/documenti")
    expect(page.get_by_text("La domanda non si può ancora presentare")).to_be_visible()
    for kind in (DocumentKind.PACT, DocumentKind.DEVELOPMENT_PROGRAMME, DocumentKind.REPRESENTATIVE_APPOINTMENT):
        page.get_by_label("Tipo di documento").select_option(kind.value)
        upload(page, "File", f"{kind.value}.pdf", f"%PDF-1.4 {kind.value} firmato".encode())
        page.get_by_role("button", name="Carica il documento").click()
        expect(page.get_by_role("link", name=f"{kind.value}.pdf")).to_be_visible()
    assert unlabelled_fields(page) == []
    expect(page.get_by_text("La domanda è completa.")).to_be_visible()
    shot(page, "documenti-pronta-per-presentazione")

    page.get_by_role("button", name="Presenta la domanda").click()
    page.wait_for_url(f"{base}/pratiche/{app_id}")
    settled(page, live_server)
    assert status_text(page) == "Presentata"
    [application] = fetch(session, select(Application).where(Application.id == app_id))
    assert application.state == State.SUBMITTED
    [protocol] = fetch(session, select(ProtocolEntry).where(ProtocolEntry.id == application.protocol_id))
    expect(page.locator("section[aria-labelledby=dati]")).to_contain_text(protocol.label)
    expect(page.locator("section[aria-labelledby=termine]")).to_contain_text("termine di")
    expect(page.locator("section[aria-labelledby=storia]")).to_contain_text("Presenta la domanda")
    shot(page, "domanda-presentata")

    # the receipt of submission, issued by the flow as a PDF, downloaded from the page
    receipt = download(page, "ricevuta di presentazione")
    text = pdf_text(receipt)
    assert protocol.label in text and people.district.name in text

    # the home now shows the application and no way to start another
    main_nav(page).get_by_role("link", name="Il mio distretto").click()
    expect(page.locator("main")).to_contain_text(f"Domanda n. {app_id}")
    expect(page.locator("main")).to_contain_text("Presentata")
    expect(page.get_by_role("link", name="Nuova domanda di riconoscimento")).to_have_count(0)


# ---- integration, committee, act, public registry ------------------------------------------------


def score_as(page: Page, live_server: LiveServer, member: User, app_id: int, profile: RegionProfile) -> None:
    login(page, live_server.url, member)
    assert page.url == f"{live_server.url}/comitato"
    page.get_by_role("link", name=f"Attribuisci i punteggi – pratica n. {app_id}").click()
    page.wait_for_url(f"{live_server.url}/comitato/pratiche/{app_id}/valutazione")
    for criterion in profile.committee.criteria:
        page.locator(f'[name="punteggio_{criterion.code}"]').fill(str(HIGH_SCORES[criterion.code]))
    page.get_by_label("Osservazioni").fill(f"Valutazione di {member.full_name}: programma solido")
    page.get_by_role("button", name="Registra i punteggi").click()
    expect(page.get_by_text("Punteggi registrati: 80,00 su 100.")).to_be_visible()


def test_integration_committee_act_and_public_registry(
    live_server: LiveServer,
    page: Page,
    client: TestClient,
    auth: Http,
    people: People,
    session: Session,
    profile: RegionProfile,
) -> None:
    base = live_server.url
    # a submitted application (set up through the API; the previous test submits it in the browser)
    app_id = draft_ready(client, auth(people.rep), programme_summary="Programma della filiera meccanica")
    act(client, app_id, "submit", auth(people.rep))
    live_server.clock.advance(days=2)

    # the official finds it in the work list by the district's name and starts the review
    login(page, base, people.official)
    main_nav(page).get_by_role("link", name="Pratiche", exact=True).click()
    page.get_by_label("Cerca").fill(people.district.name)
    page.get_by_role("button", name="Filtra").click()
    page.get_by_role("link", name=re.compile(rf"\b{app_id}\b")).first.click()
    page.wait_for_url(f"{base}/pratiche/{app_id}")
    assert status_text(page) == "Presentata"
    act_on(page, live_server, "Avvia l'istruttoria")
    assert status_text(page) == "Verifica di completezza"

    # … and asks for an integration: the clock is suspended, the request is issued as a PDF
    assert unlabelled_fields(page) == []
    page.get_by_label("Elementi mancanti").fill("Bilancio consuntivo del soggetto rappresentante\nVisura camerale")
    page.get_by_label("Giorni concessi per l'integrazione").fill("20")
    shot(page, "ufficio-richiesta-integrazione")
    act_on(page, live_server, "Richiedi integrazioni")
    assert status_text(page) == "Integrazione richiesta"
    expect(page.get_by_role("table", name="Sospensioni del termine")).to_contain_text("in corso")
    expect(page.locator("section[aria-labelledby=termine]")).to_contain_text("termine sospeso ora")
    request_pdf = pdf_text(download(page, "richiesta di integrazione"))
    assert "Visura camerale" in request_pdf and people.district.name in request_pdf
    shot(page, "ufficio-integrazione-richiesta")
    logout(page)

    # the representative sees what is due, uploads the documents and answers
    live_server.clock.advance(days=5)
    login(page, base, people.rep)
    page.get_by_role("link", name=f"Inviare le integrazioni richieste (domanda n. {app_id})").click()
    page.wait_for_url(f"{base}/pratiche/{app_id}/documenti")
    expect(page.locator("main .alert")).to_contain_text("Visura camerale")
    page.get_by_label("Tipo di documento").select_option(DocumentKind.INTEGRATION.value)
    upload(page, "File", "integrazione.pdf", b"%PDF-1.4 bilancio e visura")
    page.get_by_role("button", name="Carica il documento").click()
    expect(page.get_by_role("link", name="integrazione.pdf")).to_be_visible()
    page.get_by_label("Nota per l'ufficio (facoltativa)").fill("Inviati bilancio consuntivo e visura camerale.")
    shot(page, "rappresentante-integrazioni")
    page.get_by_role("button", name="Invia le integrazioni").click()
    settled(page, live_server)
    assert state_of(session, app_id) == State.COMPLETENESS_CHECK
    logout(page)

    # the official declares it complete and sends it to the three committee members
    live_server.clock.advance(days=1)
    login(page, base, people.official)
    page.goto(f"{base}/pratiche/{app_id}")
    assert status_text(page) == "Verifica di completezza"
    expect(page.get_by_role("table", name="Sospensioni del termine")).not_to_contain_text("in corso")
    for member in people.members:
        page.get_by_label(member.full_name).check()
    act_on(page, live_server, "Dichiara completa e trasmetti al comitato")
    assert status_text(page) == "Valutazione del comitato"
    logout(page)

    # each member scores against the profile's criteria
    for member in people.members:
        score_as(page, live_server, member, app_id, profile)
        if member is people.members[0]:
            shot(page, "comitato-punteggi")
        logout(page)

    # the last member records the committee's positive outcome on the decision page
    login(page, base, people.members[-1])
    page.get_by_role("link", name=f"Decisione – pratica n. {app_id}").click()
    expect(page.locator("main")).to_contain_text("80")
    shot(page, "comitato-decisione")
    page.get_by_role("button", name="Registra l'esito positivo del comitato").click()
    settled(page, live_server)
    assert state_of(session, app_id) == State.RECOGNISED
    logout(page)

    # the head of office issues the numbered act
    login(page, base, people.head)
    page.goto(f"{base}/pratiche/{app_id}")
    assert status_text(page) == "Riconoscimento deliberato"
    page.get_by_label("Estremi di pubblicazione").fill("BURP n. 20 del 12/03/2027")
    act_on(page, live_server, "Emetti l'atto di riconoscimento")
    assert status_text(page) == "Attivo nel registro"
    [recognition] = fetch(session, select(RecognitionAct).where(RecognitionAct.application_id == app_id))
    [entry] = fetch(session, select(RegistryEntry).where(RegistryEntry.district_id == people.district.id))
    act_box = page.locator("section[aria-labelledby=atto]")
    expect(act_box).to_contain_text(recognition.label)
    shot(page, "dirigente-atto-emesso")
    timeline = page.locator("section[aria-labelledby=storia]")
    for step in ("Richiedi integrazioni", "Invia le integrazioni", "Emetti l'atto di riconoscimento"):
        expect(timeline).to_contain_text(step)

    # the act as a PDF: number, district, validity
    act_pdf = pdf_text(download(page, "atto di riconoscimento"))
    assert f"{recognition.number}/{recognition.year}" in act_pdf
    assert people.district.name in act_pdf
    for day in (entry.valid_from, entry.valid_until):
        assert day.strftime("%d/%m/%Y") in act_pdf, (day, act_pdf)
    issued = select(Document.kind).where(Document.application_id == app_id).order_by(col(Document.id))
    assert {DocumentKind.INTEGRATION_REQUEST, DocumentKind.RECOGNITION_ACT} <= set(fetch(session, issued))
    logout(page)

    # the district is on the public registry, with its act
    page.goto(f"{base}/registro")
    page.get_by_role("link", name=people.district.name).click()
    card = page.locator("dl.card")
    expect(card).to_contain_text(recognition.label)
    expect(card).to_contain_text("BURP n. 20 del 12/03/2027")
    shot(page, "registro-scheda-riconosciuto")
