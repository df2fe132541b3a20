"""Drafts, listing with filters and visibility, one application, action status, 409/403/404/422."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.enums import State
from tests.api_support import API, Clock, Dispatched, Http, People, act, draft_ready
from tests.factories import Factory


def test_create_and_update_draft(client: TestClient, auth: Http, people: People) -> None:
    rep = auth(people.rep)
    created = client.post(f"{API}/applications", json={"programme_summary": "Bozza"}, headers=rep)
    assert created.status_code == 201
    body = created.json()
    assert body["state"] == "draft" and body["state_label"] == "Bozza" and body["district_id"] == people.district.id
    assert {a["event"] for a in body["allowed_actions"]} == {"submit", "withdraw"}
    assert body["clock"] is None and body["office"] == "Sezione Ricerca e Relazioni Internazionali"
    app_id = body["id"]
    patched = client.patch(f"{API}/applications/{app_id}", json={"specificity": "Unico in Puglia"}, headers=rep)
    assert patched.status_code == 200
    assert patched.json()["specificity"] == "Unico in Puglia" and patched.json()["programme_summary"] == "Bozza"
    second = client.post(f"{API}/applications", json={}, headers=rep)
    assert second.status_code == 409 and second.json()["application_id"] == app_id


def test_draft_rules(client: TestClient, auth: Http, people: People) -> None:
    official = client.post(
        f"{API}/applications", json={"district_id": people.district.id}, headers=auth(people.official)
    )
    assert official.status_code == 403
    other = client.post(f"{API}/applications", json={"district_id": people.district.id}, headers=auth(people.other_rep))
    assert other.status_code == 403
    census = client.post(f"{API}/applications", json={"kind": "census"}, headers=auth(people.rep))
    assert census.status_code == 422 and census.json()["field"] == "kind"
    renewal = client.post(f"{API}/applications", json={"kind": "renewal"}, headers=auth(people.rep))
    assert renewal.status_code == 422 and renewal.json()["field"] == "renewal_of_id"
    bad_kind = client.post(f"{API}/applications", json={"kind": "altro"}, headers=auth(people.rep))
    assert bad_kind.status_code == 422
    error = bad_kind.json()["errors"][0]
    assert error["field"] == "kind" and error["reason"].startswith("valore non ammesso (ammessi: recognition")


def test_update_after_submission_is_409_naming_state_and_actions(
    client: TestClient, auth: Http, people: People
) -> None:
    rep = auth(people.rep)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    response = client.patch(f"{API}/applications/{app_id}", json={"specificity": "tardi"}, headers=rep)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "azione_non_consentita"
    assert body["state"] == "submitted" and body["allowed"] == ["withdraw"]
    assert "«Presentata»" in body["detail"] and "«Ritira la domanda»" in body["detail"]  # the labels, in Italian


def test_action_not_allowed_in_state_is_409(client: TestClient, auth: Http, people: People) -> None:
    rep = auth(people.rep)
    app_id = client.post(f"{API}/applications", json={}, headers=rep).json()["id"]
    response = client.post(f"{API}/applications/{app_id}/actions/issue_act", headers=rep)
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == "draft" and body["allowed"] == ["submit", "withdraw"]
    assert "Bozza" in body["detail"]
    # the office does not even see a draft (models.access): 404, as for an id that does not exist
    hidden = client.post(f"{API}/applications/{app_id}/actions/start_review", headers=auth(people.official))
    assert hidden.status_code == 404 and hidden.json()["detail"] == f"pratica {app_id} non trovata"


def test_rule_violation_is_422_and_nothing_changes(client: TestClient, auth: Http, people: People) -> None:
    rep = auth(people.rep)
    app_id = client.post(f"{API}/applications", json={}, headers=rep).json()["id"]
    response = client.post(f"{API}/applications/{app_id}/actions/submit", headers=rep)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "requisito_non_soddisfatto"
    assert "almeno 50 imprese" in body["detail"] and "mancano i documenti" in body["detail"]
    assert client.get(f"{API}/applications/{app_id}", headers=rep).json()["state"] == "draft"


def test_payload_errors_name_the_field(client: TestClient, auth: Http, people: People) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    url = f"{API}/applications/{app_id}/actions/request_integration"
    missing = client.post(url, json={"deadline_days": 10}, headers=off)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "missing_items", "location": "body", "reason": "campo obbligatorio"}]
    too_long = client.post(url, json={"missing_items": ["patto"], "deadline_days": 45}, headers=off)
    assert too_long.status_code == 422 and too_long.json()["field"] == "deadline_days"
    assert "30 giorni" in too_long.json()["detail"]
    empty = client.post(url, json={"missing_items": [], "deadline_days": 10}, headers=off)
    assert empty.json()["errors"][0]["reason"] == "servono almeno 1 elemento"
    broken = client.post(url, content=b"{non json", headers={**off, "Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["reason"] == "il corpo della richiesta non è JSON valido"
    short = client.post(f"{API}/applications/{app_id}/actions/withdraw", json={"reason": "no"}, headers=rep)
    assert short.json()["errors"][0] == {
        "field": "reason",
        "location": "body",
        "reason": "testo troppo corto (minimo 3 caratteri)",
    }


def test_competence_403_and_404(client: TestClient, auth: Http, people: People) -> None:
    rep = auth(people.rep)
    app_id = draft_ready(client, rep)
    for user in (people.other_rep, people.official_agri, people.agri_rep, people.official, people.admin):
        response = client.get(f"{API}/applications/{app_id}", headers=auth(user))  # a draft: not even found
        assert response.status_code == 404, user.username
        assert response.json() == {"detail": f"pratica {app_id} non trovata", "code": "non_trovato"}
    act(client, app_id, "submit", rep)
    for user in (people.other_rep, people.official_agri, people.agri_rep):
        response = client.get(f"{API}/applications/{app_id}", headers=auth(user))
        assert response.status_code == 403, user.username
        assert response.json() == {"detail": "pratica fuori dalla sua competenza", "code": "non_autorizzato"}
    act_other = client.post(
        f"{API}/applications/{app_id}/actions/withdraw", json={"reason": "abc"}, headers=auth(people.other_rep)
    )
    assert act_other.status_code == 403
    missing = client.get(f"{API}/applications/999999", headers=auth(people.official))
    assert missing.status_code == 404 and missing.json()["detail"] == "pratica 999999 non trovata"
    assert client.get(f"{API}/actions/999999", headers=auth(people.official)).status_code == 404
    assert client.get(f"{API}/applications/abc", headers=auth(people.official)).json()["errors"][0] == {
        "field": "application_id",
        "location": "path",
        "reason": "deve essere un numero intero",
    }


def test_accepted_action_is_queued_and_locks_the_file(
    client: TestClient, auth: Http, people: People, dispatched: Dispatched
) -> None:
    rep = auth(people.rep)
    app_id = draft_ready(client, rep)
    dispatched.run = False  # the flow has not run yet
    response = client.post(f"{API}/applications/{app_id}/actions/submit", headers=rep)
    assert response.status_code == 202
    body = response.json()
    action_id = body["action"]["id"]
    assert dispatched.ids == [action_id]
    assert body["action"]["status"] == "queued" and body["application"]["state"] == "draft"
    assert body["application"] == {
        "id": app_id,
        "state": "draft",
        "state_label": "Bozza",
        "version": body["application"]["version"],
        "pending_action_id": action_id,
    }
    assert client.get(f"{API}/applications/{app_id}", headers=rep).json()["allowed_actions"] == []
    again = client.post(f"{API}/applications/{app_id}/actions/withdraw", json={"reason": "ci ripenso"}, headers=rep)
    assert again.status_code == 409 and again.json()["code"] == "modifica_concorrente"
    edit = client.patch(f"{API}/applications/{app_id}", json={"specificity": "x"}, headers=rep)
    assert edit.status_code == 409
    status = client.get(f"{API}/actions/{action_id}", headers=rep)
    assert status.status_code == 200 and status.json()["event"] == "submit" and status.json()["status"] == "queued"
    assert client.get(f"{API}/actions/{action_id}", headers=auth(people.other_rep)).status_code == 404  # a draft's
    detail = client.get(f"{API}/applications/{app_id}", headers=rep).json()
    assert detail["pending_action"]["id"] == action_id


def test_list_filters_and_visibility(
    client: TestClient, auth: Http, people: People, factory: Factory, session: Session, clock: Clock
) -> None:
    rep = auth(people.rep)
    mine = draft_ready(client, rep)
    act(client, mine, "submit", rep)
    other = factory.application(people.other_district)
    agri = factory.application(people.agri_district)
    other.state, agri.state = State.COMPLETENESS_CHECK, State.SUBMITTED
    session.add_all([other, agri])
    session.commit()
    hidden = factory.application(people.other_district)  # a draft: its district's representatives' only

    def ids(headers: dict[str, str], **params: object) -> list[int]:
        response = client.get(f"{API}/applications", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(auth(people.rep)) == [mine]
    assert ids(auth(people.other_rep)) == [hidden.id, other.id]
    assert len(ids(auth(people.official))) == 2  # sections 1-5 only, no draft
    assert hidden.id not in ids(auth(people.admin)) + ids(auth(people.head))
    assert agri.id not in ids(auth(people.official))
    assert ids(auth(people.official_agri)) == [agri.id]
    assert len(ids(auth(people.admin))) == 3
    assert ids(auth(people.admin), state="submitted", section=1) == [mine]
    assert ids(auth(people.admin), office="agricoltura") == [agri.id]
    assert client.get(f"{API}/applications", params={"office": "pesca"}, headers=auth(people.admin)).status_code == 422
    assert ids(auth(people.admin), overdue=True) == []
    clock.advance(days=40)
    assert ids(auth(people.admin), overdue=True) == [mine]
    page = client.get(f"{API}/applications", params={"page_size": 2, "page": 2}, headers=auth(people.admin)).json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2
    one = client.get(f"{API}/applications/{mine}", headers=auth(people.official)).json()
    assert one["overdue"] is True and one["clock"]["status"] == "fuori termine" and one["clock"]["days_left"] < 0
