"""Renewal through HTTP: filed in time it keeps the entry valid and is confirmed with lighter checks;
after expiry it is refused with a clear error."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.profiles import RegionProfile
from tasks.expiry import close_lapsed_terms
from tests.api_support import API, Clock, Http, People, act, draft_ready, to_active


def test_renewal_in_time_runs_on_from_the_old_end_date(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    active = to_active(client, auth, people)  # 2026-03-02 → 2029-03-01
    rep, off = auth(people.rep), auth(people.official)
    wrong = client.post(f"{API}/applications", json={"kind": "renewal", "renewal_of_id": active + 99}, headers=rep)
    assert wrong.status_code == 422 and wrong.json()["field"] == "renewal_of_id"
    clock.now = datetime(2029, 1, 15, 10, tzinfo=UTC)
    renewal = draft_ready(client, auth(people.rep), kind="renewal", renewal_of_id=active)
    act(client, renewal, "submit", auth(people.rep))
    assert (
        client.get(f"{API}/applications/{active}", headers=auth(people.official)).json()["state"] == "renewal_requested"
    )
    assert close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 10)).expired == []
    session.commit()
    clock.now = datetime(2029, 3, 12, 10, tzinfo=UTC)
    off = auth(people.official)
    act(client, renewal, "start_review", off)
    not_for_recognition = client.post(f"{API}/applications/{renewal}/actions/approve", headers=off)
    assert not_for_recognition.status_code == 409  # "approve" is the committee path: not from this state
    act(client, renewal, "approve_renewal", off)
    act(client, renewal, "issue_act", auth(people.head), publication_ref="BURP n. 40")
    [entry] = client.get(f"{API}/registry").json()
    assert (entry["status"], entry["valid_from"], entry["valid_until"]) == ("active", "2029-03-02", "2032-03-01")


def test_renewal_after_expiry_is_refused(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    active = to_active(client, auth, people)
    assert close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 2)).expired == [active]
    session.commit()
    clock.now = datetime(2029, 3, 5, 10, tzinfo=UTC)
    late = client.post(
        f"{API}/applications", json={"kind": "renewal", "renewal_of_id": active}, headers=auth(people.rep)
    )
    assert late.status_code == 409
    assert late.json()["detail"] == (
        "il riconoscimento è scaduto il 01/03/2029: il rinnovo non è più possibile, "
        "occorre presentare una nuova domanda di riconoscimento"
    )
    fresh = client.post(f"{API}/applications", json={"kind": "recognition"}, headers=auth(people.rep))
    assert fresh.status_code == 201
