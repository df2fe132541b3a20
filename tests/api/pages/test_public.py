"""The public registry pages: no login, Italian, filters by section and status, a card per district,
clear errors for bad filters and unknown districts, accessible markup (lang, labels, headings)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.enums import State
from tests.api.test_api_registry import _entry, _many
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
    odd = client.get("/registro", params={"sezione": "²", "pagina": "①"})  # digits to str.isdigit, not to int()
    assert odd.status_code == 422 and "sezione «²» inesistente" in odd.text


def test_district_card(client: TestClient, factory: Factory, session: Session) -> None:
    _scene(factory, session)
    registry = client.get("/api/v1/registry").json()
    a = next(e for e in registry if e["district_name"] == "Distretto A")
    card = client.get(f"/registro/{a['district_id']}")
    assert card.status_code == 200
    assert "<h1>Distretto A</h1>" in card.text and "Attivo" in card.text and a["act_number"] in card.text
    missing = client.get("/registro/999999")
    assert missing.status_code == 404 and "non è iscritto nel registro pubblico" in missing.text


def test_registry_page_is_paged_keeping_the_filters(client: TestClient, factory: Factory, session: Session) -> None:
    _many(factory, session, 52, section=1, state=State.ACTIVE, start=1)
    _many(factory, session, 53, section=6, state=State.ACTIVE, start=101)
    _many(factory, session, 2, section=6, state=State.EXPIRED, start=201)
    first = client.get("/registro")
    assert first.status_code == 200
    assert "107 iscrizioni. Pagina 1 di 3." in first.text and first.text.count('<th scope="row">') == 50
    assert "Distretto 050" in first.text and "Distretto 051" not in first.text
    assert '<a href="/registro?pagina=2" rel="next">' in first.text and 'rel="prev"' not in first.text
    second = client.get("/registro", params={"pagina": "2"}).text
    assert "Pagina 2 di 3" in second and "Distretto 051" in second and "Distretto 101" in second
    assert '<a href="/registro" rel="prev">' in second and '<a href="/registro?pagina=3" rel="next">' in second
    assert "« Prima" not in second and "Ultima »" not in second  # the same as the previous and the next
    last = client.get("/registro", params={"pagina": "3"}).text
    assert '<a href="/registro">« Prima</a>' in last and '<a href="/registro?pagina=2" rel="prev">' in last
    filtered = client.get("/registro", params={"sezione": "6", "stato": "active", "pagina": "2"})
    assert filtered.status_code == 200 and "53 iscrizioni. Pagina 2 di 2." in filtered.text
    assert filtered.text.count('<th scope="row">') == 3 and "Distretto 153" in filtered.text
    assert '<a href="/registro?sezione=6&amp;stato=active" rel="prev">' in filtered.text
    assert "Distretto 201" not in filtered.text  # expired: not in the filter


def test_bad_page_numbers_are_named(client: TestClient, factory: Factory, session: Session) -> None:
    _scene(factory, session)
    for bad in ("0", "-1", "due", "9999999"):
        answer = client.get("/registro", params={"pagina": bad})
        assert answer.status_code == 422 and f"pagina «{bad}» non valida" in answer.text, bad
    beyond = client.get("/registro", params={"sezione": "6", "pagina": "4"})
    assert beyond.status_code == 422 and "pagina 4 inesistente: le pagine sono 1" in beyond.text
    assert '<a href="/registro?sezione=6">Vai all\'ultima pagina (1)</a>' in beyond.text
    assert "Pagina 1 di" not in client.get("/registro").text  # one page: no navigation
