"""Point 7 of issue 15: a CSRF token is bound to the session, and a form from another origin is refused.

A token from another browser's session, or from this browser's visit before it logged in, no longer
works; a form whose ``Origin`` (or, without it, ``Referer``) is not the site's own origin is refused
even with a valid token. The site's origin is the request's own (scheme and ``Host``, as a trusted
proxy forwards them) or ``REGISTRO_SITE_ORIGIN`` when the public address differs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.pages.web import CSRF_COOKIE, SESSION_COOKIE
from registro.settings import get_settings
from tests.api_support import People
from tests.pages_support import csrf_of, page_login

REFUSED = "il modulo è scaduto o non proviene da questo sito"


def still_logged_in(client: TestClient) -> bool:
    return client.get("/profilo/password", follow_redirects=False).status_code == 200


def logout(client: TestClient, token: str, **headers: str) -> int:
    response = client.post("/uscita", data={"csrf_token": token}, headers=headers, follow_redirects=False)
    if response.status_code == 403:
        assert REFUSED in response.text
    return response.status_code


def test_a_token_from_another_session_is_refused(client: TestClient, app: FastAPI, people: People) -> None:
    page_login(client, people.official)  # the victim
    attacker = TestClient(app, raise_server_exceptions=False)
    page_login(attacker, people.rep)
    their_token = csrf_of(attacker.get("/registro").text)
    # the attacker's CSRF cookie planted in the victim's browser (e.g. from a sibling subdomain)
    if CSRF_COOKIE in attacker.cookies:
        client.cookies.set(CSRF_COOKIE, attacker.cookies[CSRF_COOKIE])
    assert logout(client, their_token) == 403
    assert still_logged_in(client)


def test_a_token_from_an_anonymous_visit_is_refused_for_a_session(
    client: TestClient, app: FastAPI, people: People
) -> None:
    anonymous = TestClient(app, raise_server_exceptions=False)
    anonymous_token = csrf_of(anonymous.get("/accesso").text)
    page_login(client, people.official)
    client.cookies.set(CSRF_COOKIE, anonymous.cookies[CSRF_COOKIE])
    assert logout(client, anonymous_token) == 403
    assert still_logged_in(client)


def test_after_login_the_token_of_the_login_form_no_longer_works(client: TestClient, people: People) -> None:
    before = csrf_of(client.get("/accesso").text)
    page_login(client, people.official)
    assert logout(client, before) == 403
    after = csrf_of(client.get("/registro").text)
    assert after != before
    assert logout(client, after) == 303
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attaccante.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.attaccante.example"},
        {"Origin": "https://testserver"},  # same host, another scheme
        {"Referer": "https://attaccante.example/pagina"},
        {"Origin": "https://attaccante.example", "Referer": "http://testserver/registro"},
    ],
)
def test_a_cross_origin_form_with_a_valid_token_is_refused(
    client: TestClient, people: People, headers: dict[str, str]
) -> None:
    page_login(client, people.official)
    token = csrf_of(client.get("/registro").text)
    assert logout(client, token, **headers) == 403
    assert still_logged_in(client)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "http://TestServer:80"},  # the default port, another case
        {"Referer": "http://testserver/registro?sezione=1"},
        {},  # neither header (not a browser): the token decides
    ],
)
def test_a_same_origin_form_works(client: TestClient, people: People, headers: dict[str, str]) -> None:
    page_login(client, people.official)
    token = csrf_of(client.get("/registro").text)
    assert logout(client, token, **headers) == 303
    assert not still_logged_in(client)


def test_the_login_form_itself_checks_the_origin(client: TestClient, people: People) -> None:
    token = csrf_of(client.get("/accesso").text)
    data = {"username": people.official.username, "password": "x", "csrf_token": token}
    forged = client.post("/accesso", data=data, headers={"Origin": "https://attaccante.example"})
    assert forged.status_code == 403


@pytest.fixture
def public_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Behind a reverse proxy that does not forward the public host: the origin comes from the settings."""
    monkeypatch.setenv("REGISTRO_SITE_ORIGIN", "https://registro.regione.example")
    get_settings.cache_clear()
    yield "https://registro.regione.example"
    monkeypatch.undo()
    get_settings.cache_clear()


def test_behind_a_proxy_the_configured_origin_is_the_sites(app: FastAPI, people: People, public_origin: str) -> None:
    inside = TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False)
    page_login(inside, people.official)
    token = csrf_of(inside.get("/registro").text)
    assert logout(inside, token, Origin="http://127.0.0.1:8000") == 403  # the internal address is not the site
    assert logout(inside, token, Origin="https://attaccante.example") == 403
    assert logout(inside, token, Origin=public_origin) == 303


def test_behind_a_proxy_that_forwards_host_and_scheme_the_request_gives_the_origin(
    app: FastAPI, people: People
) -> None:
    # what the app sees when uvicorn trusts the proxy: the public host and scheme
    public = TestClient(app, base_url="https://registro.regione.example", raise_server_exceptions=False)
    page_login(public, people.official)
    token = csrf_of(public.get("/registro").text)
    assert logout(public, token, Origin="http://registro.regione.example") == 403
    assert logout(public, token, Origin="https://registro.regione.example") == 303
