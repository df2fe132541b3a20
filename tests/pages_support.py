"""Helpers of the page tests (TestClient): log in through the form, read the CSRF token of a page."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from models.people import User
from tests.factories import PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "la pagina non contiene un modulo con il token CSRF"
    return match.group(1)


def page_login(client: TestClient, user: User | str, password: str = PASSWORD) -> Response:
    """Logs in through /accesso like a browser (cookies stay on the client). Returns the landing page."""
    username = user if isinstance(user, str) else user.username
    token = csrf_of(client.get("/accesso").text)
    response = client.post("/accesso", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code in (200, 303), response.text
    return response


def submit_form(client: TestClient, page_url: str, action: str, data: dict[str, Any], **kwargs: Any) -> Response:
    """Opens ``page_url``, takes its CSRF token and posts ``data`` to ``action`` (not following the redirect)."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={**data, "csrf_token": csrf_of(page.text)}, follow_redirects=False, **kwargs)
