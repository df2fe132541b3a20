"""Attack (issue 15, item 6): a draft read by someone other than its representative; a committee member
reading files they are not assigned to, or the other members' scores before giving their own.

The scene: district A recognised (all three members assigned) with a renewal draft D (roster with VAT
numbers, documents); district B with a draft E and a draft W withdrawn before submission (its mail to
the office included); file C of a third district in committee evaluation, assigned to members 0 and 1
only, scored by member 0. ``member_out`` is a committee member of the same office assigned to nothing.

Who tries: the official and the head of the right office, the administrator, the other office's
official, the other district's representative, committee members (assigned to A, not to C, or to
nothing). A draft answers 404 exactly as an id that does not exist (its existence is not revealed);
a submitted file outside one's assignment answers 403, as outside one's competence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.application import Document, StageAction
from models.enums import Role
from models.notification import Notification
from models.people import User
from tests.api_support import API, HIGH_SCORES, Http, People, act, draft_ready, fetch, roster_rows, to_active
from tests.factories import Factory
from tests.pages_support import page_login

DRAFT_VAT_START = 7000  # the roster of D: VAT numbers nobody else uses
MISSING = 999999


@dataclass
class Scene:
    app_a: int  # A's active application
    draft_d: int  # A's renewal draft
    draft_e: int  # B's draft
    withdrawn_w: int  # B's draft withdrawn before submission
    file_c: int  # in committee evaluation: members 0 and 1 assigned, member 0 scored
    doc_d: int
    action_w: int  # the withdrawal of W
    vat_d: str
    member_out: User


def build(client: TestClient, auth: Http, people: People, factory: Factory, session: Session) -> Scene:
    app_a = to_active(client, auth, people)
    rep_a, rep_b = auth(people.rep), auth(people.other_rep)
    draft_d = draft_ready(client, rep_a, kind="renewal", renewal_of_id=app_a)
    rows = roster_rows(start=DRAFT_VAT_START)
    assert client.put(f"{API}/applications/{draft_d}/roster", json={"rows": rows}, headers=rep_a).status_code == 200
    withdrawn_w = draft_ready(client, rep_b)
    act(client, withdrawn_w, "withdraw", rep_b, reason="Domanda da rifare")
    draft_e = draft_ready(client, rep_b)
    district_c = factory.district(section=1)
    rep_c = auth(factory.user(Role.REPRESENTATIVE, district=district_c))
    file_c = draft_ready(client, rep_c)
    act(client, file_c, "submit", rep_c)
    act(client, file_c, "start_review", auth(people.official))
    act(client, file_c, "declare_complete", auth(people.official), member_ids=[m.id for m in people.members[:2]])
    scored = client.post(
        f"{API}/applications/{file_c}/evaluations", json={"scores": HIGH_SCORES}, headers=auth(people.members[0])
    )
    assert scored.status_code == 201, scored.text
    [doc_d] = fetch(session, select(Document.id).where(Document.application_id == draft_d).limit(1))
    [action_w] = fetch(session, select(StageAction.id).where(StageAction.application_id == withdrawn_w))
    return Scene(
        app_a=app_a, draft_d=draft_d, draft_e=draft_e, withdrawn_w=withdrawn_w, file_c=file_c, doc_d=int(doc_d),
        action_w=int(action_w), vat_d=rows[0]["vat_number"],
        member_out=factory.user(Role.COMMITTEE, office="ricerca"),
    )  # fmt: skip


@pytest.fixture
def scene(client: TestClient, auth: Http, people: People, factory: Factory, session: Session) -> Scene:
    return build(client, auth, people, factory, session)


def intruders(people: People, scene: Scene, owner: User | None = None) -> dict[str, User]:
    """Everyone but the draft's representative (A's by default): none may read it."""
    other_rep = people.rep if owner is people.other_rep else people.other_rep
    return {
        "funzionario dell'ufficio competente": people.official,
        "dirigente dell'ufficio competente": people.head,
        "amministratore": people.admin,
        "funzionario di un altro ufficio": people.official_agri,
        "rappresentante di un altro distretto": other_rep,
        "membro del comitato assegnato ad A": people.members[0],
        "membro del comitato non assegnato": scene.member_out,
    }


def draft_urls(app_id: int, doc_id: int) -> list[str]:
    return [
        f"{API}/applications/{app_id}",
        f"{API}/applications/{app_id}/roster",
        f"{API}/applications/{app_id}/documents",
        f"{API}/applications/{app_id}/documents/{doc_id}/file",
        f"{API}/applications/{app_id}/deadlines.ics",
        f"{API}/applications/{app_id}/notifications",
        f"{API}/applications/{app_id}/committee",
        f"{API}/applications/{app_id}/evaluations",
    ]


def draft_pages(app_id: int, doc_id: int) -> list[str]:
    return [f"/pratiche/{app_id}", f"/pratiche/{app_id}/documenti/{doc_id}", f"/pratiche/{app_id}/scadenze.ics"]


def browser(app: FastAPI, user: User) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    page_login(client, user)
    return client


# ---- drafts --------------------------------------------------------------------------------------


def test_a_draft_is_read_by_id_only_by_its_representative(
    app: FastAPI, client: TestClient, auth: Http, people: People, scene: Scene
) -> None:
    """JSON and pages, the file, its roster (VAT numbers), documents, deadlines: 404 as a missing id."""
    problems = []
    for who, user in intruders(people, scene).items():
        pages = browser(app, user)
        for url in draft_urls(scene.draft_d, scene.doc_d):
            response = client.get(url, headers=auth(user))
            if response.status_code != 404:
                problems.append(f"{who}: GET {url} → {response.status_code}")
            elif url.endswith(str(scene.draft_d)):  # the same answer as an id that does not exist
                missing = client.get(url.replace(str(scene.draft_d), str(MISSING)), headers=auth(user))
                assert response.json()["detail"] == missing.json()["detail"].replace(str(MISSING), str(scene.draft_d))
        for url in draft_pages(scene.draft_d, scene.doc_d):
            response = pages.get(url, follow_redirects=False)
            if response.status_code != 404 or scene.vat_d in response.text:
                problems.append(f"{who}: pagina {url} → {response.status_code}")
    assert not problems, "\n".join(problems)


def test_a_draft_is_in_no_list_search_or_count(
    app: FastAPI, client: TestClient, auth: Http, people: People, scene: Scene
) -> None:
    problems = []
    for owner, drafts in ((people.rep, {scene.draft_d}), (people.other_rep, {scene.draft_e, scene.withdrawn_w})):
        for who, user in intruders(people, scene, owner).items():
            for params in ({}, {"state": "draft"}, {"state": "withdrawn"}, {"district_id": owner.district_id}):
                listed = client.get(f"{API}/applications", params={**params, "page_size": 200}, headers=auth(user))
                assert listed.status_code == 200, listed.text
                found = {item["id"] for item in listed.json()["items"]} & drafts
                counted = user.role != Role.REPRESENTATIVE and params.get("state") and listed.json()["total"]
                if found or counted:
                    problems.append(f"{who}: GET /applications {params} → {sorted(found)}")
    drafts = {scene.draft_d, scene.draft_e, scene.withdrawn_w}
    for user in (people.official, people.head, people.admin):
        pages = browser(app, user)
        for query in (scene.vat_d, people.other_district.name, str(scene.draft_d)):
            work = pages.get("/ufficio/pratiche", params={"q": query})
            assert work.status_code == 200
            if any(f'href="/pratiche/{d}"' in work.text for d in drafts):
                problems.append(f"{user.username}: la ricerca «{query}» trova una bozza")
        drafts_list = pages.get("/ufficio/pratiche", params={"stato": "draft"})
        if any(f'href="/pratiche/{d}"' in drafts_list.text for d in drafts):
            problems.append(f"{user.username}: l'elenco per stato «Bozza» mostra bozze")
        dashboard = pages.get("/ufficio")
        if "stato=draft" in dashboard.text or "fase «Bozza»" in dashboard.text:
            problems.append(f"{user.username}: il cruscotto conta le bozze")
        statistics = pages.get("/ufficio/statistiche")
        for label in ("Bozza", "Ritirata"):
            counted = re.search(rf'aria-label="(\d+) pratiche nella fase «{label}»"', statistics.text)
            if counted is not None and counted.group(1) != "0":  # states with no file are left out
                problems.append(f"{user.username}: le statistiche contano le bozze («{label}»)")
    assert not problems, "\n".join(problems)


def test_a_draft_withdrawn_before_submission_stays_private(
    app: FastAPI, client: TestClient, auth: Http, people: People, scene: Scene, session: Session
) -> None:
    """Its withdrawal tells the office nothing, and its action and outbox rows are not shown to the office."""
    problems = []
    for who, user in intruders(people, scene, people.other_rep).items():
        for url in (f"{API}/applications/{scene.withdrawn_w}", f"{API}/actions/{scene.action_w}"):
            response = client.get(url, headers=auth(user))
            if response.status_code != 404:
                problems.append(f"{who}: GET {url} → {response.status_code}")
    for user in (people.official, people.head, people.admin):
        outbox = client.get(f"{API}/notifications", params={"page_size": 200}, headers=auth(user)).json()["items"]
        if any(item["application_id"] in (scene.withdrawn_w, scene.draft_e, scene.draft_d) for item in outbox):
            problems.append(f"{user.username}: l'elenco delle comunicazioni mostra una bozza")
        page = browser(app, user).get("/ufficio/comunicazioni")
        if f'href="/pratiche/{scene.withdrawn_w}"' in page.text:
            problems.append(f"{user.username}: la pagina delle comunicazioni mostra la bozza ritirata")
    mails = fetch(session, select(Notification.kind).where(col(Notification.application_id) == scene.withdrawn_w))
    if mails:
        problems.append(f"il ritiro di una bozza mai presentata ha scritto all'ufficio: {mails}")
    assert not problems, "\n".join(problems)


def test_the_representative_still_reads_the_draft(app: FastAPI, client: TestClient, auth: Http, people: People,
                                                 scene: Scene) -> None:  # fmt: skip
    rep = auth(people.rep)
    for url in draft_urls(scene.draft_d, scene.doc_d)[:5]:
        assert client.get(url, headers=rep).status_code == 200, url
    roster = client.get(f"{API}/applications/{scene.draft_d}/roster", headers=rep).json()
    assert roster["rows"][0]["vat_number"] == scene.vat_d
    listed = {a["id"] for a in client.get(f"{API}/applications", headers=rep).json()["items"]}
    assert {scene.app_a, scene.draft_d} <= listed
    pages = browser(app, people.rep)
    for url in draft_pages(scene.draft_d, scene.doc_d):
        assert pages.get(url).status_code == 200, url
    assert scene.vat_d in pages.get(f"/pratiche/{scene.draft_d}").text
    # the recognised district stays on the public registry while its renewal is a draft
    assert [e["district_id"] for e in client.get(f"{API}/registry").json()] == [people.district.id]


# ---- committee members -----------------------------------------------------------------------------


def test_an_unassigned_member_reads_nothing_of_a_file_under_evaluation(
    app: FastAPI, client: TestClient, auth: Http, people: People, scene: Scene
) -> None:
    """member_out (no assignment) and members[2] (assigned to A, not to C): not the file, its roster, its
    documents, the scores; not in their lists; the assigned members still read it."""
    problems = []
    for user in (scene.member_out, people.members[2]):
        for url in (*draft_urls(scene.file_c, 0)[:3], *draft_urls(scene.file_c, 0)[4:]):
            response = client.get(url, headers=auth(user))
            if response.status_code != 403 or "filiera" in response.text:
                problems.append(f"{user.username}: GET {url} → {response.status_code}")
        pages = browser(app, user)
        for url in (f"/pratiche/{scene.file_c}", f"/comitato/pratiche/{scene.file_c}/decisione"):
            response = pages.get(url, follow_redirects=False)
            if response.status_code != 403:
                problems.append(f"{user.username}: pagina {url} → {response.status_code}")
        listed = {a["id"] for a in client.get(f"{API}/applications", headers=auth(user)).json()["items"]}
        if scene.file_c in listed:
            problems.append(f"{user.username}: C compare nell'elenco delle pratiche")
    out_list = client.get(f"{API}/applications", headers=auth(scene.member_out)).json()
    if out_list["total"]:
        problems.append(f"il membro non assegnato vede {out_list['total']} pratiche")
    if client.get(f"{API}/reports", headers=auth(scene.member_out)).json()["total"]:
        problems.append("il membro non assegnato vede le relazioni annuali dell'ufficio")
    assert not problems, "\n".join(problems)
    for member in people.members[:2]:
        assert client.get(f"{API}/applications/{scene.file_c}", headers=auth(member)).status_code == 200
        assert client.get(f"{API}/applications/{scene.file_c}/roster", headers=auth(member)).status_code == 200
        assert browser(app, member).get(f"/pratiche/{scene.file_c}").status_code == 200
    assert {a["id"] for a in client.get(f"{API}/applications", headers=auth(people.members[2])).json()["items"]} == {
        scene.app_a
    }


def test_a_member_reads_the_others_scores_only_after_giving_their_own(
    app: FastAPI, client: TestClient, auth: Http, people: People, scene: Scene
) -> None:
    """Member 1 is assigned to C and has not scored yet: member 0's scores stay sealed (JSON, file page,
    decision page) until member 1 has scored; the office reads them all along."""
    late = people.members[1]
    url = f"{API}/applications/{scene.file_c}/evaluations"
    before = client.get(url, headers=auth(late))
    assert before.status_code == 200 and before.json() == [], before.text
    pages = browser(app, late)
    for page_url in (f"/pratiche/{scene.file_c}", f"/comitato/pratiche/{scene.file_c}/decisione"):
        text = pages.get(page_url).text
        assert not any(figure in text for figure in ("80,00", ">80,0<", "80,0 su 100")), page_url
    office = client.get(url, headers=auth(people.official)).json()
    assert [e["member_id"] for e in office] == [people.members[0].id]
    low = {"filiera": 10, "programma": 10, "specificita": 10, "impatto": 10}
    assert client.post(url, json={"scores": low}, headers=auth(late)).status_code == 201
    after = client.get(url, headers=auth(late)).json()
    assert {e["member_id"] for e in after} == {people.members[0].id, late.id}
    assert "80,00" in pages.get(f"/comitato/pratiche/{scene.file_c}/decisione").text
