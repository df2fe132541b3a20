"""Whole journeys through HTTP only: a live API server on 127.0.0.1 running real Prefect flows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.journey_support import SCORES_LOW, Api, create_people, draft, score, to_active

pytestmark = pytest.mark.prefect


@pytest.fixture
def api(live_server: str, clean_db: object) -> Iterator[Api]:
    from sqlmodel import Session

    from registro.bootstrap import ensure_admin
    from registro.db import get_engine

    with Session(get_engine()) as session:
        ensure_admin(session, password="admin-e2e-password")
    client = Api(live_server)
    client.login("admin", "admin-e2e-password")
    create_people(client)
    yield client
    client.http.close()


def test_draft_to_active_registry_entry(api: Api) -> None:
    app_id = to_active(api)

    detail = api.call("funz", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "active"
    events = [item["event"] for item in detail["timeline"]]
    assert events == ["submit", "start_review", "declare_complete", "approve", "issue_act"]
    assert all(item["flow_run_id"] for item in detail["timeline"])
    registry = api.call(None, "GET", "/api/v1/registry")
    [entry] = [e for e in registry if e["district_name"] == "Distretto della Meccanica di Precisione"]
    assert entry["enterprises"] == 52 and entry["act_number"]
    assert entry["valid_until"] > entry["valid_from"]
    documents = api.call("funz", "GET", f"/api/v1/applications/{app_id}/documents")
    decree = [d for d in documents if d["kind"] == "recognition_act"]
    assert decree, documents
    text = api.http.get(
        f"/api/v1/applications/{app_id}/documents/{decree[0]['id']}/file",
        headers={"Authorization": f"Bearer {api.tokens['funz']}"},
    )
    assert text.status_code == 200 and b"Meccanica di Precisione" in text.content


def test_integration_request_and_rejection_notice(api: Api) -> None:
    app_id = draft(api)
    api.act("rapp", app_id, "submit")
    api.act("funz", app_id, "start_review")
    api.act(
        "funz",
        app_id,
        "request_integration",
        {"missing_items": ["Programma di Sviluppo firmato da tutte le imprese"], "deadline_days": 20},
    )
    detail = api.call("rapp", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "integration_requested"
    assert detail["suspensions"] and detail["suspensions"][0]["ended_on"] is None
    # a second request is refused while the first one is open: 409 naming the state
    refused = api.call(
        "funz",
        "POST",
        f"/api/v1/applications/{app_id}/actions/request_integration",
        409,
        json={"missing_items": ["altro"], "deadline_days": 10},
    )
    assert "Integrazione richiesta" in refused["detail"]
    api.act("rapp", app_id, "answer_integration")
    api.act("funz", app_id, "declare_complete")
    score(api, app_id, SCORES_LOW)
    api.act("funz", app_id, "notify_rejection_intent", {"reason": "Programma di sviluppo troppo generico"})
    api.act("rapp", app_id, "submit_observations", {"observations": "Abbiamo dettagliato azioni e indicatori"})
    detail = api.call("funz", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "committee_evaluation"
    assert len(detail["suspensions"]) == 2
    score(api, app_id, SCORES_LOW)
    api.act("dirig", app_id, "reject", {"reason": "Le osservazioni non superano i motivi ostativi"})
    detail = api.call("rapp", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "rejected"
    assert [i["event"] for i in detail["timeline"]][-1] == "reject"
