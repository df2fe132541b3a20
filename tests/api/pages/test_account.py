"""Login and logout through the pages: cookie session, CSRF, throttling, safe redirects, headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import auth
from api.pages.web import CSRF_COOKIE, SESSION_COOKIE
from registro.passwords import PasswordHashingBusy
from tests.api_support import API, People, login
from tests.factories import PASSWORD
from tests.pages_support import csrf_of, page_login, submit_form


def test_a_page_of_the_office_sends_an_anonymous_visitor_to_the_login(client: TestClient) -> None:
    response = client.get("/ufficio/pratiche?stato=draft", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/accesso?dopo=%2Fufficio%2Fpratiche%3Fstato%3Ddraft"


def test_login_sets_an_http_only_same_site_cookie_and_lands_by_role(client: TestClient, people: People) -> None:
    token = csrf_of(client.get("/accesso").text)
    response = client.post(
        "/accesso",
        data={"username": people.rep.username, "password": "password-di-prova", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 401  # the factory's password is another
    response = page_login(client, people.rep)
    cookie = next(c for c in response.history[0].headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert response.url.path == "/distretto" or response.history[0].headers["location"] == "/distretto"


def test_wrong_password_shows_the_form_again_with_the_reason(client: TestClient, people: People) -> None:
    response = submit_form(
        client, "/accesso", "/accesso", {"username": people.official.username, "password": "sbagliata"}
    )
    assert response.status_code == 401
    assert "nome utente o password non corretti" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_repeated_failures_are_throttled(client: TestClient, people: People) -> None:
    for _ in range(5):
        submit_form(client, "/accesso", "/accesso", {"username": people.official.username, "password": "x"})
    response = submit_form(client, "/accesso", "/accesso", {"username": people.official.username, "password": "x"})
    assert response.status_code == 429
    assert "troppi tentativi" in response.text


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, people: People) -> None:
    client.get("/accesso")
    response = client.post(
        "/accesso", data={"username": people.official.username, "password": "x"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "il modulo è scaduto o non proviene da questo sito" in response.text
    forged = client.post(
        "/accesso",
        data={"username": people.official.username, "password": "x", "csrf_token": "0" * 64},
        follow_redirects=False,
    )
    assert forged.status_code == 403


def test_the_csrf_token_is_bound_to_the_browser(client: TestClient, people: People) -> None:
    token = csrf_of(client.get("/accesso").text)
    other = TestClient(client.app)
    other.get("/accesso")
    assert other.cookies.get(CSRF_COOKIE) != client.cookies.get(CSRF_COOKIE)
    response = other.post(
        "/accesso", data={"username": "x", "password": "y", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403


def test_after_login_the_browser_goes_back_only_to_a_page_of_this_site(client: TestClient, people: People) -> None:
    page = client.get("/accesso?dopo=/registro")
    data = {"username": people.official.username, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    response = client.post("/accesso", data={**data, "dopo": "//esempio.invalid/x"}, follow_redirects=False)
    assert response.headers["location"] == "/ufficio"


def test_logout_ends_the_session(client: TestClient, people: People) -> None:
    page_login(client, people.official)
    assert client.get("/accesso", follow_redirects=False).status_code == 303  # already logged in
    response = submit_form(client, "/registro", "/uscita", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/accesso"
    assert client.get("/ufficio", follow_redirects=False).headers["location"].startswith("/accesso")


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/registro")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/api/v1/registry").headers["x-content-type-options"] == "nosniff"


def test_the_json_api_ignores_the_session_cookie(client: TestClient, people: People) -> None:
    page_login(client, people.official)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_the_header_links_the_password_page_next_to_the_logout(client: TestClient, people: People) -> None:
    page_login(client, people.rep)
    header = client.get("/registro").text.split("</header>")[0]
    assert header.index('href="/profilo/password"') < header.index('action="/uscita"')
    form = client.get("/profilo/password")
    assert form.status_code == 200
    assert "<h1>Cambio della password</h1>" in form.text
    assert 'autocomplete="new-password" minlength="12"' in form.text
    anonymous = TestClient(client.app).get("/profilo/password", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/accesso?dopo=%2Fprofilo%2Fpassword"


def test_changing_the_password_through_the_form_ends_the_other_sessions(client: TestClient, people: People) -> None:
    page_login(client, people.official)
    other_browser = TestClient(client.app)
    page_login(other_browser, people.official)
    api_token = login(client, people.official)
    new = "nuova-password-del-funzionario"
    data = {"current_password": PASSWORD, "new_password": new, "new_password_repeat": new}
    response = submit_form(client, "/profilo/password", "/profilo/password", data)
    assert response.status_code == 303 and response.headers["location"] == "/ufficio"
    landing = client.get("/ufficio")
    assert landing.status_code == 200 and "Password modificata" in landing.text  # this browser stays logged in
    assert other_browser.get("/ufficio", follow_redirects=False).headers["location"].startswith("/accesso")
    assert client.get(f"{API}/auth/me", headers=api_token).status_code == 401
    login(client, people.official, new)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "status", "message"),
    [
        (
            "sbagliata-davvero",
            "nuova-password-lunga",
            "nuova-password-lunga",
            401,
            "la password attuale non è corretta",
        ),
        (PASSWORD, "nuova-password-lunga", "nuova-password-diversa", 422, "le due password non coincidono"),
        (PASSWORD, "corta", "corta", 422, "almeno 12 caratteri"),
        (PASSWORD, PASSWORD, PASSWORD, 422, "diversa da quella attuale"),
        ("", "nuova-password-lunga", "nuova-password-lunga", 422, "Password attuale: campo obbligatorio"),
    ],
)
def test_a_refused_change_shows_the_form_again_with_the_reason(
    client: TestClient, people: People, current: str, new: str, repeat: str, status: int, message: str
) -> None:
    page_login(client, people.head)
    data = {"current_password": current, "new_password": new, "new_password_repeat": repeat}
    response = submit_form(client, "/profilo/password", "/profilo/password", data)
    assert response.status_code == status
    assert message in response.text and 'role="alert"' in response.text
    assert client.get("/ufficio").status_code == 200
    login(client, people.head)  # the password is the old one


def test_the_password_form_needs_the_csrf_token(client: TestClient, people: People) -> None:
    page_login(client, people.head)
    new = "nuova-password-lunga"
    data = {"current_password": PASSWORD, "new_password": new, "new_password_repeat": new}
    assert client.post("/profilo/password", data=data, follow_redirects=False).status_code == 403
    login(client, people.head)


def test_a_busy_password_check_shows_the_login_form_again_with_the_reason(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: object) -> bool:
        raise PasswordHashingBusy("troppi controlli di password in corso: riprovare tra qualche secondo")

    monkeypatch.setattr(auth, "verify_password", busy)
    response = submit_form(client, "/accesso", "/accesso", {"username": people.official.username, "password": PASSWORD})
    assert response.status_code == 503
    assert "troppi controlli di password in corso" in response.text
    assert 'name="username"' in response.text  # the form again
    monkeypatch.undo()
    page_login(client, people.official)


def test_an_address_trying_many_usernames_is_told_so_on_the_form(client: TestClient, people: People) -> None:
    for n in range(30):
        submit_form(client, "/accesso", "/accesso", {"username": f"nessuno{n}", "password": "x"})
    response = submit_form(client, "/accesso", "/accesso", {"username": people.official.username, "password": "x"})
    assert response.status_code == 429
    assert "troppi tentativi di accesso non riusciti da questo indirizzo" in response.text
