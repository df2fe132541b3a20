"""The committee's pages: the member's list, scoring through the form, the decision page and its forms."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.people import User
from models.procedure import Evaluation
from tests.api_support import API, HIGH_SCORES, Http, People, act, draft_ready, fetch
from tests.factories import PASSWORD
from tests.pages_support import csrf_of, submit_form

LOW_SCORES = {"filiera": 10, "programma": 10, "specificita": 10, "impatto": 10}  # 40/100


def in_committee(client: TestClient, auth: Http, people: People, members: list[User] | None = None) -> int:
    """An application of people.district in committee evaluation, with the given members assigned."""
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    chosen = people.members if members is None else members
    act(client, app_id, "declare_complete", off, member_ids=[m.id for m in chosen])
    return app_id


def scored_by(client: TestClient, auth: Http, app_id: int, members: list[User], scores: dict[str, int]) -> None:
    for member in members:
        response = client.post(
            f"{API}/applications/{app_id}/evaluations", json={"scores": scores}, headers=auth(member)
        )
        assert response.status_code == 201, response.text


def as_user(client: TestClient, user: User) -> None:
    """Logs in through the form (not following the landing redirect: some landing pages are elsewhere)."""
    client.cookies.clear()
    token = csrf_of(client.get("/accesso").text)
    data = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/accesso", data=data, follow_redirects=False).status_code == 303


def form_fields(scores: dict[str, int]) -> dict[str, str]:
    return {f"punteggio_{code}": str(value) for code, value in scores.items()}


def evaluations(session: Session, app_id: int) -> list[Evaluation]:
    return fetch(session, select(Evaluation).where(Evaluation.application_id == app_id).order_by(col(Evaluation.id)))


def test_anonymous_visitor_goes_to_the_login(client: TestClient) -> None:
    for url in ("/comitato", "/comitato/pratiche/1/valutazione", "/comitato/pratiche/1/decisione"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/accesso?dopo=")


def test_member_scores_through_the_form(client: TestClient, auth: Http, people: People, session: Session) -> None:
    app_id = in_committee(client, auth, people)
    member = people.members[0]
    as_user(client, member)
    home = client.get("/comitato")
    assert home.status_code == 200
    assert people.district.name in home.text and "da attribuire" in home.text
    assert f'href="/comitato/pratiche/{app_id}/valutazione"' in home.text
    url = f"/comitato/pratiche/{app_id}/valutazione"
    form = client.get(url)
    assert form.status_code == 200
    assert 'name="punteggio_filiera" min="0" max="25"' in form.text
    assert "Qualità del Programma di Sviluppo" in form.text and 'max="30"' in form.text

    too_much = submit_form(client, url, url, {**form_fields({**HIGH_SCORES, "filiera": 26}), "remarks": "Bene"})
    assert too_much.status_code == 422
    assert "Coerenza e integrazione della filiera: da 0 a 25" in too_much.text
    assert 'value="26"' in too_much.text and ">Bene</textarea>" in too_much.text  # the input is shown again
    missing = submit_form(client, url, url, {"punteggio_filiera": "dieci"})
    assert missing.status_code == 422
    assert "Coerenza e integrazione della filiera: deve essere un numero intero" in missing.text
    assert "Impatto economico e occupazionale atteso: punteggio mancante" in missing.text
    assert evaluations(session, app_id) == []

    done = submit_form(client, url, url, {**form_fields(HIGH_SCORES), "remarks": "Filiera solida"})
    assert done.status_code == 303 and done.headers["location"] == url
    stored = evaluations(session, app_id)
    assert len(stored) == 1 and stored[0].member_id == member.id
    assert stored[0].scores == HIGH_SCORES and stored[0].total == 80.0 and stored[0].remarks == "Filiera solida"
    after = client.get(url)
    assert "Punteggi registrati: 80,00 su 100." in after.text
    assert "I suoi punteggi" in after.text and "Registra i punteggi" not in after.text
    assert "80,00" in after.text and "Filiera solida" in after.text
    assert "<td>registrati</td>" in client.get("/comitato").text

    again = client.post(url, data={**form_fields(HIGH_SCORES), "csrf_token": csrf_of(after.text)})
    assert again.status_code == 409 and "punteggi già registrati" in again.text
    assert len(evaluations(session, app_id)) == 1


def test_only_assigned_members_score(client: TestClient, auth: Http, people: People, session: Session) -> None:
    app_id = in_committee(client, auth, people, members=[people.members[0]])
    url = f"/comitato/pratiche/{app_id}/valutazione"
    as_user(client, people.members[1])
    assert "Nessuna pratica è assegnata" in client.get("/comitato").text
    refused = client.get(url)
    assert refused.status_code == 403 and "la pratica non è assegnata alla sua valutazione" in refused.text
    token = csrf_of(client.get("/comitato").text)
    posted = client.post(url, data={**form_fields(HIGH_SCORES), "csrf_token": token}, follow_redirects=False)
    assert posted.status_code == 403
    assert client.get(f"/comitato/pratiche/{app_id}/decisione").status_code == 403
    assert evaluations(session, app_id) == []
    as_user(client, people.official)
    assert client.get(url).status_code == 403  # scoring is the members' work
    as_user(client, people.rep)
    assert client.get("/comitato").status_code == 403
    assert client.get(f"/comitato/pratiche/{app_id}/decisione").status_code == 403


def test_scoring_outside_the_evaluation_is_refused(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    member = people.members[0]
    assigned = client.post(f"{API}/applications/{app_id}/committee", json={"member_ids": [member.id]}, headers=off)
    assert assigned.status_code == 200
    as_user(client, member)
    url = f"/comitato/pratiche/{app_id}/valutazione"
    form = client.get(url)
    assert form.status_code == 200 and "non è in fase di valutazione del comitato" in form.text
    assert 'name="punteggio_filiera"' not in form.text
    posted = client.post(url, data={**form_fields(HIGH_SCORES), "csrf_token": csrf_of(form.text)})
    assert posted.status_code == 409 and "attribuire punteggi non consentito" in posted.text
    assert evaluations(session, app_id) == []


def test_decision_page_figures_and_forms_by_role(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_committee(client, auth, people)
    url = f"/comitato/pratiche/{app_id}/decisione"
    scored_by(client, auth, app_id, people.members[:2], HIGH_SCORES)
    as_user(client, people.official)
    waiting = client.get(url)
    assert waiting.status_code == 200
    assert "2 su 3 membri assegnati" in waiting.text and "non raggiunto" in waiting.text
    assert "in attesa del quorum" in waiting.text

    scored_by(client, auth, app_id, people.members[2:], LOW_SCORES)  # (80 + 80 + 40) / 3 = 66.67
    official = client.get(url)
    text = official.text
    assert "3 su 3 membri assegnati" in text and "<strong>raggiunto</strong>" in text
    assert "66,67 su 100" in text and "60 su 100" in text and "la domanda può essere accolta" in text
    for member in people.members:
        assert member.full_name in text
    assert "16,67" in text  # average of filiera: (20 + 20 + 10) / 3
    assert f'action="/pratiche/{app_id}/azioni/approve"' in text
    assert f'action="/pratiche/{app_id}/azioni/notify_rejection_intent"' in text
    assert 'name="reason"' in text

    as_user(client, people.members[0])
    member_view = client.get(url).text
    assert f'action="/pratiche/{app_id}/azioni/approve"' in member_view  # the lifecycle lets the committee approve
    assert "notify_rejection_intent" not in member_view
    as_user(client, people.admin)
    admin_view = client.get(url)
    assert admin_view.status_code == 200 and "66,67 su 100" in admin_view.text
    assert "/azioni/" not in admin_view.text
    as_user(client, people.official_agri)
    assert client.get(url).status_code == 403  # another office's file


def test_the_office_list_shows_files_in_evaluation(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_committee(client, auth, people)
    scored_by(client, auth, app_id, people.members[:1], HIGH_SCORES)
    as_user(client, people.head)
    home = client.get("/comitato")
    assert home.status_code == 200 and "Pratiche in valutazione del comitato" in home.text
    assert f'href="/comitato/pratiche/{app_id}/decisione"' in home.text and "1 / 3" in home.text
    as_user(client, people.official_agri)
    assert people.district.name not in client.get("/comitato").text


def test_a_low_average_points_to_the_rejection_notice(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_committee(client, auth, people)
    scored_by(client, auth, app_id, people.members, LOW_SCORES)
    as_user(client, people.head)
    text = client.get(f"/comitato/pratiche/{app_id}/decisione").text
    assert "40,00 su 100" in text and "occorre il preavviso di rigetto" in text
    assert f'action="/pratiche/{app_id}/azioni/notify_rejection_intent"' in text


def test_only_assigned_members_are_offered_the_decision(client: TestClient, auth: Http, people: People) -> None:
    app_id = in_committee(client, auth, people, members=people.members[:2])
    scored_by(client, auth, app_id, people.members[:2], HIGH_SCORES)
    as_user(client, people.members[2])
    unassigned = client.get(f"/pratiche/{app_id}")  # not assigned: the file itself is refused (models.access)
    assert unassigned.status_code == 403 and "/azioni/approve" not in unassigned.text
    as_user(client, people.members[0])
    assert f"/pratiche/{app_id}/azioni/approve" in client.get(f"/pratiche/{app_id}").text
