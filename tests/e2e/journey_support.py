"""The HTTP-only journey helpers shared by tests/e2e (the live server here, the production set-up too)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from registro.fake_enterprises import make_roster

PASSWORD = "Trulli e ulivi sul Gargano 1987"  # passes the password policy
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


PEOPLE = (
    ("funz", "official"),
    ("dirig", "head"),
    ("val1", "committee"),
    ("val2", "committee"),
    ("val3", "committee"),
    ("rapp", "representative"),
)


def create_people(api: Api) -> None:
    """As the administrator (logged in as «admin»), creates and logs in the journey's users."""
    for username, role in PEOPLE:
        api.call(
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
        api.login(username)


def draft(api: Api) -> int:
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


def score(api: Api, app_id: int, scores: dict[str, int]) -> None:
    for member in ("val1", "val2", "val3"):
        api.call(member, "POST", f"/api/v1/applications/{app_id}/evaluations", 201, json={"scores": scores})


def to_active(api: Api) -> int:
    """A new district's application from draft to an active registry entry, every stage through HTTP."""
    app_id = draft(api)
    api.act("rapp", app_id, "submit")
    api.act("funz", app_id, "start_review")
    api.act("funz", app_id, "declare_complete")
    score(api, app_id, SCORES_HIGH)
    api.act("funz", app_id, "approve")
    api.act("dirig", app_id, "issue_act", {"publication_ref": "BURP n. 10 del 2026"})
    return app_id
