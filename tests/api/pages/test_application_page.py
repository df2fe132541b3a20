"""The application page: what it shows in each state, the action forms per role, posting actions,
errors as notices, competence, downloads and the deadlines calendar."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, func, select

from models.actions import finish_action
from models.application import Application, Document, StageAction
from models.enums import ActionStatus, ApplicationKind, Event, Role, State
from models.lifecycle import allowed_events
from models.people import User
from models.procedure import CommitteeAssignment
from tests.api_support import API, HIGH_SCORES, Dispatched, Http, People, act, draft_ready, fetch, to_active
from tests.factories import PASSWORD, Factory
from tests.pages_support import csrf_of

FORM_ACTION = re.compile(r'<form method="post" action="/pratiche/\d+/azioni/([a-z_]+)"')


def login_as(client: TestClient, user: User) -> None:
    """A fresh browser session for ``user`` (the landing page is not followed)."""
    client.cookies.clear()
    token = csrf_of(client.get("/accesso").text)
    response = client.post(
        "/accesso",
        data={"username": user.username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def open_page(client: TestClient, app_id: int) -> str:
    response = client.get(f"/pratiche/{app_id}")
    assert response.status_code == 200, response.text
    return unescape(response.text)


def post_action(client: TestClient, app_id: int, event: str, data: dict[str, object] | None = None) -> Response:
    token = csrf_of(open_page(client, app_id))
    return client.post(
        f"/pratiche/{app_id}/azioni/{event}", data={**(data or {}), "csrf_token": token}, follow_redirects=False
    )


def notice_after(client: TestClient, response: Response, app_id: int) -> str:
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/pratiche/{app_id}"
    return open_page(client, app_id)


def state_of(session: Session, app_id: int) -> State:
    application = fetch(session, select(Application).where(Application.id == app_id))[0]
    session.refresh(application)
    session.commit()
    return State(application.state)


def action_count(session: Session, app_id: int) -> int:
    return int(fetch(session, select(func.count(col(StageAction.id))).where(StageAction.application_id == app_id))[0])


def forms_on(html: str) -> list[str]:
    return FORM_ACTION.findall(html)


def expected(state: State, role: Role, kind: ApplicationKind = ApplicationKind.RECOGNITION) -> list[str]:
    return [e.value for e in allowed_events(state, kind, role)]


def in_review(client: TestClient, auth: Http, people: People) -> int:
    app_id = draft_ready(client, auth(people.rep))
    act(client, app_id, "submit", auth(people.rep))
    act(client, app_id, "start_review", auth(people.official))
    return app_id


def in_committee(client: TestClient, auth: Http, people: People) -> int:
    app_id = in_review(client, auth, people)
    act(client, app_id, "declare_complete", auth(people.official), member_ids=[m.id for m in people.members])
    return app_id


# ---- what the page shows ---------------------------------------------------------------------


def test_a_draft_shows_data_roster_documents_lifecycle_and_the_representatives_links(
    client: TestClient, auth: Http, people: People
) -> None:
    app_id = draft_ready(client, auth(people.rep))
    login_as(client, people.rep)
    html = open_page(client, app_id)
    assert f"<title>Domanda n. {app_id} – {people.district.name} – " in html
    assert "Distretti produttivi" in html and people.rep.full_name in html
    assert "50 imprese, 150 addetti in totale" in html
    assert html.count("Officina ") == 50 and "Sono mostrate le prime" not in html
    assert "patto di distretto" in html and "Programma di Sviluppo" in html
    docs = client.get(f"{API}/applications/{app_id}/documents", headers=auth(people.rep)).json()
    for doc in docs:
        assert f'href="/pratiche/{app_id}/documenti/{doc["id"]}"' in html
        assert f"{doc['sha256'][:12]}…" in html
    assert '<li class="current " aria-current="step">Bozza' in html
    assert '<li class="future ">Valutazione del comitato' in html
    for path in ("modifica", "elenco-imprese", "documenti"):
        assert f'href="/pratiche/{app_id}/{path}"' in html
    assert forms_on(html) == expected(State.DRAFT, Role.REPRESENTATIVE) == ["submit", "withdraw"]
    assert 'name="reason"' in html and '<label for="withdraw-reason">Motivazione' in html
    assert "Nessun evento registrato" in html


def test_only_the_first_fifty_enterprises_are_listed(client: TestClient, people: People, factory: Factory) -> None:
    application = factory.application(people.district, enterprises=60)
    login_as(client, people.rep)  # a draft: its representative's
    html = open_page(client, application.id or 0)
    assert "60 imprese" in html and "Sono mostrate le prime 50 imprese su 60." in html
    assert html.count('<td class="num">') >= 100  # row numbers and employees of 50 rows


def test_integration_request_through_the_form_suspends_the_term(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    response = post_action(
        client, app_id, "request_integration",
        {"missing_items": "Patto firmato da tutte le imprese\n\n  Visura camerale  \n", "deadline_days": "20"},
    )  # fmt: skip
    html = notice_after(client, response, app_id)
    assert "Richiesta di integrazione inviata: il termine è sospeso." in html
    assert state_of(session, app_id) == State.INTEGRATION_REQUESTED
    detail = client.get(f"{API}/applications/{app_id}", headers=auth(people.official)).json()
    assert detail["timeline"][-1]["details"]["missing_items"] == [
        "Patto firmato da tutte le imprese",
        "Visura camerale",
    ]
    assert detail["timeline"][-1]["details"]["deadline_days"] == 20
    assert "<caption>Sospensioni del termine</caption>" in html
    assert "integrazione documentale" in html and "L. 241/1990, art. 2 c. 7" in html and "in corso" in html
    assert "(termine sospeso ora)" in html
    assert '<li class="current side" aria-current="step">Integrazione richiesta' in html
    assert '<li class="done ">Verifica di completezza' in html
    assert "Invio delle integrazioni" in html  # the deadlines
    assert "Elementi mancanti: Patto firmato da tutte le imprese; Visura camerale" in html  # the timeline
    assert f"test-run-{detail['timeline'][-1]['flow_run_id'].split('-')[-1]}" in html
    assert expected(State.INTEGRATION_REQUESTED, Role.OFFICIAL) == ["integration_lapsed"]
    assert forms_on(html) == []  # offered only once the integration deadline has passed
    login_as(client, people.rep)
    rep_html = open_page(client, app_id)
    assert forms_on(rep_html) == expected(State.INTEGRATION_REQUESTED, Role.REPRESENTATIVE)
    assert "answer_integration" in forms_on(rep_html)
    assert f'href="/pratiche/{app_id}/documenti"' in rep_html
    assert f'href="/pratiche/{app_id}/modifica"' not in rep_html


def test_declare_complete_assigns_the_chosen_members(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    html = open_page(client, app_id)
    for member in people.members:
        assert f'name="member_ids" value="{member.id}"' in html
    chosen = [people.members[0].id or 0, people.members[2].id or 0]
    response = post_action(client, app_id, "declare_complete", {"member_ids": [str(i) for i in chosen]})
    html = notice_after(client, response, app_id)
    assert "Domanda dichiarata completa e trasmessa al comitato." in html
    assert state_of(session, app_id) == State.COMMITTEE_EVALUATION
    assigned = fetch(session, select(CommitteeAssignment.user_id).where(CommitteeAssignment.application_id == app_id))
    assert sorted(assigned) == sorted(chosen)
    assert "Valutazione n. 1: 0 valutazioni su 3 necessarie" in html
    assert f"{people.members[0].full_name} (non ha ancora valutato)" in html


def test_a_wrong_member_is_a_field_error_and_nothing_is_stored(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    before = action_count(session, app_id)
    login_as(client, people.official)
    response = post_action(client, app_id, "declare_complete", {"member_ids": str(people.official.id)})
    html = notice_after(client, response, app_id)
    assert "Membri del comitato da assegnare: non sono membri del comitato competenti" in html
    assert state_of(session, app_id) == State.COMPLETENESS_CHECK and action_count(session, app_id) == before


def test_committee_scores_approval_and_the_act_issued_by_the_head(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_committee(client, auth, people)
    for member in people.members:
        scored = client.post(
            f"{API}/applications/{app_id}/evaluations", json={"scores": HIGH_SCORES}, headers=auth(member)
        )
        assert scored.status_code == 201, scored.text
    login_as(client, people.members[0])
    html = open_page(client, app_id)
    assert forms_on(html) == expected(State.COMMITTEE_EVALUATION, Role.COMMITTEE) == ["approve"]
    assert "punteggio medio 80,0 su 100 (soglia 60)" in html
    assert f'href="/comitato/pratiche/{app_id}/valutazione"' in html
    login_as(client, people.rep)
    rep_html = open_page(client, app_id)
    assert 'id="comitato"' not in rep_html  # the scores are for the office only
    assert forms_on(rep_html) == expected(State.COMMITTEE_EVALUATION, Role.REPRESENTATIVE) == ["withdraw"]
    login_as(client, people.head)
    head_html = open_page(client, app_id)
    assert forms_on(head_html) == expected(State.COMMITTEE_EVALUATION, Role.HEAD)
    login_as(client, people.official)
    html = open_page(client, app_id)
    assert forms_on(html) == expected(State.COMMITTEE_EVALUATION, Role.OFFICIAL)
    assert "Valutazione del comitato" in html and html.count('<td class="num">80,0</td>') == 3
    assert f'href="/comitato/pratiche/{app_id}/decisione"' in html
    assert f'href="/comitato/pratiche/{app_id}/valutazione"' not in html
    html = notice_after(client, post_action(client, app_id, "approve"), app_id)
    assert "Esito positivo del comitato registrato." in html
    assert forms_on(html) == expected(State.RECOGNISED, Role.OFFICIAL) == []
    refused = notice_after(client, post_action(client, app_id, "issue_act", {"publication_ref": "x"}), app_id)
    assert "non è consentita al ruolo" in refused and state_of(session, app_id) == State.RECOGNISED
    login_as(client, people.head)
    html = open_page(client, app_id)
    assert forms_on(html) == ["issue_act"] and 'name="publication_ref"' in html
    response = post_action(client, app_id, "issue_act", {"publication_ref": "BURP n. 20 del 12/03/2026"})
    html = notice_after(client, response, app_id)
    assert "Atto di riconoscimento emesso" in html
    assert state_of(session, app_id) == State.ACTIVE
    assert "Determinazione dirigenziale n. 1/2026 del 02/03/2026" in html
    assert "dal 02/03/2026 al 01/03/2029" in html and "BURP n. 20 del 12/03/2026" in html
    assert '<li class="current " aria-current="step">Attivo nel registro' in html
    assert html.count('<li class="done ') == 5
    assert "atto di riconoscimento" in html  # the issued document
    assert "Scadenza del riconoscimento" in html
    assert forms_on(html) == expected(State.ACTIVE, Role.HEAD) == ["notify_revocation_intent"]


def test_an_active_entry_built_by_the_api_shows_the_whole_timeline(
    client: TestClient, auth: Http, people: People
) -> None:
    app_id = to_active(client, auth, people)
    login_as(client, people.rep)
    html = open_page(client, app_id)
    for label in ("Presenta la domanda", "Avvia l'istruttoria", "Emetti l'atto di riconoscimento"):
        assert f'<th scope="row">{label}</th>' in html
    assert "Bozza → Presentata" in html and people.official.full_name in html
    assert "Estremi di pubblicazione: BURP n. 1" in html
    assert forms_on(html) == expected(State.ACTIVE, Role.REPRESENTATIVE) == []
    assert "Nessuna azione è disponibile ora" in html


def test_the_head_starts_a_revocation_and_the_representative_answers_it(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = to_active(client, auth, people)
    login_as(client, people.head)
    response = post_action(client, app_id, "notify_revocation_intent", {"reason": "Aderiscono ormai 31 imprese"})
    html = notice_after(client, response, app_id)
    assert "Avvio del procedimento di revoca comunicato al distretto." in html
    assert '<li class="current side" aria-current="step">Procedimento di revoca avviato' in html
    assert forms_on(html) == ["drop_revocation"]  # the revocation itself once the 10 days are over
    login_as(client, people.rep)
    html = open_page(client, app_id)
    assert forms_on(html) == expected(State.REVOCATION_NOTICE, Role.REPRESENTATIVE)
    assert f'href="/pratiche/{app_id}/documenti"' in html
    response = post_action(client, app_id, "submit_revocation_observations", {"observations": "Altre 25 aderiranno."})
    assert "Osservazioni inviate all'ufficio." in notice_after(client, response, app_id)
    assert state_of(session, app_id) == State.REVOCATION_NOTICE


def test_the_rejection_notice_is_a_side_state_and_the_representative_may_answer(
    client: TestClient, auth: Http, people: People
) -> None:
    app_id = in_committee(client, auth, people)
    low = {"filiera": 5, "programma": 5, "specificita": 5, "impatto": 5}
    for member in people.members:
        client.post(f"{API}/applications/{app_id}/evaluations", json={"scores": low}, headers=auth(member))
    login_as(client, people.official)
    response = post_action(client, app_id, "notify_rejection_intent", {"reason": "Punteggio insufficiente"})
    assert "Preavviso di rigetto inviato" in notice_after(client, response, app_id)
    login_as(client, people.rep)
    html = open_page(client, app_id)
    assert '<li class="current side" aria-current="step">Preavviso di rigetto' in html
    assert forms_on(html) == expected(State.REJECTION_NOTICE, Role.REPRESENTATIVE)
    assert 'name="observations"' in html and f'href="/pratiche/{app_id}/documenti"' in html
    response = post_action(client, app_id, "submit_observations", {"observations": "La filiera è completa."})
    assert "Osservazioni inviate" in notice_after(client, response, app_id)


# ---- errors ----------------------------------------------------------------------------------


def test_an_action_not_allowed_now_names_the_state_and_changes_nothing(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    before = action_count(session, app_id)
    login_as(client, people.head)
    html = notice_after(client, post_action(client, app_id, "issue_act", {"publication_ref": "x"}), app_id)
    assert "«Emetti l'atto di riconoscimento» non è consentita nello stato «Verifica di completezza»" in html
    assert "«Richiedi integrazioni»" in html  # what is allowed instead
    assert 'class="alert alert-error"' in html
    assert state_of(session, app_id) == State.COMPLETENESS_CHECK and action_count(session, app_id) == before


def test_bad_deadline_days_and_missing_items_are_field_errors(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    before = action_count(session, app_id)
    login_as(client, people.official)
    cases = {
        "45": "Giorni concessi per l'integrazione: al massimo 30 giorni",
        "500": "Giorni concessi per l'integrazione: deve essere minore o uguale a 90",
        "tre": "Giorni concessi per l'integrazione: deve essere un numero intero",
    }
    for days, message in cases.items():
        response = post_action(client, app_id, "request_integration", {"missing_items": "Patto", "deadline_days": days})
        assert message in notice_after(client, response, app_id)
    response = post_action(client, app_id, "request_integration", {"missing_items": " \n ", "deadline_days": "10"})
    assert "Elementi mancanti: servono almeno 1 elemento" in notice_after(client, response, app_id)
    response = post_action(client, app_id, "declare_inadmissible", {"reason": ""})
    assert "Motivazione: testo troppo corto" in notice_after(client, response, app_id)
    assert state_of(session, app_id) == State.COMPLETENESS_CHECK and action_count(session, app_id) == before


def test_an_unknown_event_is_a_404_page(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    for event in ("volare", "expire"):  # "expire" is the system's, with no form
        response = post_action(client, app_id, event)
        assert response.status_code == 404
        assert "Pagina non trovata" in response.text and f"azione «{event}» sconosciuta" in response.text


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    open_page(client, app_id)
    response = client.post(f"/pratiche/{app_id}/azioni/start_review", data={}, follow_redirects=False)
    assert response.status_code == 403 and "Modulo non valido" in response.text
    response = client.post(
        f"/pratiche/{app_id}/azioni/declare_inadmissible", data={"reason": "Non conforme", "csrf_token": "0" * 64}
    )
    assert response.status_code == 403
    assert state_of(session, app_id) == State.COMPLETENESS_CHECK


def test_competence_other_district_other_office_unknown_id_anonymous(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft_ready(client, auth(people.rep))
    doc_id = client.get(f"{API}/applications/{app_id}/documents", headers=auth(people.rep)).json()[0]["id"]
    anonymous = client.get(f"/pratiche/{app_id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/accesso?dopo=")
    urls = (f"/pratiche/{app_id}", f"/pratiche/{app_id}/documenti/{doc_id}", f"/pratiche/{app_id}/scadenze.ics")
    for outsider in (people.other_rep, people.official_agri, people.official):  # a draft: not even found
        login_as(client, outsider)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404 and f"pratica {app_id} non trovata" in response.text, url
            assert people.district.name not in response.text
    act(client, app_id, "submit", auth(people.rep))
    for outsider in (people.other_rep, people.official_agri):
        login_as(client, outsider)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 403, url
            assert "pratica fuori dalla sua competenza" in response.text
            assert people.district.name not in response.text
        token = csrf_of(response.text)  # the error page still has the logout form
        response = client.post(
            f"/pratiche/{app_id}/azioni/withdraw", data={"reason": "Per prova", "csrf_token": token},
            follow_redirects=False,
        )  # fmt: skip
        assert response.status_code == 403
    assert state_of(session, app_id) == State.SUBMITTED
    login_as(client, people.official)
    missing = client.get(f"/pratiche/{app_id + 1000}")
    assert missing.status_code == 404 and f"pratica {app_id + 1000} non trovata" in missing.text
    assert client.get(f"/pratiche/{app_id}/documenti/{doc_id + 1000}").status_code == 404


def test_a_representative_may_not_take_an_office_action(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft_ready(client, auth(people.rep))
    act(client, app_id, "submit", auth(people.rep))
    login_as(client, people.rep)
    html = open_page(client, app_id)
    assert forms_on(html) == expected(State.SUBMITTED, Role.REPRESENTATIVE) == ["withdraw"]
    html = notice_after(client, post_action(client, app_id, "start_review"), app_id)
    assert "non è consentita al ruolo" in html and state_of(session, app_id) == State.SUBMITTED


# ---- pending and failed actions ----------------------------------------------------------------


def test_a_pending_action_refreshes_the_page_and_a_failed_one_shows_its_error(
    client: TestClient, auth: Http, people: People, session: Session, dispatched: Dispatched
) -> None:
    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    dispatched.run = False  # the flow has not run yet
    response = post_action(client, app_id, "declare_inadmissible", {"reason": "Programma non conforme"})
    html = notice_after(client, response, app_id)
    assert "richiesta accettata, in corso di esecuzione" in html
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "Azione in corso:</strong> «Dichiara inammissibile»" in html
    assert forms_on(html) == []
    action = fetch(
        session, select(StageAction).where(StageAction.application_id == app_id).order_by(col(StageAction.id).desc())
    )[0]
    finish_action(session, action=action, now=action.requested_at, error="il protocollo non risponde")
    html = open_page(client, app_id)
    assert 'http-equiv="refresh"' not in html
    assert "L'ultima azione non è riuscita:</strong> «Dichiara inammissibile»" in html
    assert "il protocollo non risponde" in html
    assert forms_on(html) == expected(State.COMPLETENESS_CHECK, Role.OFFICIAL)


def test_an_action_carried_out_after_the_redirect_is_then_said_done_to_its_author(
    client: TestClient, auth: Http, people: People, session: Session, dispatched: Dispatched
) -> None:
    from tasks.stage_work import carry_out

    app_id = in_review(client, auth, people)
    login_as(client, people.official)
    dispatched.run = False  # the flow runs after the redirect, as with a worker
    html = notice_after(client, post_action(client, app_id, "declare_inadmissible", {"reason": "Fuori ambito"}), app_id)
    assert "in corso di esecuzione" in html and "Domanda dichiarata inammissibile." not in html
    action = fetch(
        session, select(StageAction).where(StageAction.application_id == app_id).order_by(col(StageAction.id).desc())
    )[0]
    assert carry_out(action.id, flow_run_id="run-page").status == ActionStatus.DONE  # type: ignore[arg-type]
    html = open_page(client, app_id)
    assert '<div class="alert alert-ok" role="status"><p>Domanda dichiarata inammissibile.</p></div>' in html
    login_as(client, people.head)  # someone else: the file's state says it, no message of another's action
    assert "Domanda dichiarata inammissibile." not in open_page(client, app_id)


# ---- downloads ---------------------------------------------------------------------------------


def test_a_document_downloads_with_its_stored_content(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft_ready(client, auth(people.rep))
    docs = fetch(session, select(Document).where(Document.application_id == app_id).order_by(col(Document.id)))
    login_as(client, people.rep)  # a draft: its representative's
    for doc in docs:
        response = client.get(f"/pratiche/{app_id}/documenti/{doc.id}")
        assert response.status_code == 200
        assert response.content == f"%PDF-1.4 {doc.kind.value} {app_id}".encode()
        assert response.headers["content-type"] == "application/pdf"
        assert doc.filename in response.headers["content-disposition"]


def test_the_deadlines_calendar_is_the_apis(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_review(client, auth, people)
    act(client, app_id, "request_integration", auth(people.official), missing_items=["Patto"], deadline_days=15)
    login_as(client, people.rep)
    html = open_page(client, app_id)
    assert f'href="/pratiche/{app_id}/scadenze.ics"' in html
    page_ics = client.get(f"/pratiche/{app_id}/scadenze.ics")
    api_ics = client.get(f"{API}/applications/{app_id}/deadlines.ics", headers=auth(people.rep))
    assert page_ics.status_code == 200 and page_ics.headers["content-type"].startswith("text/calendar")
    assert page_ics.content == api_ics.content
    assert b"SUMMARY:Invio delle integrazioni" in page_ics.content
    assert page_ics.headers["content-disposition"] == api_ics.headers["content-disposition"]


def test_the_census_kind_has_its_own_path(client: TestClient, people: People, factory: Factory) -> None:
    census_district = factory.district(section=5)
    application = factory.application(census_district, kind=ApplicationKind.CENSUS, enterprises=3)
    application.state = State.SUBMITTED  # the office sees it once submitted
    factory.session.add(application)
    factory.session.commit()
    login_as(client, people.official)
    html = open_page(client, application.id or 0)
    stages = re.findall(r'<li class="[a-z ]+"[^>]*>([^<]+)<span', html)
    assert stages == ["Bozza", "Presentata", "Verifica di completezza", "Censito"]
    assert forms_on(html) == expected(State.SUBMITTED, Role.OFFICIAL, ApplicationKind.CENSUS) == ["start_review"]
    assert Event.REGISTER.value not in forms_on(html)
