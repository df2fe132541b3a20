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
