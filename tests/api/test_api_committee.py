"""Committee scores: only assigned members, only during the evaluation, every criterion within its range."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from models.enums import Role
from tests.api_support import API, Http, People, act, draft_ready
from tests.factories import Factory

GOOD = {"filiera": 25, "programma": 30, "specificita": 20, "impatto": 25}


def test_scoring_rules(client: TestClient, auth: Http, people: People, factory: Factory) -> None:
    rep, off = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    url = f"{API}/applications/{app_id}/evaluations"
    member = people.members[0]
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    early = client.post(f"{API}/applications/{app_id}/committee", json={"member_ids": [member.id]}, headers=off)
    assert early.status_code == 200  # assigned before the verdict: declare_complete keeps this choice
    not_yet = client.post(url, json={"scores": GOOD}, headers=auth(member))
    assert not_yet.status_code == 409 and not_yet.json()["state"] == "completeness_check"
    act(client, app_id, "declare_complete", off)
    outsider = client.post(url, json={"scores": GOOD}, headers=auth(people.members[1]))
    assert outsider.status_code == 403
    bad = client.post(url, json={"scores": {**GOOD, "filiera": 26, "extra": 1, "impatto": -1}}, headers=auth(member))
    assert bad.status_code == 422 and bad.json()["field"] == "scores"
    assert set(bad.json()["problems"]) == {"extra: criterio sconosciuto", "filiera: da 0 a 25", "impatto: da 0 a 25"}
    partial = client.post(url, json={"scores": {"filiera": 10}}, headers=auth(member))
    assert "programma: punteggio mancante" in partial.json()["problems"]
    ok = client.post(url, json={"scores": GOOD, "remarks": "Ottima filiera"}, headers=auth(member))
    assert ok.status_code == 201 and ok.json()["total"] == 100.0 and ok.json()["round"] == 1
    twice = client.post(url, json={"scores": GOOD}, headers=auth(member))
    assert twice.status_code == 409
    assert client.get(url, headers=rep).status_code == 403
    assert [e["member_id"] for e in client.get(url, headers=off).json()] == [member.id]
    agri_member = factory.user(Role.COMMITTEE, office="agricoltura")
    wrong_office = client.post(
        f"{API}/applications/{app_id}/committee", json={"member_ids": [agri_member.id]}, headers=off
    )
    assert wrong_office.status_code == 422
    by_rep = client.post(f"{API}/applications/{app_id}/committee", json={"member_ids": [member.id]}, headers=rep)
    assert by_rep.status_code == 403


def test_renewal_needs_the_active_application(client: TestClient, auth: Http, people: People, factory: Factory) -> None:
    from models.enums import State

    active = factory.application(people.district)
    active.state = State.ACTIVE
    factory.session.add(active)
    factory.session.commit()
    rep = auth(people.rep)
    recognition = client.post(f"{API}/applications", json={}, headers=rep)
    assert recognition.status_code == 409 and "rinnovo" in recognition.json()["detail"]
    wrong = client.post(f"{API}/applications", json={"kind": "renewal", "renewal_of_id": 999}, headers=rep)
    assert wrong.status_code == 422 and f"n. {active.id}" in wrong.json()["detail"]
    renewal = client.post(f"{API}/applications", json={"kind": "renewal", "renewal_of_id": active.id}, headers=rep)
    assert renewal.status_code == 201 and renewal.json()["renewal_of_id"] == active.id


def test_shutdown_drains_the_running_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.dispatch

    drained: list[bool] = []

    async def fake_drain() -> None:
        drained.append(True)

    monkeypatch.setattr(flows.dispatch, "drain", fake_drain)
    with TestClient(create_app()) as client:
        assert client.get(f"{API}/registry").status_code in (200, 503)
    assert drained == [True]
