"""Issue 15, lesser point: the session cookie is Secure in production, and a client cannot make it
look so (or not) with a header of its own."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registro.settings import get_settings
from tests.api_support import People
from tests.factories import PASSWORD
from tests.pages_support import csrf_of


def _login_cookies(client: TestClient, people: People, **headers: str) -> list[str]:
    token = csrf_of(client.get("/accesso").text)
    form = {"username": people.official.username, "password": PASSWORD, "csrf_token": token}
    response = client.post("/accesso", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return [value for name, value in response.headers.multi_items() if name == "set-cookie"]


def test_over_plain_http_a_forwarded_proto_header_does_not_make_the_cookie_secure(
    client: TestClient, people: People
) -> None:
    cookies = _login_cookies(client, people, **{"X-Forwarded-Proto": "https"})
    session = next(c for c in cookies if c.startswith("registro_sessione="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower()
    assert "Secure" not in session  # the header came from the client, not from a configured proxy


def test_in_production_every_cookie_is_secure(app: FastAPI, people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "environment", "production")
    monkeypatch.setattr(get_settings(), "secret_key", "k7Qv2pXr9LmZ4tW8yBn3CsD6fGh1JeKa")
    client = TestClient(app, base_url="https://testserver")  # behind its TLS proxy: a browser sends them back
    cookies = _login_cookies(client, people)
    assert cookies and all("Secure" in cookie for cookie in cookies), cookies
