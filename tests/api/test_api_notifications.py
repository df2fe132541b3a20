"""The outbox view: rows queued by real events, filters, pages, who sees what, retry of a failed mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.enums import Event, NotificationStatus, Role
from models.notification import Notification
from models.people import User
from tasks.delivery import Outgoing, claim_due, mark_refused, mark_sent
from tests.api_support import API, Clock, Http, fetch
from tests.factories import Factory, Journey

URL = f"{API}/notifications"


@dataclass
class Scene:
    """Two files: ``ricerca`` (section 1, submitted then withdrawn) and ``agri`` (section 6, submitted)."""

    ricerca: Journey
    agri: Journey
    admin: User
    member: User


@pytest.fixture
def scene(factory: Factory, clock: Clock) -> Scene:
    ricerca = Journey(factory, section=1)
    agri = Journey(factory, section=6)
    ricerca.do(Event.SUBMIT)  # day 1: procedure_started to the district's PEC and its representative
    agri.do(Event.SUBMIT, days_later=2)  # day 2: the same for the agricoltura file
    ricerca.do(Event.WITHDRAW, days_later=2, reason="Rinuncia")  # day 3: withdrawn, to the ricerca official
    clock.advance(days=5)
    return Scene(ricerca, agri, admin=factory.user(Role.ADMIN), member=ricerca.members[0])


def rows(session: Session, journey: Journey, kind: str = "procedure_started") -> list[Notification]:
    return fetch(
        session,
        select(Notification)
        .where(Notification.application_id == journey.app.id, Notification.kind == kind)
        .order_by(col(Notification.id)),
    )


def stored(session: Session, notification_id: int | None) -> Notification:
    """The row as the database has it now (not the copy in the session's identity map)."""
    query = select(Notification).where(Notification.id == notification_id).execution_options(populate_existing=True)
    return fetch(session, query)[0]


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refuse(row: Notification, now: datetime) -> None:
    """What delivery does when the server refuses the mail for good (5xx)."""
    outgoing = Outgoing(
        row.id, row.idempotency_key, row.recipient, row.subject, row.body_text, row.body_html, row.attempts
    )
    mark_refused(outgoing, error="550 5.1.1 casella inesistente", permanent=True, as_of=now)


def test_admin_sees_all_newest_first_with_labels(client: TestClient, auth: Http, scene: Scene) -> None:
    page = listed(client, auth(scene.admin))
    assert page["total"] == 5 and page["page"] == 1
    kinds = [item["kind"] for item in page["items"]]
    assert kinds == ["withdrawn", "procedure_started", "procedure_started", "procedure_started", "procedure_started"]
    assert [item["application_id"] for item in page["items"][1:3]] == [scene.agri.app.id] * 2
    first = page["items"][-1]
    assert first["kind_label"] == "Avvio del procedimento"
    assert first["district_name"] == scene.ricerca.district.name
    assert first["subject"] == f"Avvio del procedimento – {scene.ricerca.district.name}"
    assert first["status"] == "queued" and first["attempts"] == 0 and first["last_error"] is None
    assert first["sent_at"] is None and first["next_attempt_at"] == first["created_at"]
    assert "body_text" not in first
    assert page["items"][0]["kind_label"] == "Domanda ritirata"
    assert page["items"][0]["recipient"] == scene.ricerca.official.email
    one = client.get(f"{URL}/{first['id']}", headers=auth(scene.admin))
    assert one.status_code == 200
    assert one.json()["recipient"] == first["recipient"] and "avvio del procedimento" in one.json()["body_text"]
    missing = client.get(f"{URL}/999999", headers=auth(scene.admin))
    assert missing.status_code == 404 and missing.json()["detail"] == "comunicazione 999999 non trovata"


def test_filters_and_pagination(client: TestClient, auth: Http, scene: Scene) -> None:
    admin = auth(scene.admin)
    by_app = listed(client, admin, application_id=scene.ricerca.app.id)
    assert by_app["total"] == 3
    assert listed(client, admin, kind="withdrawn")["total"] == 1
    assert listed(client, admin, kind="decision")["total"] == 0
    assert listed(client, admin, status="queued")["total"] == 5
    assert listed(client, admin, status="failed")["total"] == 0
    pec = listed(client, admin, recipient="PEC.EXAMPLE")
    assert pec["total"] == 2 and all("@pec.example.it" in i["recipient"] for i in pec["items"])
    assert listed(client, admin, recipient=scene.agri.rep.email)["total"] == 1
    assert listed(client, admin, recipient="%")["total"] == 0  # a wildcard is searched literally
    assert listed(client, admin, recipient="PÈC.EXÀMPLE")["total"] == 2  # accents ignored, like the case
    day2 = scene.agri.day.date().isoformat()
    assert {i["application_id"] for i in listed(client, admin, created_from=day2, created_to=day2)["items"]} == {
        scene.agri.app.id
    }
    assert listed(client, admin, created_from=day2)["total"] == 3
    assert listed(client, admin, created_to=day2)["total"] == 4
    inverted = client.get(URL, params={"created_from": day2, "created_to": "2026-03-01"}, headers=admin)
    assert inverted.status_code == 422 and inverted.json()["field"] == "created_from"
    bad_status = client.get(URL, params={"status": "lost"}, headers=admin)
    assert bad_status.status_code == 422 and "valore non ammesso" in bad_status.json()["detail"]
    pages = [listed(client, admin, page=n, page_size=2) for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1] and {p["total"] for p in pages} == {5}
    ids = [i["id"] for p in pages for i in p["items"]]
    assert ids == [i["id"] for i in listed(client, admin)["items"]]
    of_app = client.get(f"{API}/applications/{scene.agri.app.id}/notifications", headers=admin)
    assert of_app.status_code == 200 and of_app.json()["total"] == 2


def test_officials_see_only_their_office(client: TestClient, auth: Http, session: Session, scene: Scene) -> None:
    loose = Notification(
        idempotency_key="manual:1", kind="report_due", recipient="x@example.it", subject="Promemoria",
        body_text="testo", body_html="<p>testo</p>", created_at=scene.ricerca.day,
    )  # fmt: skip
    session.add(loose)
    session.commit()
    assert listed(client, auth(scene.admin))["total"] == 6  # the row without an application: admin only
    ricerca_row = rows(session, scene.ricerca)[0]
    agri_official = auth(scene.agri.official)
    page = listed(client, agri_official)
    assert page["total"] == 2 and {i["application_id"] for i in page["items"]} == {scene.agri.app.id}
    assert listed(client, agri_official, application_id=scene.ricerca.app.id)["total"] == 0
    hidden = client.get(f"{URL}/{ricerca_row.id}", headers=agri_official)
    assert hidden.status_code == 404 and hidden.json()["detail"] == f"comunicazione {ricerca_row.id} non trovata"
    assert client.get(f"{URL}/{loose.id}", headers=agri_official).status_code == 404
    assert client.post(f"{URL}/{ricerca_row.id}/retry", headers=agri_official).status_code == 404
    other_file = client.get(f"{API}/applications/{scene.ricerca.app.id}/notifications", headers=agri_official)
    assert other_file.status_code == 403  # the same answer as reading that application
    for person in (scene.ricerca.official, scene.ricerca.head):
        mine = listed(client, auth(person))
        assert mine["total"] == 3 and {i["application_id"] for i in mine["items"]} == {scene.ricerca.app.id}
    assert client.get(f"{URL}/{ricerca_row.id}", headers=auth(scene.ricerca.head)).status_code == 200


def test_representative_sees_only_mails_to_their_district(
    client: TestClient, auth: Http, session: Session, scene: Scene
) -> None:
    rep = auth(scene.ricerca.rep)
    page = listed(client, rep)
    assert page["total"] == 2
    assert {i["kind"] for i in page["items"]} == {"procedure_started"}
    assert {i["recipient"] for i in page["items"]} == {scene.ricerca.district.pec_email, scene.ricerca.rep.email}
    assert client.get(f"{API}/applications/{scene.ricerca.app.id}/notifications", headers=rep).json()["total"] == 2
    office_mail = rows(session, scene.ricerca, "withdrawn")[0]
    other_district = rows(session, scene.agri)[0]
    own = rows(session, scene.ricerca)[0]
    assert client.get(f"{URL}/{office_mail.id}", headers=rep).status_code == 404  # internal mail to the office
    assert client.get(f"{URL}/{other_district.id}", headers=rep).status_code == 404
    assert client.get(f"{URL}/{own.id}", headers=rep).status_code == 200
    refuse(own, scene.agri.day)
    retry = client.post(f"{URL}/{own.id}/retry", headers=rep)
    assert retry.status_code == 403 and "uffici regionali" in retry.json()["detail"]
    assert fetch(session, select(Notification.status).where(Notification.id == own.id)) == ["failed"]


def test_retry_puts_a_failed_mail_back_in_the_queue(
    client: TestClient, auth: Http, session: Session, clock: Clock, scene: Scene
) -> None:
    row = rows(session, scene.ricerca)[0]
    refuse(row, scene.agri.day)
    official = auth(scene.ricerca.official)
    failed = listed(client, official, status="failed")
    assert [i["id"] for i in failed["items"]] == [row.id]
    assert failed["items"][0]["attempts"] == 1 and failed["items"][0]["next_attempt_at"] is None
    assert failed["items"][0]["last_error"] == "550 5.1.1 casella inesistente"
    retried = client.post(f"{URL}/{row.id}/retry", headers=official)
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["status"] == "queued" and body["attempts"] == 1
    assert body["last_error"] == "550 5.1.1 casella inesistente"
    assert datetime.fromisoformat(body["next_attempt_at"]) == clock.now
    stored_row = stored(session, row.id)
    assert stored_row.status == NotificationStatus.QUEUED and stored_row.next_attempt_at == clock.now
    assert row.id in [o.id for o in claim_due(as_of=clock.now, limit=50)]  # delivery picks it up again
    again = client.post(f"{URL}/{row.id}/retry", headers=official)
    assert again.status_code == 409 and "già in coda" in again.json()["detail"]


def test_a_sent_mail_is_never_resent(client: TestClient, auth: Http, session: Session, scene: Scene) -> None:
    row = rows(session, scene.agri)[0]
    mark_sent(row.id, as_of=scene.agri.day)
    response = client.post(f"{URL}/{row.id}/retry", headers=auth(scene.admin))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflitto" and body["notification_status"] == "sent"
    assert (
        body["detail"]
        == f"la comunicazione {row.id} è già stata inviata: una comunicazione inviata non viene mai rispedita"
    )
    sent = listed(client, auth(scene.agri.official), status="sent")["items"]
    assert [i["id"] for i in sent] == [row.id] and sent[0]["sent_at"] is not None
    stored_row = stored(session, row.id)
    assert stored_row.status == NotificationStatus.SENT and stored_row.next_attempt_at is None


def test_committee_and_anonymous_are_refused(client: TestClient, auth: Http, session: Session, scene: Scene) -> None:
    member = auth(scene.member)
    row = rows(session, scene.ricerca)[0]
    for response in (
        client.get(URL, headers=member),
        client.get(f"{URL}/{row.id}", headers=member),
        client.get(f"{API}/applications/{scene.ricerca.app.id}/notifications", headers=member),
        client.post(f"{URL}/{row.id}/retry", headers=member),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "non_autorizzato"
    assert client.get(URL).status_code == 401


def test_an_uncertain_mail_goes_back_in_the_queue_only_on_request(
    client: TestClient, auth: Http, session: Session, clock: Clock, scene: Scene
) -> None:
    row = rows(session, scene.ricerca)[0]
    session.execute(
        update(Notification).where(col(Notification.id) == row.id).values(status=NotificationStatus.UNCERTAIN)
    )
    session.commit()
    assert row.id not in [o.id for o in claim_due(as_of=clock.now, limit=50)]  # never resent by itself
    official = auth(scene.ricerca.official)
    assert [i["id"] for i in listed(client, official, status="uncertain")["items"]] == [row.id]
    retried = client.post(f"{URL}/{row.id}/retry", headers=official)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert row.id in [o.id for o in claim_due(as_of=clock.now, limit=50)]
