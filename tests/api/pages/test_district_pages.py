"""The representative's pages: home with what is due, new and edited application, roster upload (CSV and
XLSX, every bad row listed and nothing stored), documents and the submission forms, annual report, renewal;
only for the representative of the district (others: 403/404, nothing shown; anonymous: login)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, select

from models.application import Application, Document
from models.district import MemberEnterprise
from models.enums import ApplicationKind, Role, State
from models.profiles import RegionProfile
from models.registry import AnnualReport
from models.roster import FIELDS, ROSTER_CSV_HEADER
from tasks.expiry import close_lapsed_terms
from tasks.report_cycle import open_reports
from tests.api_support import (
    API,
    Clock,
    Http,
    People,
    act,
    draft_ready,
    fetch,
    roster_csv,
    roster_rows,
    roster_xlsx,
    to_active,
)
from tests.factories import Factory
from tests.pages_support import csrf_of, page_login, submit_form

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _new_draft(client: TestClient, **fields: str) -> int:
    data = {"kind": "recognition", "programme_summary": "Programma triennale", "specificity": "Unico in regione"}
    response = submit_form(client, "/distretto/domande/nuova", "/distretto/domande/nuova", {**data, **fields})
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/pratiche/(\d+)/modifica", response.headers["location"])
    assert match
    return int(match.group(1))


def _upload_roster(client: TestClient, app_id: int, name: str, content: bytes, kind: str = "text/csv") -> Response:
    url = f"/pratiche/{app_id}/elenco-imprese"
    return submit_form(client, url, url, {}, files={"file": (name, content, kind)})


def _upload_document(client: TestClient, app_id: int, kind: str, content: bytes = b"%PDF-1.4 doc") -> Response:
    url = f"/pratiche/{app_id}/documenti"
    return submit_form(client, url, url, {"kind": kind}, files={"file": (f"{kind}.pdf", content, "application/pdf")})


def _members(session: Session, app_id: int) -> int:
    return len(fetch(session, select(MemberEnterprise.id).where(MemberEnterprise.application_id == app_id)))


def _bad_rows() -> list[dict[str, Any]]:
    rows = roster_rows(5, start=7000)
    rows[1]["tax_code"] = "12345678901"  # wrong check digit (data row 2)
    rows[3]["region"] = "Atlantide"  # unknown region (data row 4)
    rows[3]["employees"] = "molti"
    return rows


# ---- home, access ------------------------------------------------------------------------------


def test_home_shows_the_district_and_the_way_to_apply(client: TestClient, people: People) -> None:
    page_login(client, people.rep)
    home = client.get("/distretto")
    assert home.status_code == 200
    html = home.text
    assert people.district.name in html and "1 – Distretti produttivi" in html
    assert 'href="/distretto/domande/nuova"' in html and "Nuova domanda di riconoscimento" in html
    assert "Il distretto non è (ancora) iscritto nel registro" in html and "Richiedi il rinnovo" not in html
    assert people.other_district.name not in html


def test_only_representatives_see_the_district_pages(client: TestClient, people: People) -> None:
    anonymous = client.get("/distretto", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/accesso?dopo=%2Fdistretto"
    page_login(client, people.official)
    refused = client.get("/distretto")
    assert refused.status_code == 403 and "riservate ai rappresentanti" in refused.text
    assert client.get("/distretto/domande/nuova").status_code == 403


def test_another_district_s_application_shows_nothing(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client, programme_summary="Segreto industriale del distretto")
    assert _upload_roster(client, app_id, "elenco.csv", roster_csv(roster_rows())).status_code == 303
    other = TestClient(client.app)
    page_login(other, people.other_rep)
    for suffix in ("modifica", "elenco-imprese", "documenti"):  # a draft: not even found
        response = other.get(f"/pratiche/{app_id}/{suffix}")
        assert response.status_code == 404, suffix
        assert "Segreto industriale" not in response.text and people.district.name not in response.text
        assert "Officina" not in response.text
    token = csrf_of(other.get("/distretto").text)
    upload = other.post(
        f"/pratiche/{app_id}/elenco-imprese",
        data={"csrf_token": token},
        files={"file": ("x.csv", roster_csv(roster_rows(3, start=9000)), "text/csv")},
    )
    assert upload.status_code == 404 and _members(session, app_id) == 50
    edit = other.post(f"/pratiche/{app_id}/modifica", data={"csrf_token": token, "programme_summary": "preso"})
    assert edit.status_code == 404
    assert other.get("/pratiche/999999/documenti").status_code == 404
    doc = _upload_document(client, app_id, "pact")
    assert doc.status_code == 303
    [doc_id] = fetch(session, select(Document.id).where(Document.application_id == app_id))
    assert other.get(f"/pratiche/{app_id}/documenti/{doc_id}").status_code == 404


# ---- new application, edit ---------------------------------------------------------------------


def test_create_then_edit_the_draft(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    form = client.get("/distretto/domande/nuova").text
    assert '<label for="kind">' in form and '<label for="programme_summary">' in form
    assert "1 – Distretti produttivi" in form
    app_id = _new_draft(client)
    edit = client.get(f"/pratiche/{app_id}/modifica")
    assert edit.status_code == 200 and "Bozza della domanda n." in edit.text and "Programma triennale" in edit.text
    saved = submit_form(
        client, f"/pratiche/{app_id}/modifica", f"/pratiche/{app_id}/modifica",
        {"programme_summary": "Programma aggiornato", "specificity": "Filiera unica"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert "Dati della domanda salvati" in client.get(saved.headers["location"]).text
    [application] = fetch(session, select(Application).where(Application.id == app_id))
    assert (application.kind, application.section, application.state) == ("recognition", 1, "draft")
    assert (application.programme_summary, application.specificity) == ("Programma aggiornato", "Filiera unica")
    home = client.get("/distretto").text
    assert f'href="/pratiche/{app_id}"' in home and "Bozza" in home
    assert f"Completare e presentare la domanda n. {app_id}" in home
    assert "Nuova domanda non disponibile ora: il distretto ha già una domanda in corso" in home


def test_errors_are_shown_next_to_their_fields_and_the_values_kept(
    client: TestClient, people: People, session: Session
) -> None:
    page_login(client, people.rep)
    wrong_kind = submit_form(
        client, "/distretto/domande/nuova", "/distretto/domande/nuova",
        {"kind": "census", "programme_summary": "Il mio testo <da tenere>", "specificity": ""},
    )  # fmt: skip
    assert wrong_kind.status_code == 422
    html = wrong_kind.text
    assert 'role="alert"' in html and "Tipo di domanda: il censimento vale solo per la sezione informativa" in html
    assert 'id="kind-errore"' in html and 'aria-describedby="kind-hint kind-errore"' in html
    assert "Il mio testo &lt;da tenere&gt;</textarea>" in html
    too_long = submit_form(
        client, "/distretto/domande/nuova", "/distretto/domande/nuova",
        {"kind": "recognition", "programme_summary": "ok", "specificity": "x" * 20001},
    )  # fmt: skip
    assert too_long.status_code == 422
    assert "Specificità rispetto ai distretti già iscritti: testo troppo lungo" in too_long.text
    assert 'id="specificity-errore"' in too_long.text
    assert fetch(session, select(Application.id)) == []
    _new_draft(client)
    second = submit_form(client, "/distretto/domande/nuova", "/distretto/domande/nuova", {"kind": "recognition"})
    assert second.status_code == 409 and "Il distretto ha già una domanda in corso" in second.text


def test_a_census_section_registers_instead(client: TestClient, factory: Factory, session: Session) -> None:
    district = factory.district(section=5, name="Rete delle botteghe")
    page_login(client, factory.user(Role.REPRESENTATIVE, district=district))
    home = client.get("/distretto").text
    assert "Nuova iscrizione nel censimento" in home and "Rinnovo" not in home
    assert '<option value="census" selected>' in client.get("/distretto/domande/nuova").text
    app_id = _new_draft(client, kind="census")
    assert fetch(session, select(Application.kind).where(Application.id == app_id)) == [ApplicationKind.CENSUS]
    assert "Nomina del rappresentante: <span" in client.get(f"/pratiche/{app_id}/documenti").text


def test_a_submitted_application_is_no_longer_editable(
    client: TestClient, people: People, auth: Http, session: Session
) -> None:
    app_id = draft_ready(client, auth(people.rep))
    act(client, app_id, "submit", auth(people.rep))
    page_login(client, people.rep)
    page = client.get(f"/pratiche/{app_id}/modifica")
    assert (
        page.status_code == 200
        and "non è più modificabile" in page.text
        and 'name="programme_summary"' not in page.text
    )
    token = csrf_of(page.text)
    refused = client.post(f"/pratiche/{app_id}/modifica", data={"csrf_token": token, "programme_summary": "tardi"})
    assert refused.status_code == 409 and "Modificare la domanda non consentito" in refused.text
    assert fetch(session, select(Application.programme_summary).where(Application.id == app_id)) == ["Programma"]


# ---- roster ------------------------------------------------------------------------------------


def test_roster_page_explains_the_format_and_offers_templates(client: TestClient, people: People) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    page = client.get(f"/pratiche/{app_id}/elenco-imprese").text
    assert '<label for="file">' in page and 'enctype="multipart/form-data"' in page
    assert ROSTER_CSV_HEADER in page and "almeno 50 imprese e 150 addetti" in page
    csv = client.get("/distretto/modello-elenco-imprese.csv")
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").strip() == ROSTER_CSV_HEADER
    xlsx = client.get("/distretto/modello-elenco-imprese.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == ROSTER_CSV_HEADER.split(";")


def test_roster_csv_good_then_bad_rows_listed_and_nothing_stored(
    client: TestClient, people: People, session: Session
) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    good = _upload_roster(client, app_id, "elenco.csv", roster_csv(roster_rows()))
    assert good.status_code == 303
    shown = client.get(good.headers["location"]).text
    assert "Elenco delle imprese caricato: 50 imprese, 150 addetti." in shown and "Officina 0 s.r.l." in shown
    bad = _upload_roster(client, app_id, "elenco.csv", roster_csv(_bad_rows()))
    assert bad.status_code == 422
    html = html_lib.unescape(bad.text)
    assert "L'elenco contiene 2 righe non valide (righe 2, 4): nulla è stato salvato" in html
    table = html.split("Righe non valide")[1].split("</table>")[0]
    assert re.search(r'<th scope="row">2</th><td>codice fiscale</td><td>12345678901</td><td>Codice fiscale', table)
    assert re.search(r'<th scope="row">4</th><td>regione</td><td>Atlantide</td><td>Regione «Atlantide»', table)
    assert re.search(r'<th scope="row">4</th><td>addetti</td><td>molti</td>', table)
    assert _members(session, app_id) == 50  # the earlier roster is untouched
    assert "50</strong> imprese" in html


def test_roster_xlsx_good_and_bad(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    bad = _upload_roster(client, app_id, "elenco.xlsx", roster_xlsx(_bad_rows()), XLSX)
    assert bad.status_code == 422 and "righe 2, 4" in bad.text and "Atlantide" in bad.text
    assert _members(session, app_id) == 0
    good = _upload_roster(client, app_id, "elenco.xlsx", roster_xlsx(roster_rows(60, employees=4)), XLSX)
    assert good.status_code == 303
    assert "60 imprese, 240 addetti" in client.get(good.headers["location"]).text
    assert _members(session, app_id) == 60


def test_roster_file_problems_are_clear(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    url = f"/pratiche/{app_id}/elenco-imprese"
    no_file = submit_form(client, url, url, {})
    assert no_file.status_code == 422
    assert "File dell'elenco: selezionare il file CSV o XLSX" in html_lib.unescape(no_file.text)
    no_header = _upload_roster(client, app_id, "elenco.csv", b"nome;cognome\nMario;Rossi\n")
    assert no_header.status_code == 422 and "mancano le colonne obbligatorie" in no_header.text
    assert "intero file" in no_header.text
    assert _members(session, app_id) == 0


# ---- documents and the submission forms ----------------------------------------------------------


def test_documents_then_the_submit_form(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    page = client.get(f"/pratiche/{app_id}/documenti").text
    assert '<label for="kind">Tipo di documento</label>' in page and '<label for="file">File</label>' in page
    assert '<option value="pact" selected>Patto di distretto</option>' in page
    assert 'value="receipt"' not in page  # produced by the office, never uploaded
    assert "La domanda non si può ancora presentare" in page and "servono almeno 50 imprese" in page
    assert "/azioni/submit" not in page
    assert _upload_roster(client, app_id, "elenco.csv", roster_csv(roster_rows())).status_code == 303
    for kind in ("pact", "development_programme"):
        assert _upload_document(client, app_id, kind).status_code == 303
    page = client.get(f"/pratiche/{app_id}/documenti").text
    assert "mancano i documenti: nomina del rappresentante" in page
    uploaded = _upload_document(client, app_id, "representative_appointment", b"%PDF-1.4 nomina")
    assert uploaded.status_code == 303
    page = client.get(uploaded.headers["location"]).text
    assert "Documento caricato: Nomina del rappresentante (representative_appointment.pdf)." in page
    assert f'<form method="post" action="/pratiche/{app_id}/azioni/submit">' in page
    assert "Presenta la domanda" in page
    doc_id = fetch(session, select(Document.id).where(Document.kind == "representative_appointment"))[0]
    download = client.get(f"/pratiche/{app_id}/documenti/{doc_id}")  # the application page's download
    assert download.status_code == 200 and download.content == b"%PDF-1.4 nomina"
    url = f"/pratiche/{app_id}/documenti"
    submitted = submit_form(client, url, f"/pratiche/{app_id}/azioni/submit", {})
    assert submitted.status_code == 303
    assert fetch(session, select(Application.state).where(Application.id == app_id)) == [State.SUBMITTED]
    after = client.get(url).text
    assert "i documenti non sono più modificabili" in after and 'name="file"' not in after


def test_document_form_errors(client: TestClient, people: People, session: Session) -> None:
    page_login(client, people.rep)
    app_id = _new_draft(client)
    url = f"/pratiche/{app_id}/documenti"
    no_kind = submit_form(client, url, url, {"kind": "receipt"}, files={"file": ("a.pdf", b"%PDF", "application/pdf")})
    assert no_kind.status_code == 422 and "Tipo di documento: selezionare il tipo di documento" in no_kind.text
    empty = submit_form(client, url, url, {"kind": "pact"}, files={"file": ("a.pdf", b"", "application/pdf")})
    assert empty.status_code == 422 and "File: il file è vuoto" in empty.text and 'id="file-errore"' in empty.text
    assert fetch(session, select(Document.id)) == []


def test_integration_requested_asks_for_the_answer(
    client: TestClient, people: People, auth: Http, session: Session
) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    act(client, app_id, "request_integration", off, missing_items=["Bilancio del consorzio"], deadline_days=20)
    page_login(client, people.rep)
    page = client.get(f"/pratiche/{app_id}/documenti").text
    assert "Bilancio del consorzio" in page and "entro il <strong>23/03/2026</strong>" in page
    assert '<option value="integration" selected>' in page
    assert f'action="/pratiche/{app_id}/azioni/answer_integration"' in page and 'name="note"' in page
    assert _upload_document(client, app_id, "integration").status_code == 303
    assert "Inviare le integrazioni richieste" in client.get("/distretto").text
    url = f"/pratiche/{app_id}/documenti"
    answered = submit_form(client, url, f"/pratiche/{app_id}/azioni/answer_integration", {"note": "Bilancio allegato"})
    assert answered.status_code == 303
    assert fetch(session, select(Application.state).where(Application.id == app_id)) == [State.COMPLETENESS_CHECK]


def test_rejection_notice_offers_the_observations_form(
    client: TestClient, people: People, auth: Http, session: Session
) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    act(client, app_id, "declare_complete", off, member_ids=[m.id for m in people.members])
    low = {"filiera": 5, "programma": 5, "specificita": 5, "impatto": 5}
    for member in people.members:
        scored = client.post(f"{API}/applications/{app_id}/evaluations", json={"scores": low}, headers=auth(member))
        assert scored.status_code == 201, scored.text
    act(client, app_id, "notify_rejection_intent", off, reason="Programma generico")
    page_login(client, people.rep)
    page = client.get(f"/pratiche/{app_id}/documenti").text
    assert "Preavviso di rigetto" in page and "Programma generico" in page
    assert f'action="/pratiche/{app_id}/azioni/submit_observations"' in page
    assert '<textarea id="observations" name="observations"' in page
    assert "Presentare le osservazioni al preavviso di rigetto" in client.get("/distretto").text
    url = f"/pratiche/{app_id}/documenti"
    sent = submit_form(
        client, url, f"/pratiche/{app_id}/azioni/submit_observations", {"observations": "Il programma è specifico"}
    )
    assert sent.status_code == 303
    assert fetch(session, select(Application.state).where(Application.id == app_id)) == [State.COMMITTEE_EVALUATION]


# ---- annual report -----------------------------------------------------------------------------

REPORT_FORM = {
    "activity_title": ["Missione a Hannover Messe", "", ""],
    "activity_objective": ["Internazionalizzazione", "", ""],
    "activity_description": ["Dieci imprese", "", ""],
    "activity_status": ["completata", "completata", "completata"],
    "activity_spending": ["42.000,50", "", ""],
    "kpi_label": ["Quota di export", ""],
    "kpi_value": ["38,5", ""],
    "kpi_target": ["40", ""],
    "kpi_unit": ["%", ""],
    "kpi_code": ["", ""],
    "joined": "",
    "left": "",
    "notes": "Anno positivo.",
}


def _open_2026(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> int:
    active = to_active(client, auth, people)
    clock.now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 4)) == (2026, 1)
    session.commit()
    return active


def test_annual_report_filed_from_the_page(
    client: TestClient, people: People, auth: Http, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    _open_2026(client, auth, people, clock, session, profile)
    page_login(client, people.rep)
    home = client.get("/distretto").text
    assert 'href="/distretto/relazioni/2026"' in home and "Trasmettere la Relazione annuale 2026" in home
    assert "entro il 31/03/2026" not in home and "31/03/2027" in home
    page = client.get("/distretto/relazioni/2026").text
    assert '<label class="visually-hidden" for="activity_title_1">' in page and '<label for="joined">' in page
    attach = submit_form(
        client, "/distretto/relazioni/2026", "/distretto/relazioni/2026/allegati", {},
        files={"file": ("rendiconto.pdf", b"%PDF-1.4 rendiconto", "application/pdf")},
    )  # fmt: skip
    assert attach.status_code == 303
    assert "Allegato «rendiconto.pdf» aggiunto" in client.get("/distretto/relazioni/2026").text
    filed = submit_form(client, "/distretto/relazioni/2026", "/distretto/relazioni/2026", REPORT_FORM)
    assert filed.status_code == 303, filed.text
    shown = client.get("/distretto/relazioni/2026").text
    assert "Relazione annuale 2026 trasmessa" in shown and "Relazione presentata" in shown
    assert (
        "Missione a Hannover Messe" in shown
        and "42.000,50" in shown
        and "38,5" in shown
        and 'name="activity_title"' not in shown
    )
    [report] = fetch(session, select(AnnualReport))
    assert report.state == State.REPORT_FILED
    assert report.content["activities"][0]["spending_eur"] == 42000.5
    assert report.content["kpis"][0] == {
        "code": "quota_di_export", "label": "Quota di export", "value": 38.5, "target": 40.0, "unit": "%",
    }  # fmt: skip
    file_id = fetch(session, select(Document.id).where(col(Document.annual_report_id) == report.id))[0]
    assert client.get(f"/distretto/relazioni/2026/allegati/{file_id}").content == b"%PDF-1.4 rendiconto"
    token = csrf_of(shown)
    again = client.post("/distretto/relazioni/2026", data={**REPORT_FORM, "csrf_token": token})
    assert again.status_code == 409 and "già stata trasmessa" in again.text


def test_annual_report_errors_and_years_not_open(
    client: TestClient, people: People, auth: Http, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    _open_2026(client, auth, people, clock, session, profile)
    page_login(client, people.rep)
    not_open = client.get("/distretto/relazioni/2027")
    assert not_open.status_code == 409
    message = "La relazione per l'anno 2027 non è ancora aperta: la raccolta si apre il 01/01/2028"
    assert message in html_lib.unescape(not_open.text)
    assert 'name="activity_title"' not in not_open.text
    url = "/distretto/relazioni/2026"
    nothing = submit_form(client, url, url, {"activity_title": ["", ""], "notes": "vuota"})
    assert nothing.status_code == 422 and "Attività svolte: servono almeno 1 elemento" in nothing.text
    assert "vuota</textarea>" in nothing.text
    half = submit_form(client, url, url, {**REPORT_FORM, "activity_objective": ["", "", ""]})
    assert half.status_code == 422
    assert "Attività della riga 1, obiettivo del Programma di Sviluppo: campo obbligatorio" in half.text
    assert (
        'id="activity_objective_1" name="activity_objective" value="" maxlength="300" aria-invalid="true"' in half.text
    )
    joined = roster_rows(2, start=5000)
    joined[1]["tax_code"] = "12345678901"
    lines = "\n".join(";".join(str(r[f]) for f in FIELDS) for r in joined)
    bad = submit_form(client, url, url, {**REPORT_FORM, "joined": lines, "left": "00000000000"})
    assert bad.status_code == 422 and "nulla è stato registrato" in bad.text
    table = html_lib.unescape(bad.text).split("(nulla è stato registrato)</caption>")[1].split("</table>")[0]
    assert re.search(r"<td>Imprese entrate</td><th scope=\"row\">2</th><td>codice fiscale</td>", table)
    assert re.search(
        r"<td>Imprese uscite</td><th scope=\"row\">1</th><td>codice fiscale</td><td>00000000000</td>", table
    )
    assert "Missione a Hannover Messe" in bad.text  # the form keeps what was typed
    [report] = fetch(session, select(AnnualReport))
    assert report.state == State.REPORT_OPEN and report.content == {}


def test_returned_report_shows_the_remarks_and_can_be_filed_again(
    client: TestClient, people: People, auth: Http, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    _open_2026(client, auth, people, clock, session, profile)
    page_login(client, people.rep)
    url = "/distretto/relazioni/2026"
    large = {**REPORT_FORM, "activity_spending": ["1.234.567,89", "", ""], "kpi_value": ["123,456", ""]}
    assert submit_form(client, url, url, large).status_code == 303
    report_id = fetch(session, select(AnnualReport.id))[0]
    returned = client.post(
        f"{API}/reports/{report_id}/actions/return", json={"remarks": "Mancano gli indicatori di filiera"},
        headers=auth(people.official),
    )  # fmt: skip
    assert returned.status_code == 200
    page = client.get(url).text
    assert "restituita con osservazioni" in page and "Mancano gli indicatori di filiera" in page
    assert 'value="Missione a Hannover Messe"' in page  # the form starts from what was filed
    assert 'value="1234567,89"' in page and 'value="123,456"' in page  # every digit, read back the same
    assert "restituita con osservazioni" in client.get("/distretto").text
    prefilled = {"activity_spending": ["1234567,89", "", ""], "kpi_value": ["123,456", ""]}
    again = submit_form(client, url, url, {**REPORT_FORM, **prefilled, "notes": "Con gli indicatori"})
    assert again.status_code == 303
    [report] = fetch(
        session, select(AnnualReport).where(AnnualReport.id == report_id).execution_options(populate_existing=True)
    )
    assert report.state == State.REPORT_FILED
    assert report.content["activities"][0]["spending_eur"] == 1234567.89
    assert report.content["kpis"][0]["value"] == 123.456


# ---- renewal -----------------------------------------------------------------------------------


def test_renewal_from_the_home_page(
    client: TestClient, people: People, auth: Http, clock: Clock, session: Session
) -> None:
    active = to_active(client, auth, people)
    clock.now = datetime(2029, 1, 15, 10, tzinfo=UTC)
    page_login(client, people.rep)
    home = client.get("/distretto").text
    assert "Attivo" in home and "01/03/2029" in home and "Fine della validità del riconoscimento" in home
    assert '<form method="post" action="/distretto/rinnovo">' in home and "Richiedi il rinnovo" in home
    assert "Nuova domanda non disponibile ora: il distretto è già riconosciuto" in home
    started = submit_form(client, "/distretto", "/distretto/rinnovo", {})
    assert started.status_code == 303
    renewal_id = int(started.headers["location"].split("/")[2])
    assert "Domanda di rinnovo n." in client.get(started.headers["location"]).text
    [renewal] = fetch(session, select(Application).where(Application.id == renewal_id))
    assert (renewal.kind, renewal.renewal_of_id, renewal.state) == (ApplicationKind.RENEWAL, active, State.DRAFT)
    assert "Rinnovo non disponibile ora: il distretto ha già una domanda in corso" in client.get("/distretto").text


def test_renewal_after_expiry_shows_the_reason(
    client: TestClient, people: People, auth: Http, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    to_active(client, auth, people)
    close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 2))
    session.commit()
    clock.now = datetime(2029, 3, 5, 10, tzinfo=UTC)
    page_login(client, people.rep)
    home = client.get("/distretto").text
    assert "Scaduto" in home and "Richiedi il rinnovo</button>" not in home
    assert "Nuova domanda di riconoscimento" in home
    refused = submit_form(client, "/distretto", "/distretto/rinnovo", {})
    assert refused.status_code == 303 and refused.headers["location"] == "/distretto"
    shown = html_lib.unescape(client.get("/distretto").text)
    assert (
        "il riconoscimento è scaduto il 01/03/2029: il rinnovo non è più possibile, "
        "occorre presentare una nuova domanda di riconoscimento"
    ) in shown
    assert 'class="alert alert-error" role="alert"' in shown
    assert len(fetch(session, select(Application.id))) == 1
