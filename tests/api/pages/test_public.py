"""The public registry pages: no login, Italian, filters by section and status, a card per district,
clear errors for bad filters and unknown districts, accessible markup (lang, labels, headings)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.enums import State
from tests.api.test_api_registry import _entry
from tests.factories import Factory


def _scene(factory: Factory, session: Session) -> None:
    _entry(factory, session, State.ACTIVE, name="Distretto A", number=1)
    _entry(factory, session, State.EXPIRED, name="Distretto B", number=2)
    _entry(factory, session, State.ACTIVE, section=6, name="Distretto <C> & figli", number=3)
    factory.application(factory.district(name="Distretto in bozza"))  # never public


def test_registry_page_lists_and_filters(client: TestClient, factory: Factory, session: Session) -> None:
    _scene(factory, session)
    page = client.get("/registro")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="it">' in html and "<h1>" in html and '<label for="sezione">' in html
    assert "Distretto A" in html and "Distretto B" in html and "Distretto in bozza" not in html
    assert "Distretto &lt;C&gt; &amp; figli" in html  # escaped
    assert "3 iscrizioni." in html
    sixth = client.get("/registro", params={"sezione": "6"}).text
    assert "Distretto &lt;C&gt;" in sixth and "Distretto A" not in sixth and "1 iscrizione." in sixth
    expired = client.get("/registro", params={"stato": "expired"}).text
    assert "Distretto B" in expired and "Distretto A" not in expired
    empty = client.get("/registro", params={"sezione": "", "stato": ""})
    assert empty.status_code == 200 and "3 iscrizioni." in empty.text


def test_bad_filters_are_named(client: TestClient, factory: Factory, session: Session) -> None:
    _scene(factory, session)
    bad = client.get("/registro", params={"sezione": "99", "stato": "sospeso"})
    assert bad.status_code == 422
    assert "sezione «99» inesistente" in bad.text and "stato «sospeso» sconosciuto" in bad.text


def test_district_card(client: TestClient, factory: Factory, session: Session) -> None:
    _scene(factory, session)
    registry = client.get("/api/v1/registry").json()
    a = next(e for e in registry if e["district_name"] == "Distretto A")
    card = client.get(f"/registro/{a['district_id']}")
    assert card.status_code == 200
    assert "<h1>Distretto A</h1>" in card.text and "Attivo" in card.text and a["act_number"] in card.text
    missing = client.get("/registro/999999")
    assert missing.status_code == 404 and "non è iscritto nel registro pubblico" in missing.text
