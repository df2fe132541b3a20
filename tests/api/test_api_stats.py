"""GET /stats/procedure-times: figures per office, section and year; each office sees its own sections."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.enums import Event
from tests.api_support import API, Http, People
from tests.factories import Factory, Journey

URL = f"{API}/stats/procedure-times"  # the test clock reads 2 March 2026


def procedure(factory: Factory, *, section: int, submitted: date, closed: date | None = None) -> None:
    j = Journey(factory, section=section)
    j.day = datetime.combine(submitted, time(9, 30), tzinfo=UTC)
    j.do(Event.SUBMIT, days_later=0)
    j.do(Event.START_REVIEW)
    if closed is not None:
        j.day = datetime.combine(closed, time(9, 30), tzinfo=UTC)
        j.do(Event.DECLARE_INADMISSIBLE, days_later=0, reason="requisiti non dimostrati")


@pytest.fixture
def procedures(factory: Factory) -> None:
    procedure(factory, section=1, submitted=date(2026, 1, 12))  # deadline 11/02/2026: open, over
    procedure(factory, section=1, submitted=date(2026, 2, 16))  # deadline 18/03/2026: open, within
    procedure(factory, section=2, submitted=date(2025, 11, 3), closed=date(2025, 11, 20))  # 17 days: within
    procedure(factory, section=6, submitted=date(2025, 12, 1), closed=date(2026, 1, 19))  # 49 days: over


def get(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def keys(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(r["office"], r["section"], r["year"]) for r in body["rows"]]


@pytest.mark.usefixtures("procedures")
def test_admin_sees_every_office(client: TestClient, auth: Http, people: People) -> None:
    body = get(client, auth(people.admin))
    assert body["as_of"] == "2026-03-02"
    assert body["labels"]["open_over"] == "Aperti oltre il termine"
    assert keys(body) == [("agricoltura", 6, 2025), ("ricerca", 1, 2026), ("ricerca", 2, 2025)]
    over = body["rows"][0]
    assert over["section_name"] == "Distretti del cibo"
    assert over["office_name"] == "Sezione Competitività delle filiere agroalimentari"
    assert (over["closed_over"], over["total"], over["average_days_used"]) == (1, 1, 49.0)
    open_row = body["rows"][1]
    assert (open_row["open_within"], open_row["open_over"], open_row["average_days_used"]) == (1, 1, None)
    offices = {o["office"]: (o["office_name"], o["total"]) for o in body["by_office"]}
    assert offices == {
        "agricoltura": ("Sezione Competitività delle filiere agroalimentari", 1),
        "ricerca": ("Sezione Ricerca e Relazioni Internazionali", 3),
    }
    assert [(s["section"], s["office"], s["total"]) for s in body["by_section"]] == [
        (1, "ricerca", 2),
        (2, "ricerca", 1),
        (6, "agricoltura", 1),
    ]
    assert [(y["year"], y["closed_within"], y["closed_over"], y["average_days_used"]) for y in body["by_year"]] == [
        (2025, 1, 1, 33.0),
        (2026, 0, 0, None),
    ]
    total = body["total"]
    assert (total["open_within"], total["open_over"], total["closed_within"], total["closed_over"]) == (1, 1, 1, 1)


@pytest.mark.usefixtures("procedures")
def test_each_office_sees_its_own_sections(client: TestClient, auth: Http, people: People) -> None:
    ricerca = get(client, auth(people.official))
    assert keys(ricerca) == [("ricerca", 1, 2026), ("ricerca", 2, 2025)]
    assert [o["office"] for o in ricerca["by_office"]] == ["ricerca"] and ricerca["total"]["total"] == 3
    assert get(client, auth(people.head)) == ricerca
    agricoltura = get(client, auth(people.official_agri))
    assert keys(agricoltura) == [("agricoltura", 6, 2025)] and agricoltura["total"]["closed_over"] == 1


@pytest.mark.usefixtures("procedures")
def test_filters(client: TestClient, auth: Http, people: People) -> None:
    admin = auth(people.admin)
    assert keys(get(client, admin, year=2025)) == [("agricoltura", 6, 2025), ("ricerca", 2, 2025)]
    assert keys(get(client, admin, section=1)) == [("ricerca", 1, 2026)]
    assert keys(get(client, admin, office="agricoltura")) == [("agricoltura", 6, 2025)]
    assert keys(get(client, admin, office="agricoltura", section=1)) == []
    assert keys(get(client, auth(people.official), year=2025, section=2)) == [("ricerca", 2, 2025)]
    empty = get(client, admin, year=2024)
    assert empty["rows"] == [] and empty["total"]["total"] == 0 and empty["total"]["average_days_used"] is None


def test_outside_competence_or_unknown(client: TestClient, auth: Http, people: People) -> None:
    official = auth(people.official)
    cases = [
        ({"section": 6}, 403, "la sezione 6 non è di sua competenza"),
        ({"office": "agricoltura"}, 403, "l'ufficio «agricoltura» non è di sua competenza"),
        ({"office": "pesca"}, 422, "ufficio «pesca» sconosciuto"),
        ({"section": 99}, 422, "la sezione 99 non esiste"),
    ]
    for params, status, detail in cases:
        response = client.get(URL, params=params, headers=official)
        assert (response.status_code, response.json()["detail"]) == (status, detail), params
    bad_year = client.get(URL, params={"year": 1800}, headers=official)
    assert bad_year.status_code == 422 and bad_year.json()["errors"][0]["field"] == "year"


def test_representatives_and_committee_members_are_refused(client: TestClient, auth: Http, people: People) -> None:
    for user in (people.rep, people.members[0]):
        response = client.get(URL, headers=auth(user))
        assert response.status_code == 403
        assert response.json() == {
            "detail": "il monitoraggio dei tempi dei procedimenti è riservato agli uffici regionali",
            "code": "non_autorizzato",
        }
    assert client.get(URL).status_code == 401
