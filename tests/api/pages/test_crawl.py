"""Every page a user can reach by following links answers without a server error, in Italian.

The demonstration data (districts in every stage) is loaded; each role logs in and follows every
link of the site from its landing page, breadth first, up to a bound. Downloads are fetched too.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.enums import Role
from models.people import User
from models.profiles import RegionProfile
from registro.demo import DEMO_PASSWORD, load_demo
from tests.factories import PASSWORD, Factory
from tests.pages_support import page_login

LINK = re.compile(r'href="(/[^"#]*)"')
SKIP = ("/docs", "/api/", "/openapi.json", "/static/")
MAX_PAGES = 150


def crawl(client: TestClient, start: str) -> dict[str, int]:
    """GETs every internal link reachable from ``start`` (bounded); returns url -> status."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft().replace("&amp;", "&")
        if url in seen or url.startswith(SKIP):
            continue
        response = client.get(url, follow_redirects=False)
        seen[url] = response.status_code
        if response.headers.get("content-type", "").startswith("text/html"):
            assert '<html lang="it">' in response.text, url
            assert response.text.count("<h1") == 1, f"{url}: una sola intestazione h1 per pagina"
            queue.extend(LINK.findall(response.text))
    return seen


@pytest.fixture
def demo(session: Session, profile: RegionProfile, now: datetime) -> Session:
    load_demo(session, profile=profile, now=now, log=lambda _: None)
    session.commit()
    return session


@pytest.mark.parametrize("role", [Role.OFFICIAL, Role.HEAD, Role.COMMITTEE, Role.REPRESENTATIVE, Role.ADMIN])
def test_every_linked_page_answers_without_a_server_error(
    client: TestClient, demo: Session, factory: Factory, role: Role
) -> None:
    if role == Role.ADMIN:
        page_login(client, factory.user(Role.ADMIN).username, PASSWORD)
    else:
        user = demo.exec(select(User).where(User.role == role).order_by(col(User.id))).first()
        demo.commit()
        assert user is not None
        page_login(client, user.username, DEMO_PASSWORD)
    landing = client.get("/accesso", follow_redirects=False).headers["location"]
    statuses = crawl(client, landing)
    errors = {url: status for url, status in statuses.items() if status >= 500}
    assert errors == {}
    assert len(statuses) > 5
    assert set(statuses.values()) <= {200, 303, 403, 404, 422}, statuses
