"""Whole journeys through HTTP only: a live API server on 127.0.0.1 running real Prefect flows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from registro.fake_enterprises import make_roster

pytestmark = pytest.mark.prefect

PASSWORD = "password-e2e-12345"
SCORES_HIGH = {"filiera": 22, "programma": 25, "specificita": 16, "impatto": 20}
SCORES_LOW = {"filiera": 10, "programma": 12, "specificita": 8, "impatto": 9}


class Api:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str = PASSWORD) -> None:
        response = self.http.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()["access_token"]

    def call(self, user: str | None, method: str, url: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        response = self.http.request(method, url, headers=headers, **kwargs)
        assert response.status_code == expect, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def act(self, user: str, app_id: int, event: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        accepted = self.call(user, "POST", f"/api/v1/applications/{app_id}/actions/{event}", 202, json=body)
        action_id = accepted["action"]["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            action = self.call(user, "GET", f"/api/v1/actions/{action_id}")
            if action["status"] in ("done", "failed"):
                assert action["status"] == "done", action
                assert action["flow_run_id"], action
                return action
            time.sleep(0.05)
        raise AssertionError(f"{event}: the stage flow did not finish in 60 s")


@pytest.fixture
def api(live_server: str, clean_db: object) -> Iterator[Api]:
    from sqlmodel import Session

    from registro.bootstrap import ensure_admin
    from registro.db import get_engine

    with Session(get_engine()) as session:
        ensure_admin(session, password="admin-e2e-password")
    client = Api(live_server)
    client.login("admin", "admin-e2e-password")
    for username, role in (
        ("funz", "official"),
        ("dirig", "head"),
        ("val1", "committee"),
        ("val2", "committee"),
        ("val3", "committee"),
        ("rapp", "representative"),
    ):
        client.call(
            "admin",
            "POST",
            "/api/v1/users",
            201,
            json={
                "username": username,
                "full_name": username.title(),
                "email": f"{username}@example.it",
                "role": role,
                "office": None if role == "representative" else "ricerca",
                "password": PASSWORD,
            },
        )
        client.login(username)
    yield client
    client.http.close()


def _draft(api: Api) -> int:
    api.call(
        "rapp",
        "POST",
        "/api/v1/districts",
        201,
        json={
            "name": "Distretto della Meccanica di Precisione",
            "section": 1,
            "supply_chain": "meccanica",
            "territory": "Bari",
            "representative_org": "Consorzio Meccanica",
            "pec_email": "meccanica@pec.example.it",
        },
    )
    app = api.call(
        "rapp",
        "POST",
        "/api/v1/applications",
        201,
        json={"programme_summary": "Programma di sviluppo 2026-2028", "specificity": "Unico distretto della filiera"},
    )
    app_id = int(app["id"])
    api.call("rapp", "PUT", f"/api/v1/applications/{app_id}/roster", json={"rows": make_roster(52, seed=7)})
    for kind in ("pact", "development_programme", "representative_appointment"):
        files = {"file": (f"{kind}.pdf", b"%PDF-1.4\n% " + kind.encode() + b"\n%%EOF\n", "application/pdf")}
        api.call("rapp", "POST", f"/api/v1/applications/{app_id}/documents", 201, data={"kind": kind}, files=files)
    return app_id


def _score(api: Api, app_id: int, scores: dict[str, int]) -> None:
    for member in ("val1", "val2", "val3"):
        api.call(member, "POST", f"/api/v1/applications/{app_id}/evaluations", 201, json={"scores": scores})


def test_draft_to_active_registry_entry(api: Api) -> None:
    app_id = _draft(api)
    api.act("rapp", app_id, "submit")
    api.act("funz", app_id, "start_review")
    api.act("funz", app_id, "declare_complete")
    _score(api, app_id, SCORES_HIGH)
    api.act("funz", app_id, "approve")
    api.act("dirig", app_id, "issue_act", {"publication_ref": "BURP n. 10 del 2026"})

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
    app_id = _draft(api)
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
    _score(api, app_id, SCORES_LOW)
    api.act("funz", app_id, "notify_rejection_intent", {"reason": "Programma di sviluppo troppo generico"})
    api.act("rapp", app_id, "submit_observations", {"observations": "Abbiamo dettagliato azioni e indicatori"})
    detail = api.call("funz", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "committee_evaluation"
    assert len(detail["suspensions"]) == 2
    _score(api, app_id, SCORES_LOW)
    api.act("dirig", app_id, "reject", {"reason": "Le osservazioni non superano i motivi ostativi"})
    detail = api.call("rapp", "GET", f"/api/v1/applications/{app_id}")
    assert detail["state"] == "rejected"
    assert [i["event"] for i in detail["timeline"]][-1] == "reject"
