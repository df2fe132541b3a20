"""Point 7 of issue 15: ``passwordpassword`` was accepted. Common and trivially patterned passwords, and
passwords containing the user's own names, are refused wherever a password is set: the password
change (API and page), a new user (API) and ``registro create-user``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from models.enums import Role
from models.people import User
from registro.bootstrap import ensure_admin
from registro.cli import app as cli
from tests.api_support import API, People, fetch, login
from tests.factories import PASSWORD, Factory
from tests.pages_support import page_login, submit_form

WEAK = [
    "passwordpassword",  # the issue's own example
    "Password123456",
    "P@ssw0rd2024!",
    "qwertyuiop123",
    "123456789012",
    "aaaaaaaaaaaa",
    "abcabcabcabc",
    "juventus1897!",
    "ciaociaociao",
    "tiamoamoremio",
    "Napoli2024Napoli",
    "forzainter2010",
    "principessa88",
]
PERSONAL = ["mario.rossi-2024!", "MarioRossi#Bari", "Rossi.Mario.1980", "mario.rossi@regione"]
GOOD = ["una-nuova-password-lunga", "Tramonto sul Gargano, 1987", "k7#Vq2!mZp9$Lx"]


@pytest.fixture
def mario(factory: Factory) -> User:
    user = factory.user(Role.OFFICIAL, office="ricerca", name="mario.rossi")
    user.full_name, user.email = "Mario Rossi", "mario.rossi@regione.example"
    factory.session.add(user)
    factory.session.commit()
    return user


def change(client: TestClient, headers: dict[str, str], new: str) -> tuple[int, str]:
    body = {"current_password": PASSWORD, "new_password": new}
    response = client.post(f"{API}/auth/password", json=body, headers=headers)
    return response.status_code, response.json().get("detail", "") if response.content else ""


@pytest.mark.parametrize("weak", WEAK + PERSONAL)
def test_the_api_refuses_a_weak_new_password(client: TestClient, mario: User, weak: str) -> None:
    headers = login(client, mario)
    status, detail = change(client, headers, weak)
    assert status == 422, weak
    assert "password" in detail, detail
    login(client, mario)  # nothing changed


def test_the_reasons_are_in_italian(client: TestClient, mario: User) -> None:
    headers = login(client, mario)
    assert "ripet" in change(client, headers, "passwordpassword")[1]
    assert "comuni" in change(client, headers, "Password123456")[1]
    assert "nome" in change(client, headers, "mario.rossi-2024!")[1]


@pytest.mark.parametrize("good", GOOD)
def test_an_unpredictable_password_is_accepted(client: TestClient, mario: User, good: str) -> None:
    assert change(client, login(client, mario), good)[0] == 204
    login(client, mario, good)


def test_a_new_user_with_a_weak_password_is_refused(client: TestClient, people: People, session: Session) -> None:
    admin = login(client, people.admin)
    body = {"username": "anna.verdi", "full_name": "Anna Verdi", "email": "anna.verdi@regione.example",
            "role": "official", "office": "ricerca"}  # fmt: skip
    for weak in ("passwordpassword", "annaverdi2024!", "qwerty123456"):
        response = client.post(f"{API}/users", json={**body, "password": weak}, headers=admin)
        assert response.status_code == 422, weak
        assert response.json()["field"] == "password"
    assert fetch(session, select(User).where(User.username == "anna.verdi")) == []
    ok = client.post(f"{API}/users", json={**body, "password": "Tramonto sul Gargano, 1987"}, headers=admin)
    assert ok.status_code == 201


def test_the_password_page_refuses_a_weak_password(client: TestClient, mario: User) -> None:
    page_login(client, mario)
    data = {"current_password": PASSWORD, "new_password": "passwordpassword", "new_password_repeat": "passwordpassword"}
    response = submit_form(client, "/profilo/password", "/profilo/password", data)
    assert response.status_code == 422
    assert "Nuova password:" in response.text


def test_create_user_on_the_command_line_refuses_a_weak_password(session: Session) -> None:
    runner = CliRunner()
    args = ["create-user", "luca.bianchi", "--role", "official", "--office", "ricerca", "--full-name", "Luca Bianchi"]
    weak = runner.invoke(cli, [*args, "--password", "passwordpassword"])
    assert weak.exit_code != 0
    assert "password" in weak.output and "ripet" in weak.output
    assert fetch(session, select(User).where(User.username == "luca.bianchi")) == []
    good = runner.invoke(cli, [*args, "--password", "Tramonto sul Gargano, 1987"])
    assert good.exit_code == 0, good.output


def test_the_first_administrators_password_from_the_environment_is_checked(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRO_ADMIN_PASSWORD", "passwordpassword")
    with pytest.raises(SystemExit, match="REGISTRO_ADMIN_PASSWORD non accettata: la password ripete"):
        ensure_admin(session)
    assert fetch(session, select(User).where(User.role == Role.ADMIN)) == []
    monkeypatch.setenv("REGISTRO_ADMIN_PASSWORD", "il faro di Punta Palascia")
    assert ensure_admin(session) == "il faro di Punta Palascia"
