"""Users (administrator only) and districts (representative's own, or bound by the administrator)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.people import User
from tests.api_support import API, Http, People, fetch, login


def _user(**over: Any) -> dict[str, Any]:
    body = {
        "username": "funzionaria",
        "full_name": "Anna Funzionaria",
        "email": "anna@regione.example",
        "role": "official",
        "office": "ricerca",
        "password": "una-password-lunga",
    }
    return {**body, **over}


def test_admin_creates_and_lists_users(client: TestClient, auth: Http, people: People, session: Session) -> None:
    admin = auth(people.admin)
    created = client.post(f"{API}/users", json=_user(), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["office"] == "ricerca" and "password" not in created.json()
    stored = fetch(session, select(User.password_hash).where(User.username == "funzionaria"))[0]
    assert stored.startswith("$argon2id$")
    login(client, "funzionaria", "una-password-lunga")
    listed = client.get(f"{API}/users", params={"role": "official"}, headers=admin).json()
    assert {u["username"] for u in listed} == {"funzionaria", people.official.username, people.official_agri.username}


def test_user_errors(client: TestClient, auth: Http, people: People) -> None:
    admin = auth(people.admin)
    assert client.post(f"{API}/users", json=_user(), headers=auth(people.official)).status_code == 403
    assert client.get(f"{API}/users", headers=auth(people.rep)).status_code == 403
    no_office = client.post(f"{API}/users", json=_user(office=None), headers=admin)
    assert no_office.status_code == 422 and no_office.json()["field"] == "office"
    assert "ricerca, agricoltura" in no_office.json()["detail"]
    system = client.post(f"{API}/users", json=_user(role="system"), headers=admin)
    assert system.status_code == 422 and system.json()["field"] == "role"
    short = client.post(f"{API}/users", json=_user(password="corta"), headers=admin)
    assert short.json()["errors"][0] == {
        "field": "password",
        "location": "body",
        "reason": "testo troppo corto (minimo 10 caratteri)",
    }
    duplicate = client.post(f"{API}/users", json=_user(username=people.official.username), headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "username"
    bad_district = client.post(
        f"{API}/users", json=_user(role="representative", office=None, district_id=999999), headers=admin
    )
    assert bad_district.status_code == 422 and bad_district.json()["field"] == "district_id"


def test_representative_creates_own_district(client: TestClient, auth: Http, factory: Any, session: Session) -> None:
    from models.enums import Role

    rep = factory.user(Role.REPRESENTATIVE)
    headers = login(client, rep)
    body = {"name": "Distretto del mobile imbottito", "section": 1, "representative_org": "Consorzio Mobile"}
    created = client.post(f"{API}/districts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    district_id = created.json()["id"]
    assert fetch(session, select(User.district_id).where(User.id == rep.id)) == [district_id]
    assert client.get(f"{API}/districts/{district_id}", headers=headers).json()["name"] == body["name"]
    again = client.post(f"{API}/districts", json={**body, "name": "Un altro distretto"}, headers=headers)
    assert again.status_code == 409
    assert client.get(f"{API}/districts", headers=headers).json()[0]["id"] == district_id


def test_admin_binds_a_representative(client: TestClient, auth: Http, people: People, factory: Any) -> None:
    from models.enums import Role

    rep = factory.user(Role.REPRESENTATIVE)
    body = {"name": "Distretto agroalimentare del Gargano", "section": 6, "representative_id": rep.id}
    created = client.post(f"{API}/districts", json=body, headers=auth(people.admin))
    assert created.status_code == 201
    assert client.get(f"{API}/auth/me", headers=login(client, rep)).json()["district_id"] == created.json()["id"]
    same_name = client.post(f"{API}/districts", json={**body, "representative_id": None}, headers=auth(people.admin))
    assert same_name.status_code == 409
    not_rep = {**body, "name": "Altro nome", "representative_id": people.official.id}
    assert (
        client.post(f"{API}/districts", json=not_rep, headers=auth(people.admin)).json()["field"] == "representative_id"
    )


def test_a_name_differing_only_in_accents_or_case_is_the_same_district(
    client: TestClient, auth: Http, people: People
) -> None:
    admin = auth(people.admin)
    body = {"name": "Società Cooperativa Città di Lecce", "section": 1}
    assert client.post(f"{API}/districts", json=body, headers=admin).status_code == 201
    for name in ("SOCIETA COOPERATIVA CITTA DI LECCE", "società cooperativa citta di lecce"):
        same = client.post(f"{API}/districts", json={**body, "name": name}, headers=admin)
        assert same.status_code == 409 and same.json()["field"] == "name", name
    other = {**body, "name": "Società Cooperativa Città di Brindisi"}
    assert client.post(f"{API}/districts", json=other, headers=admin).status_code == 201


def test_district_errors_and_competence(client: TestClient, auth: Http, people: People) -> None:
    bad_section = client.post(f"{API}/districts", json={"name": "Distretto", "section": 9}, headers=auth(people.admin))
    assert bad_section.status_code == 422 and bad_section.json()["field"] == "section"
    short = client.post(f"{API}/districts", json={"name": "D", "section": 1}, headers=auth(people.admin))
    assert short.json()["errors"][0]["field"] == "name"
    official = client.post(f"{API}/districts", json={"name": "Distretto", "section": 1}, headers=auth(people.official))
    assert official.status_code == 403
    url = f"{API}/districts/{people.district.id}"
    assert client.get(url, headers=auth(people.other_rep)).status_code == 403
    assert client.get(url, headers=auth(people.official_agri)).status_code == 403
    assert client.get(url, headers=auth(people.official)).status_code == 200
    assert client.get(f"{API}/districts/999999", headers=auth(people.admin)).status_code == 404
    seen = {d["id"] for d in client.get(f"{API}/districts", headers=auth(people.official_agri)).json()}
    assert seen == {people.agri_district.id}
