"""Whole procedures through HTTP only (the stage flows replaced by the synchronous test helper)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_support import API, Clock, Http, People, act, draft_ready

HIGH = {"filiera": 20, "programma": 25, "specificita": 15, "impatto": 20}  # 80/100
LOW = {"filiera": 5, "programma": 5, "specificita": 5, "impatto": 5}  # 20/100


def _score_all(client: TestClient, auth: Http, people: People, app_id: int, scores: dict[str, int]) -> None:
    for member in people.members:
        response = client.post(
            f"{API}/applications/{app_id}/evaluations", json={"scores": scores}, headers=auth(member)
        )
        assert response.status_code == 201, response.text


def _to_committee(client: TestClient, auth: Http, people: People) -> int:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    submitted = act(client, app_id, "submit", rep)
    assert submitted["application"]["state"] == "submitted"
    assert client.get(f"{API}/applications/{app_id}", headers=rep).json()["protocol"]
    act(client, app_id, "start_review", off)
    member_ids = [m.id for m in people.members]
    wrong = client.post(
        f"{API}/applications/{app_id}/actions/declare_complete", json={"member_ids": [people.official.id]}, headers=off
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "member_ids"
    act(client, app_id, "declare_complete", off, member_ids=member_ids[:2])
    assigned = client.post(f"{API}/applications/{app_id}/committee", json={"member_ids": member_ids}, headers=off)
    assert assigned.status_code == 200, assigned.text
    assert sorted(m["user_id"] for m in assigned.json()) == sorted(i for i in member_ids if i is not None)
    return app_id


def test_draft_to_active_registry_entry(client: TestClient, auth: Http, people: People) -> None:
    rep, off, head = auth(people.rep), auth(people.official), auth(people.head)
    app_id = _to_committee(client, auth, people)
    _score_all(client, auth, people, app_id, HIGH)
    members = client.get(f"{API}/applications/{app_id}/committee", headers=off).json()
    assert all(m["scored_this_round"] for m in members)
    act(client, app_id, "approve", off)
    issued = act(client, app_id, "issue_act", head, publication_ref="BURP n. 20 del 12/03/2026")
    assert issued["application"]["state"] == "active"
    assert issued["application"]["state_label"] == "Attivo nel registro"
    registry = client.get(f"{API}/registry").json()
    assert len(registry) == 1
    entry = registry[0]
    assert entry["district_name"] == people.district.name
    assert entry["status"] == "active" and entry["status_label"] == "Attivo"
    assert entry["section"] == 1 and entry["section_name"] == "Distretti produttivi"
    assert entry["enterprises"] == 50 and entry["employees"] == 150
    assert entry["act_number"] == "n. 1/2026" and entry["publication_ref"] == "BURP n. 20 del 12/03/2026"
    assert entry["valid_from"] == "2026-03-02" and entry["valid_until"] == "2029-03-01"
    detail = client.get(f"{API}/applications/{app_id}", headers=rep).json()
    events = [item["event"] for item in detail["timeline"]]
    assert events == ["submit", "start_review", "declare_complete", "approve", "issue_act"]
    assert all(item["flow_run_id"].startswith("test-run-") for item in detail["timeline"])
    assert detail["timeline"][0]["actor_name"] == people.rep.full_name
    assert detail["clock"]["status"] == "nei termini"
    assert detail["allowed_actions"] == []  # nothing left for the representative on an active entry


def test_integration_request_and_rejection_notice(client: TestClient, auth: Http, people: People, clock: Clock) -> None:
    app_id = draft_ready(client, auth(people.rep))
    act(client, app_id, "submit", auth(people.rep))
    act(client, app_id, "start_review", auth(people.official))
    requested = act(
        client,
        app_id,
        "request_integration",
        auth(people.official),
        missing_items=["Patto firmato da tutte le imprese"],
        deadline_days=20,
    )
    assert requested["application"]["state"] == "integration_requested"
    application = client.get(f"{API}/applications/{app_id}", headers=auth(people.official)).json()
    assert application["integration_deadline"] == "2026-03-23"  # 22 March 2026 is a Sunday
    assert application["clock"]["suspended_now"] is True
    assert application["allowed_actions"] == []  # closing for a missing integration: only after the deadline
    clock.advance(days=5)
    files = {"file": ("patto-firmato.pdf", b"%PDF-1.4 patto firmato", "application/pdf")}
    up = client.post(
        f"{API}/applications/{app_id}/documents", data={"kind": "integration"}, files=files, headers=auth(people.rep)
    )
    assert up.status_code == 201
    act(client, app_id, "answer_integration", auth(people.rep), note="Allegato il patto firmato")
    act(client, app_id, "declare_complete", auth(people.official))
    client.post(
        f"{API}/applications/{app_id}/committee",
        json={"member_ids": [m.id for m in people.members]},
        headers=auth(people.official),
    )
    _score_all(client, auth, people, app_id, LOW)
    approve = client.post(f"{API}/applications/{app_id}/actions/approve", headers=auth(people.official))
    assert approve.status_code == 422
    assert "preavviso di rigetto" in approve.json()["detail"]
    act(client, app_id, "notify_rejection_intent", auth(people.official), reason="Filiera non documentata")
    clock.advance(days=3)
    act(
        client, app_id, "submit_observations", auth(people.rep), observations="La filiera è documentata nell'allegato B"
    )
    _score_all(client, auth, people, app_id, LOW)  # second round after the observations
    evaluations = client.get(f"{API}/applications/{app_id}/evaluations", headers=auth(people.official)).json()
    assert sorted({e["round"] for e in evaluations}) == [1, 2] and evaluations[0]["total"] == 20.0
    official_reject = client.post(
        f"{API}/applications/{app_id}/actions/reject", json={"reason": "x" * 5}, headers=auth(people.official)
    )
    assert official_reject.status_code == 403  # only the head of office rejects
    rejected = act(client, app_id, "reject", auth(people.head), reason="Requisiti di filiera non dimostrati")
    assert rejected["application"]["state"] == "rejected"
    detail = client.get(f"{API}/applications/{app_id}", headers=auth(people.official)).json()
    assert [s["reason"] for s in detail["suspensions"]] == ["integrazione documentale", "preavviso di rigetto"]
    assert detail["clock"]["days_suspended"] > 0
    assert detail["timeline"][-1]["reason"] == "Requisiti di filiera non dimostrati"
    assert client.get(f"{API}/registry").json() == []


def test_census_registration(client: TestClient, auth: Http, people: People, factory: object) -> None:
    census_rep_district = client.post(
        f"{API}/districts",
        json={"name": "Rete dei laboratori", "section": 5, "representative_org": "Associazione Laboratori"},
        headers=auth(people.admin),
    )
    assert census_rep_district.status_code == 201
    # a fresh representative of the census district, created by the administrator
    user = {
        "username": "censimento",
        "full_name": "Rappresentante censimento",
        "email": "c@example.it",
        "role": "representative",
        "district_id": census_rep_district.json()["id"],
        "password": "password-lunga-1",
    }
    assert client.post(f"{API}/users", json=user, headers=auth(people.admin)).status_code == 201
    from tests.api_support import login

    rep = login(client, "censimento", "password-lunga-1")
    created = client.post(f"{API}/applications", json={"kind": "census"}, headers=rep)
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    files = {"file": ("nomina.pdf", b"%PDF-1.4 nomina", "application/pdf")}
    client.post(
        f"{API}/applications/{app_id}/documents", data={"kind": "representative_appointment"}, files=files, headers=rep
    )
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", auth(people.official))
    act(client, app_id, "register", auth(people.official))
    entries = client.get(f"{API}/registry", params={"status": "census"}).json()
    assert [e["district_name"] for e in entries] == ["Rete dei laboratori"]
    assert entries[0]["act_number"] is None and entries[0]["valid_until"] is None
