"""The public registry: no login, status derived from the entry's current application."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.enums import Role, State
from models.registry import RecognitionAct, RegistryEntry
from tests.api_support import API
from tests.factories import Factory


def _entry(factory: Factory, session: Session, state: State, *, section: int = 1, name: str, number: int) -> None:
    district = factory.district(section=section, name=name)
    application = factory.application(district, enterprises=2)
    application.state = state
    session.add(application)
    session.flush()
    act = RecognitionAct(
        application_id=application.id, act_type="Determinazione dirigenziale", year=2025, number=number,
        issued_on=date(2025, 5, 5), section=section, valid_from=date(2025, 5, 5), valid_until=date(2028, 5, 4),
        publication_ref="BURP n. 40",
    )  # fmt: skip
    session.add(act)
    session.flush()
    session.add(
        RegistryEntry(
            district_id=district.id, application_id=application.id, section=section, act_id=act.id,
            registered_on=act.issued_on, valid_from=act.valid_from, valid_until=act.valid_until,
            enterprises=2, employees=6,
        )
    )  # fmt: skip
    session.commit()


def test_registry_is_public_and_filtered(client: TestClient, factory: Factory, session: Session) -> None:
    factory.user(Role.ADMIN)
    _entry(factory, session, State.ACTIVE, name="Distretto A", number=1)
    _entry(factory, session, State.RENEWAL_REQUESTED, name="Distretto B", number=2)
    _entry(factory, session, State.EXPIRED, name="Distretto C", section=6, number=3)
    _entry(factory, session, State.REVOKED, name="Distretto D", section=6, number=4)
    factory.application(factory.district(name="Distretto in bozza"))  # not in the registry
    everything = client.get(f"{API}/registry")
    assert everything.status_code == 200
    statuses = {e["district_name"]: (e["status"], e["status_label"]) for e in everything.json()}
    assert statuses == {
        "Distretto A": ("active", "Attivo"),
        "Distretto B": ("renewal_in_progress", "Rinnovo in corso"),
        "Distretto C": ("expired", "Scaduto"),
        "Distretto D": ("revoked", "Revocato"),
    }
    entry = everything.json()[0]
    assert entry["act_number"] == "n. 1/2025" and entry["act_date"] == "2025-05-05"
    assert entry["enterprises"] == 2 and entry["employees"] == 6 and entry["representative_org"]
    assert set(entry) == {
        "district_id", "district_name", "section", "section_name", "representative_org", "enterprises", "employees",
        "act_type", "act_number", "act_date", "publication_ref", "valid_from", "valid_until", "status", "status_label",
    }  # fmt: skip
    sixth = client.get(f"{API}/registry", params={"section": 6}).json()
    assert [e["district_name"] for e in sixth] == ["Distretto C", "Distretto D"]
    active = client.get(f"{API}/registry", params={"status": "active"}).json()
    assert [e["district_name"] for e in active] == ["Distretto A"]
    wrong = client.get(f"{API}/registry", params={"status": "sospeso"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "status"


def _many(factory: Factory, session: Session, count: int, *, section: int, state: State, start: int) -> None:
    for n in range(start, start + count):
        _entry(factory, session, state, section=section, name=f"Distretto {n:03d}", number=n)


def test_registry_json_is_paged_with_headers(client: TestClient, factory: Factory, session: Session) -> None:
    _many(factory, session, 53, section=1, state=State.ACTIVE, start=1)
    _many(factory, session, 4, section=6, state=State.EXPIRED, start=101)
    first = client.get(f"{API}/registry")
    assert first.status_code == 200 and len(first.json()) == 50  # the default page size
    assert first.headers["x-total-count"] == "57" and first.headers["x-page"] == "1"
    assert first.headers["x-page-count"] == "2" and first.headers["x-page-size"] == "50"
    assert first.headers["link"] == f'<http://testserver{API}/registry?page=2&limit=50>; rel="next"'
    second = client.get(f"{API}/registry", params={"page": 2})
    names = [e["district_name"] for e in first.json() + second.json()]
    assert names == [f"Distretto {n:03d}" for n in [*range(1, 54), *range(101, 105)]]  # section, then name
    assert 'rel="prev"' in second.headers["link"] and 'rel="next"' not in second.headers["link"]
    assert set(second.json()[0]) == set(first.json()[0])  # the same fields as ever
    small = client.get(f"{API}/registry", params={"limit": 20, "page": 3})
    assert [e["district_name"] for e in small.json()] == names[40:57]
    assert small.headers["x-page-count"] == "3" and small.headers["x-page-size"] == "20"
    whole = client.get(f"{API}/registry", params={"limit": 200})
    assert len(whole.json()) == 57 and "link" not in whole.headers


def test_registry_json_filters_combine_with_paging(client: TestClient, factory: Factory, session: Session) -> None:
    _many(factory, session, 5, section=1, state=State.ACTIVE, start=1)
    _many(factory, session, 5, section=6, state=State.ACTIVE, start=11)
    _many(factory, session, 3, section=6, state=State.REVOKED, start=21)
    page = client.get(f"{API}/registry", params={"section": 6, "status": "active", "limit": 2, "page": 2})
    assert [e["district_name"] for e in page.json()] == ["Distretto 013", "Distretto 014"]
    assert page.headers["x-total-count"] == "5" and page.headers["x-page-count"] == "3"
    links = page.headers["link"]
    assert "section=6" in links and "status=active" in links and "page=1" in links and "page=3" in links
    none = client.get(f"{API}/registry", params={"section": 2})
    assert none.status_code == 200 and none.json() == [] and none.headers["x-total-count"] == "0"
    assert none.headers["x-page-count"] == "1"  # page 1 always exists, empty


def test_registry_json_page_bounds(client: TestClient, factory: Factory, session: Session) -> None:
    _many(factory, session, 3, section=1, state=State.ACTIVE, start=1)
    for params, field in (({"page": 0}, "page"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                          ({"page": "due"}, "page")):  # fmt: skip
        wrong = client.get(f"{API}/registry", params=params)
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == field, params
    assert "minore o uguale a 200" in client.get(f"{API}/registry", params={"limit": 201}).text
    beyond = client.get(f"{API}/registry", params={"page": 2})
    assert beyond.status_code == 422 and beyond.json()["detail"] == "pagina 2 inesistente: le pagine sono 1"


def test_registry_paging_is_in_the_openapi(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][f"{API}/registry"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["limit"]["maximum"] == 200 and params["limit"]["default"] == 50 and params["page"]["minimum"] == 1
    assert {"X-Total-Count", "X-Page-Count", "Link"} <= set(operation["responses"]["200"]["headers"])
