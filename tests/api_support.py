"""Helpers of the API tests: the pinned clock, the synchronous stand-in for the flows, people, requests.

Used by tests/api and by the whole journeys of tests/e2e (fixtures in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from stdnum import luhn

from models.actions import finish_action
from models.application import Application, StageAction
from models.district import District
from models.errors import DomainError
from models.people import User
from models.profiles import RegionProfile
from models.roster import FIELDS, ROSTER_CSV_HEADER
from notifications.outbox import apply_and_notify
from tests.factories import PASSWORD

API = "/api/v1"


@dataclass
class Clock:
    now: datetime

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Dispatched:
    """What the API handed to the flows; `run` says whether the stand-in carries it out."""

    run: bool = True
    ids: list[int] = field(default_factory=list)


def run_action_synchronously_for_tests(
    engine: Engine, profile: RegionProfile, clock: Clock, dispatched: Dispatched
) -> Callable[[int], Coroutine[Any, Any, None]]:
    """TEST HELPER standing in for flows.dispatch.dispatch: applies the action at once, no Prefect.

    Real stage flows are tested in tests/flows; here only the API contract matters.
    """

    async def dispatch(action_id: int) -> None:
        dispatched.ids.append(action_id)
        if dispatched.run:
            apply_stored_action(engine, profile, clock.now, action_id)

    return dispatch


def apply_stored_action(engine: Engine, profile: RegionProfile, now: datetime, action_id: int) -> None:
    """What a stage flow does with a stored action, without Prefect: apply its event (or record why
    not) and free the file. Run id ``test-run-<id>``."""
    with Session(engine, expire_on_commit=False) as session:
        action = session.get(StageAction, action_id)
        assert action is not None
        application = session.get(Application, action.application_id)
        actor = session.get(User, action.actor_id)
        assert application is not None and actor is not None
        error = None
        try:
            apply_and_notify(
                session, application=application, event=action.event, actor=actor, profile=profile,
                now=now, payload=action.payload, flow_run_id=f"test-run-{action_id}",
            )  # fmt: skip
        except DomainError as exc:
            session.rollback()
            error = exc.message
        finish_action(session, action=action, now=now, error=error)


def login(client: TestClient, user: User | str, password: str = PASSWORD) -> dict[str, str]:
    username = user if isinstance(user, str) else user.username
    response = client.post(f"{API}/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def vat(serial: int) -> str:
    base = f"{serial:07d}072"
    return base + luhn.calc_check_digit(base)


def roster_rows(n: int = 50, employees: int = 3, start: int = 1000) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Officina {i} s.r.l.",
            "tax_code": vat(start + i),
            "vat_number": vat(start + i),
            "ateco": "25.62.00",
            "employees": employees,
            "region": "Puglia",
        }
        for i in range(n)
    ]


@dataclass
class People:
    """Who acts in a test: one of each role, two districts in the ricerca office, one in agricoltura."""

    admin: User
    official: User
    head: User
    official_agri: User
    members: list[User]
    rep: User
    other_rep: User
    agri_rep: User
    district: District
    other_district: District
    agri_district: District


@dataclass
class Http:
    """Logged-in headers per person (a new token when the test clock has moved on)."""

    client: TestClient
    clock: Clock
    _cache: dict[tuple[str, datetime], dict[str, str]] = field(default_factory=dict)

    def __call__(self, user: User) -> dict[str, str]:
        key = (user.username, self.clock.now)
        if key not in self._cache:
            self._cache[key] = login(self.client, user)
        return self._cache[key]


def draft_ready(client: TestClient, headers: dict[str, str], **body: Any) -> int:
    """A draft with an eligible roster and the required documents, through the API only."""
    response = client.post(f"{API}/applications", json={"programme_summary": "Programma", **body}, headers=headers)
    assert response.status_code == 201, response.text
    app_id = int(response.json()["id"])
    put = client.put(f"{API}/applications/{app_id}/roster", json={"rows": roster_rows()}, headers=headers)
    assert put.status_code == 200, put.text
    for kind in ("pact", "development_programme", "representative_appointment"):
        files = {"file": (f"{kind}.pdf", f"%PDF-1.4 {kind} {app_id}".encode(), "application/pdf")}
        up = client.post(f"{API}/applications/{app_id}/documents", data={"kind": kind}, files=files, headers=headers)
        assert up.status_code == 201, up.text
    return app_id


def act(client: TestClient, app_id: int, event: str, headers: dict[str, str], **body: Any) -> Any:
    response = client.post(f"{API}/applications/{app_id}/actions/{event}", json=body or None, headers=headers)
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["action"]["status"] == "done", data["action"]
    return data


def fetch(session: Session, statement: Any) -> list[Any]:
    """Reads in the test's session and ends its transaction (the next read sees what the server did since)."""
    rows = list(session.exec(statement).all())
    session.commit()
    return rows


HIGH_SCORES = {"filiera": 20, "programma": 25, "specificita": 15, "impatto": 20}  # 80/100


def to_active(client: TestClient, auth: Http, people: People, representative: User | None = None) -> int:
    """A district (default people.district) from draft to an active registry entry through HTTP only."""
    rep, off = auth(representative or people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", off)
    act(client, app_id, "declare_complete", off, member_ids=[m.id for m in people.members])
    for member in people.members:
        scored = client.post(
            f"{API}/applications/{app_id}/evaluations", json={"scores": HIGH_SCORES}, headers=auth(member)
        )
        assert scored.status_code == 201, scored.text
    act(client, app_id, "approve", off)
    act(client, app_id, "issue_act", auth(people.head), publication_ref="BURP n. 1")
    return app_id


def roster_csv(rows: list[dict[str, Any]]) -> bytes:
    """A roster file as a representative uploads it: semicolon CSV with the expected header."""
    lines = [ROSTER_CSV_HEADER] + [";".join(str(row[f]) for f in FIELDS) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def roster_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The same roster as an Excel workbook."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(ROSTER_CSV_HEADER.split(";"))
    for row in rows:
        sheet.append([row[f] for f in FIELDS])
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()
