"""Password change through the JSON API: current password checked, rules on the new one, other sessions end."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.enums import Role
from models.people import ApiToken
from tests.api_support import API, People, fetch, login
from tests.factories import PASSWORD, Factory

NEW = "una-password-nuova-e-lunga"


def change(client: TestClient, headers: dict[str, str], current: str, new: str) -> int:
    body = {"current_password": current, "new_password": new}
    return client.post(f"{API}/auth/password", json=body, headers=headers).status_code


def test_the_new_password_works_and_every_other_session_ends(
    client: TestClient, people: People, session: Session
) -> None:
    here, elsewhere, other_user = login(client, people.rep), login(client, people.rep), login(client, people.official)
    assert change(client, here, PASSWORD, NEW) == 204
    assert client.get(f"{API}/auth/me", headers=here).status_code == 200  # the session that made the change stays
    assert client.get(f"{API}/auth/me", headers=elsewhere).status_code == 401
    assert client.get(f"{API}/auth/me", headers=other_user).status_code == 200  # other users are untouched
    assert len(fetch(session, select(ApiToken).where(ApiToken.user_id == people.rep.id))) == 1
    old = client.post(f"{API}/auth/token", data={"username": people.rep.username, "password": PASSWORD})
    assert old.status_code == 401
    login(client, people.rep, NEW)


def test_wrong_current_password_is_401_in_italian_and_nothing_changes(client: TestClient, people: People) -> None:
    here, elsewhere = login(client, people.official), login(client, people.official)
    response = client.post(
        f"{API}/auth/password", json={"current_password": "non-e-questa", "new_password": NEW}, headers=here
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "la password attuale non è corretta"
    assert client.get(f"{API}/auth/me", headers=elsewhere).status_code == 200
    login(client, people.official)  # the old password still works


def test_rules_on_the_new_password_give_422_in_italian(client: TestClient, people: People) -> None:
    headers = login(client, people.official)
    short = client.post(
        f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": "corta-11ch"}, headers=headers
    )
    assert short.status_code == 422
    assert short.json()["errors"][0] == {
        "field": "new_password", "location": "body", "reason": "testo troppo corto (minimo 12 caratteri)",
    }  # fmt: skip
    same = client.post(
        f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=headers
    )
    assert same.status_code == 422
    assert same.json()["detail"] == "la nuova password deve essere diversa da quella attuale"
    assert same.json()["field"] == "new_password"
    missing = client.post(f"{API}/auth/password", json={}, headers=headers)
    assert missing.status_code == 422 and "campo obbligatorio" in missing.json()["detail"]
    assert (
        client.post(f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": NEW}).status_code == 401
    )
    login(client, people.official)  # nothing changed


def test_the_username_is_not_a_password(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.OFFICIAL, office="ricerca", name="funzionario.lungo")
    headers = login(client, user)
    for new in ("Funzionario.Lungo", "il-mio-Funzionario.lungo-2026"):
        response = client.post(
            f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": new}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["detail"] == (
            "la password non può contenere il nome utente, il nome, il cognome o l'indirizzo e-mail"
        )
        assert response.json()["field"] == "new_password"


def test_a_common_password_is_refused_with_the_reason(client: TestClient, people: People) -> None:
    headers = login(client, people.official)
    response = client.post(
        f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": "Juventus1897!!"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("la password è troppo prevedibile")
    login(client, people.official)  # nothing changed


def test_guessing_the_current_password_is_throttled(client: TestClient, people: People) -> None:
    headers = login(client, people.head)
    statuses = [change(client, headers, f"tentativo-{i}", NEW) for i in range(6)]
    assert statuses == [401] * 5 + [429]
