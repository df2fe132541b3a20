"""Authorization matrix: every route of the application, called as every actor, against the rule table.

The routes come from ``create_app().routes``; the rules from tests/security/route_rules.py (a route
without a rule, or a rule without a route, fails). One scene per test: district A with an active
application (documents, the issued act's PDF, an open annual report with an attachment) and D, its renewal
draft (roster, documents); district B active with its report filed; file C in committee evaluation assigned
to only some members. Every route of a file is called on A's (or C's) file and again on the draft D.

Lifecycle actions are accepted but not carried out (the stand-in for the stage flows is switched
off), and the state each route needs is set on A's file before the route and put back after it,
so every check meets the same scene. A refused change must leave the database as it was.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import count
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.routing import Mount

from api.deps import DispatchFn, get_dispatcher
from api.main import create_app
from api.pages.web import NOTICE_COOKIE
from api.routers.notifications import DISTRICT_KINDS
from models.application import Application, Document, StageAction
from models.enums import ApplicationKind, DocumentKind, Role, State
from models.notification import Notification
from models.people import User
from models.profiles import RegionProfile
from models.registry import AnnualReport
from tasks.report_cycle import open_reports
from tasks.stage_work import carry_out
from tests.api_support import API, Clock, Dispatched, Http, People, act, draft_ready, fetch, login, to_active
from tests.factories import PASSWORD, Factory
from tests.pages_support import csrf_of
from tests.security.route_rules import (
    ACTORS,
    ADMIN,
    ANON,
    DRAFT_PARAMS,
    HEAD,
    LOGIN,
    MEMBER,
    MEMBER_OUT,
    NOTICE,
    OFFICIAL,
    OFFICIAL_AGRI,
    OK,
    REP_A,
    REP_B,
    RULES,
    SKIPPED,
    Expectation,
    Rule,
)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
DENIALS = {401, 403, 404}
REPORT = {"activities": [{"title": "Fiera di settore", "programme_objective": "Export", "spending_eur": 1000}]}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, HEAD aside; a mount as ("MOUNT", path)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("MOUNT", str(route.path)))
            continue
        for method in (route.methods or set()) - {"HEAD"}:
            found.add((method, str(route.path)))
    return found


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    routes = app_routes(create_app())
    declared = set(RULES) | SKIPPED
    missing = sorted(routes - declared)
    stale = sorted(declared - routes)
    assert not missing, f"rotte senza regola di autorizzazione in tests/security/route_rules.py: {missing}"
    assert not stale, f"regole per rotte che non esistono più: {stale}"
    assert not set(RULES) & SKIPPED
    for key, rule in RULES.items():
        assert set(rule.expect) == set(ACTORS), f"{key}: la regola deve nominare ogni attore"
        assert set(re.findall(r"{(\w+)}", key[1])) == set(rule.params), f"{key}: parametri del percorso"


# ---- the scene -----------------------------------------------------------------------------------


@dataclass
class Scene:
    district_a: int
    district_b: int
    app_a: int
    app_b: int
    app_c: int
    draft_d: int  # A's renewal draft
    doc_d: int
    act_pdf_a: int
    act_pdf_b: int
    report_a: int
    report_b: int
    attachment_a: int
    attachment_b: int
    notice_a: int
    action_a: int
    member_id: int
    year: int = 2026
    _serial: Iterator[int] = field(default_factory=lambda: count(1))

    def serial(self) -> int:
        return next(self._serial)


@dataclass
class Actor:
    name: str
    user: User | None
    client: TestClient
    bearer: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def log_in(self) -> None:
        """A browser session (cookie) and a bearer token; the CSRF token of this browser."""
        self.client.cookies.clear()
        self.csrf = csrf_of(self.client.get("/accesso").text)
        if self.user is None:
            return
        data = {"username": self.user.username, "password": PASSWORD, "csrf_token": self.csrf}
        assert self.client.post("/accesso", data=data, follow_redirects=False).status_code == 303
        self.csrf = csrf_of(self.client.get("/registro").text)  # after login the token is the session's
        self.bearer = login(self.client, self.user)


def _one(session: Session, statement: Any) -> int:
    rows = fetch(session, statement)
    assert rows, statement
    return int(rows[0])


def build_scene(
    client: TestClient, auth: Http, people: People, factory: Factory, session: Session, profile: RegionProfile,
    clock: Clock,
) -> tuple[Scene, User, User]:  # fmt: skip
    """A and B active (through HTTP), D A's renewal draft, C in committee evaluation with two of the three
    members; reports."""
    app_a = to_active(client, auth, people)
    app_b = to_active(client, auth, people, representative=people.other_rep)
    draft_d = draft_ready(client, auth(people.rep), kind="renewal", renewal_of_id=app_a)
    district_c = factory.district(section=1)
    rep_c = factory.user(Role.REPRESENTATIVE, district=district_c)
    app_c = draft_ready(client, auth(rep_c))
    act(client, app_c, "submit", auth(rep_c))
    act(client, app_c, "start_review", auth(people.official))
    assigned = people.members[:2]
    act(client, app_c, "declare_complete", auth(people.official), member_ids=[m.id for m in assigned])
    member_out = factory.user(Role.COMMITTEE, office="ricerca")  # of the office, assigned to no file

    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1))[0] == 2026
    session.commit()
    clock.now = datetime(2027, 2, 15, 9, 0, tzinfo=UTC)

    def report_of(app_id: int) -> int:
        return _one(session, select(AnnualReport.id).where(AnnualReport.application_id == app_id))

    report_a, report_b = report_of(app_a), report_of(app_b)
    for report_id, rep in ((report_a, people.rep), (report_b, people.other_rep)):
        files = {"file": (f"rendiconto-{report_id}.pdf", f"%PDF-1.4 {report_id}".encode(), "application/pdf")}
        assert client.post(f"{API}/reports/{report_id}/files", files=files, headers=auth(rep)).status_code == 201
    filed = client.put(
        f"{API}/districts/{people.other_district.id}/reports/2026", json=REPORT, headers=auth(people.other_rep)
    )
    assert filed.status_code == 200, filed.text

    def document(app_id: int, **where: Any) -> int:
        query = select(Document.id).where(Document.application_id == app_id)
        for name, value in where.items():
            query = query.where(getattr(Document, name) == value)
        return _one(session, query.order_by(col(Document.id)))

    notice_a = _one(
        session,
        select(Notification.id).where(Notification.application_id == app_a, col(Notification.kind).in_(DISTRICT_KINDS)),
    )
    scene = Scene(
        district_a=people.district.id or 0,
        district_b=people.other_district.id or 0,
        app_a=app_a,
        app_b=app_b,
        app_c=app_c,
        draft_d=draft_d,
        doc_d=document(draft_d),
        act_pdf_a=document(app_a, kind=DocumentKind.RECOGNITION_ACT),
        act_pdf_b=document(app_b, kind=DocumentKind.RECOGNITION_ACT),
        report_a=report_a,
        report_b=report_b,
        attachment_a=document(app_a, annual_report_id=report_a),
        attachment_b=document(app_b, annual_report_id=report_b),
        notice_a=notice_a,
        action_a=_one(session, select(StageAction.id).where(StageAction.application_id == app_a)),
        member_id=people.members[0].id or 0,
    )
    return scene, people.members[0], member_out


def stage_work(dispatched: Dispatched) -> DispatchFn:
    """The stage flows' own work without Prefect (documents too: the act's PDF), while ``dispatched.run``."""

    async def dispatch(action_id: int) -> None:
        dispatched.ids.append(action_id)
        if dispatched.run:
            carry_out(action_id, flow_run_id=f"matrice-{action_id}")

    return dispatch


@dataclass
class World:
    scene: Scene
    actors: dict[str, Actor]
    engine: Engine


@pytest.fixture
def world(
    app: FastAPI, client: TestClient, auth: Http, people: People, factory: Factory, session: Session,
    profile: RegionProfile, clock: Clock, dispatched: Dispatched,
) -> World:  # fmt: skip
    app.dependency_overrides[get_dispatcher] = lambda: stage_work(dispatched)
    scene, member, member_out = build_scene(client, auth, people, factory, session, profile, clock)
    dispatched.run = False  # actions are accepted (the guard passed) but never carried out
    users: dict[str, User | None] = {
        ANON: None, REP_A: people.rep, REP_B: people.other_rep, OFFICIAL: people.official,
        OFFICIAL_AGRI: people.official_agri, MEMBER: member, MEMBER_OUT: member_out, HEAD: people.head,
        ADMIN: people.admin,
    }  # fmt: skip
    actors = {name: Actor(name, user, TestClient(app, raise_server_exceptions=False)) for name, user in users.items()}
    for actor in actors.values():
        actor.log_in()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return World(scene, actors, engine)


# ---- calling a route as an actor -------------------------------------------------------------------


def resolve(value: Any, scene: Scene) -> Any:
    return value(scene) if callable(value) else value


def url_of(path: str, params: Mapping[str, str | int], scene: Scene) -> str:
    for name, value in params.items():
        filled = getattr(scene, value) if isinstance(value, str) and hasattr(scene, value) else value
        path = path.replace(f"{{{name}}}", str(filled))
    return path


def call(actor: Actor, method: str, url: str, rule: Rule, scene: Scene) -> Response:
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if url.startswith("/api/"):
        kwargs["headers"] = actor.bearer
        if rule.json is not None:
            kwargs["json"] = resolve(rule.json, scene)
        form = dict(resolve(rule.form, scene)) if rule.form is not None else None
    else:
        form = {**dict(resolve(rule.form, scene) or {}), "csrf_token": actor.csrf} if method in MUTATING else None
    if form is not None:
        kwargs["data"] = form
    if rule.files is not None:
        kwargs["files"] = dict(rule.files)
    return actor.client.request(method, url, **kwargs)


FINGERPRINT_TABLES = (
    "application", "stage_action", "audit_event", "document", "member_enterprise", "evaluation",
    "committee_assignment", "annual_report", "registry_entry", "recognition_act", "protocol_entry",
    "clock_suspension", "notification", "district", "user", "api_token",
)  # fmt: skip


def fingerprint(engine: Engine) -> tuple[Any, ...]:
    """Row counts of the tables a change would touch, and the mutable columns that matter."""
    counts = ", ".join(f'(SELECT count(*) FROM "{t}")' for t in FINGERPRINT_TABLES)
    with engine.connect() as conn:
        return (
            tuple(conn.execute(text(f"SELECT {counts}")).one()),
            tuple(
                conn.execute(text("SELECT id, state, kind, pending_action_id, version FROM application ORDER BY id"))
            ),
            tuple(conn.execute(text("SELECT id, state, remarks FROM annual_report ORDER BY id"))),
            tuple(conn.execute(text("SELECT id, status, next_attempt_at FROM notification ORDER BY id"))),
            tuple(conn.execute(text('SELECT id, password_hash, district_id, active FROM "user" ORDER BY id'))),
        )


def notice_kind(response: Response) -> str | None:
    raw = response.cookies.get(NOTICE_COOKIE)
    if not raw:
        return None
    return str(json.loads(base64.urlsafe_b64decode(raw.strip('"').encode()))["k"])


def verdict(response: Response, expected: Expectation, method: str, rule: Rule) -> str | None:
    """None when the answer matches the expectation, otherwise what was wrong (Italian, short)."""
    status = response.status_code
    location = response.headers.get("location", "")
    if status >= 500:
        return f"errore del server {status}"
    if expected == OK:
        if rule.ok_statuses is not None:
            return None if status in rule.ok_statuses else f"atteso {sorted(rule.ok_statuses)}, ottenuto {status}"
        if status in DENIALS or location.startswith("/accesso?dopo="):
            return f"atteso consentito, ottenuto {status} {location}".strip()
        return None if method != "GET" or status == 200 else f"atteso 200, ottenuto {status}"
    if expected == LOGIN:
        return (
            None if status == 303 and location.startswith("/accesso?dopo=") else f"atteso rinvio all'accesso, {status}"
        )
    if expected == NOTICE:
        ok = status == 303 and notice_kind(response) == "errore"
        return None if ok else f"atteso 303 con avviso di errore, ottenuto {status}"
    return None if status == expected else f"atteso {expected}, ottenuto {status}"


@dataclass
class Tally:
    checks: int = 0
    denied: int = 0
    failures: list[str] = field(default_factory=list)


class FileState:
    """Puts A's file in the state a route needs, and every file and report back as they were."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with Session(engine) as session:
            self.apps = {a.id: (a.state, a.kind, a.pending_action_id) for a in session.exec(select(Application))}
            self.reports = {r.id: r.state for r in session.exec(select(AnnualReport))}

    def force(self, app_id: int, state: str | None, kind: str | None) -> None:
        if state is None and kind is None:
            return
        with Session(self.engine) as session:
            application = session.get(Application, app_id)
            assert application is not None
            application.state = State(state) if state else application.state
            application.kind = ApplicationKind(kind) if kind else application.kind
            session.add(application)
            session.commit()

    def restore(self) -> None:
        with Session(self.engine) as session:
            for application in session.exec(select(Application)):
                before = self.apps.get(application.id)
                if before and (application.state, application.kind, application.pending_action_id) != before:
                    application.state, application.kind, application.pending_action_id = before
                    session.add(application)
            for report in session.exec(select(AnnualReport)):
                if report.id in self.reports and report.state != self.reports[report.id]:
                    report.state = self.reports[report.id]
                    session.add(report)
            session.commit()


def on_draft(rule: Rule) -> Rule:
    """The rule as it applies to D, A's renewal draft (left a draft: no state or kind forced)."""
    assert rule.draft is not None
    params = {name: DRAFT_PARAMS.get(str(value), value) for name, value in rule.params.items()}
    return replace(rule, expect=rule.draft, params=params, state=None, kind=None, draft=None)


def check(world: World, tally: Tally, key: tuple[str, str], rule: Rule, who: list[str] | None = None) -> None:
    """Calls one route as the actors (refused ones first: an allowed change must not mask them)."""
    method, path = key
    scene = world.scene
    url = url_of(path, rule.params, scene)
    files = FileState(world.engine)
    files.force(scene.app_a, rule.state, rule.kind)
    names = who or sorted(rule.expect, key=lambda a: rule.expect[a] == OK)
    try:
        for name in names:
            expected = rule.expect[name]
            actor = world.actors[name]
            watch = method in MUTATING and expected != OK
            before = fingerprint(world.engine) if watch else None
            response = call(actor, method, url, rule, scene)
            tally.checks += 1
            problem = verdict(response, expected, method, rule)
            if watch:
                tally.denied += 1
                if problem is None and fingerprint(world.engine) != before:
                    problem = "rifiutata, ma la banca dati è cambiata"
            if problem:
                tally.failures.append(f"{method} {url} come {name}: {problem} — {response.text[:160]!r}")
            if rule.ends_session and actor.user is not None:
                actor.log_in()
    finally:
        files.restore()


# ---- object level, named cases -----------------------------------------------------------------------

OBJECT_CASES: list[tuple[str, str, str, Rule, Expectation]] = [
    # (actor, method, path with scene attributes, rule for params/body, expected)
    (REP_B, "GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}/file",
     Rule({}, {"application_id": "app_a", "document_id": "act_pdf_a"}), 403),
    (REP_A, "GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}/file",  # B's act via A's file
     Rule({}, {"application_id": "app_a", "document_id": "act_pdf_b"}), 404),
    (OFFICIAL_AGRI, "GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}/file",
     Rule({}, {"application_id": "app_a", "document_id": "act_pdf_a"}), 403),
    (REP_A, "GET", "/pratiche/{application_id}/documenti/{document_id}",
     Rule({}, {"application_id": "app_a", "document_id": "act_pdf_b"}), 404),
    (REP_B, "GET", f"{API}/applications/{{application_id}}/roster", Rule({}, {"application_id": "app_a"}), 403),
    (REP_B, "GET", f"{API}/applications/{{application_id}}/deadlines.ics", Rule({}, {"application_id": "app_a"}), 403),
    (REP_B, "GET", "/pratiche/{application_id}/scadenze.ics", Rule({}, {"application_id": "app_a"}), 403),
    (REP_A, "GET", f"{API}/reports/{{report_id}}", Rule({}, {"report_id": "report_b"}), 404),
    (REP_A, "GET", f"{API}/reports/{{report_id}}/files/{{document_id}}",  # B's attachment via A's report
     Rule({}, {"report_id": "report_a", "document_id": "attachment_b"}), 404),
    (REP_B, "GET", f"{API}/reports/{{report_id}}/files/{{document_id}}",
     Rule({}, {"report_id": "report_a", "document_id": "attachment_a"}), 404),
    (REP_A, "GET", "/distretto/relazioni/{year}/allegati/{document_id}",
     Rule({}, {"year": "year", "document_id": "attachment_b"}), 404),
    (OFFICIAL_AGRI, "GET", f"{API}/reports/{{report_id}}", Rule({}, {"report_id": "report_a"}), 404),
    (REP_A, "PUT", f"{API}/districts/{{district_id}}/reports/{{year}}",
     Rule({}, {"district_id": "district_b", "year": "year"}, json=REPORT), 403),
    (REP_A, "POST", f"{API}/reports/{{report_id}}/files", Rule({}, {"report_id": "report_b"}, files={
        "file": ("x.pdf", b"%PDF-1.4 x", "application/pdf")}), 404),
    (REP_B, "POST", f"{API}/applications", Rule({}, json=lambda s: {"district_id": s.district_a}), 403),
    (REP_B, "GET", f"{API}/districts/{{district_id}}", Rule({}, {"district_id": "district_a"}), 403),
    (OFFICIAL_AGRI, "GET", f"{API}/applications/{{application_id}}", Rule({}, {"application_id": "app_a"}), 403),
    (OFFICIAL_AGRI, "GET", "/pratiche/{application_id}", Rule({}, {"application_id": "app_a"}), 403),
    (OFFICIAL_AGRI, "POST", f"{API}/applications/{{application_id}}/actions/start_review",
     Rule({}, {"application_id": "app_a"}, state="submitted"), 403),
    (MEMBER_OUT, "POST", f"{API}/applications/{{application_id}}/evaluations",
     Rule({}, {"application_id": "app_c"}, json={"scores": {"filiera": 20}}), 403),
    (MEMBER_OUT, "GET", "/comitato/pratiche/{application_id}/decisione", Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER_OUT, "POST", f"{API}/applications/{{application_id}}/actions/approve",
     Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER_OUT, "POST", "/pratiche/{application_id}/azioni/{event}",
     Rule({}, {"application_id": "app_c", "event": "approve"}), 403),
    (MEMBER_OUT, "GET", f"{API}/applications/{{application_id}}", Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER_OUT, "GET", f"{API}/applications/{{application_id}}/roster", Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER_OUT, "GET", f"{API}/applications/{{application_id}}/evaluations",
     Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER_OUT, "GET", "/pratiche/{application_id}", Rule({}, {"application_id": "app_c"}), 403),
    (MEMBER, "GET", f"{API}/applications/{{application_id}}/roster", Rule({}, {"application_id": "app_c"}), OK),
    (REP_B, "GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}/file",  # D's document via B's
     Rule({}, {"application_id": "app_b", "document_id": "doc_d"}), 404),
    (REP_A, "GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}/file",  # D's, as its owner
     Rule({}, {"application_id": "draft_d", "document_id": "doc_d"}), OK),
    (MEMBER, "POST", f"{API}/applications/{{application_id}}/actions/approve",
     Rule({}, {"application_id": "app_c"}), OK),  # assigned: the guard speaks (quorum not reached, 422)
    (REP_A, "GET", f"{API}/applications/{{application_id}}/committee", Rule({}, {"application_id": "app_a"}), 403),
]  # fmt: skip


def lists_never_show_another_district_or_office(world: World) -> None:
    scene, actors = world.scene, world.actors

    def get(name: str, url: str) -> Any:
        response = actors[name].client.get(f"{API}{url}", headers=actors[name].bearer)
        assert response.status_code == 200, (name, url, response.text)
        return response.json()

    assert get(REP_A, f"/applications?district_id={scene.district_b}")["total"] == 0
    assert {a["district_id"] for a in get(REP_A, "/applications")["items"]} == {scene.district_a}
    assert get(OFFICIAL_AGRI, "/applications")["total"] == 0
    assert [r["id"] for r in get(REP_A, "/reports")["items"]] == [scene.report_a]
    assert get(OFFICIAL_AGRI, "/reports")["total"] == 0
    assert get(REP_A, f"/notifications?application_id={scene.app_b}")["total"] == 0
    assert get(OFFICIAL_AGRI, "/notifications")["total"] == 0
    assert [d["id"] for d in get(REP_B, "/districts")] == [scene.district_b]
    assert get(OFFICIAL_AGRI, "/stats/procedure-times")["total"]["total"] == 0
    mine = actors[MEMBER_OUT].client.get("/comitato")
    assert mine.status_code == 200 and f"/comitato/pratiche/{scene.app_c}/" not in mine.text
    # the draft D: its representative's alone; the committee: its assignments only, no annual reports
    assert scene.draft_d in {a["id"] for a in get(REP_A, "/applications")["items"]}
    for name in (OFFICIAL, HEAD, ADMIN, MEMBER, MEMBER_OUT, REP_B, OFFICIAL_AGRI):
        assert scene.draft_d not in {a["id"] for a in get(name, "/applications?page_size=200")["items"]}, name
        assert name == REP_B or get(name, "/applications?state=draft")["total"] == 0, name  # B's own: its renewal
    for name in (OFFICIAL, HEAD, ADMIN):
        work = actors[name].client.get("/ufficio/pratiche", params={"q": str(scene.draft_d)})
        assert work.status_code == 200 and f'href="/pratiche/{scene.draft_d}"' not in work.text, name
    assert get(MEMBER_OUT, "/applications")["total"] == 0
    assert {a["id"] for a in get(MEMBER, "/applications")["items"]} == {scene.app_a, scene.app_b, scene.app_c}
    assert get(MEMBER, "/reports")["total"] == get(MEMBER_OUT, "/reports")["total"] == 0


def test_every_route_as_every_actor(world: World) -> None:
    """The table over every route and actor, then the named object-level cases, then the lists."""
    started = time.perf_counter()
    tally = Tally()
    for key, rule in RULES.items():
        check(world, tally, key, rule)
    routes, matrix_checks = len(RULES), tally.checks
    on_drafts = [(key, on_draft(rule)) for key, rule in RULES.items() if rule.draft is not None]
    for key, rule in on_drafts:
        check(world, tally, key, rule)
    draft_checks = tally.checks - matrix_checks
    for actor, method, path, rule, expected in OBJECT_CASES:
        check(world, tally, (method, path), replace(rule, expect={actor: expected}), [actor])
    print(
        f"matrice di autorizzazione: {routes} rotte × {len(ACTORS)} attori = {matrix_checks} verifiche "
        f"+ {len(on_drafts)} rotte × {len(ACTORS)} attori sulla bozza D = {draft_checks} "
        f"+ {len(OBJECT_CASES)} casi per identificativo ({tally.denied} modifiche rifiutate, banca dati invariata), "
        f"{len(tally.failures)} difformità, {time.perf_counter() - started:.1f} s"
    )
    assert not tally.failures, f"{len(tally.failures)} difformità:\n" + "\n".join(tally.failures[:60])
    assert matrix_checks == routes * len(ACTORS) >= 98 * 9
    assert draft_checks == len(on_drafts) * len(ACTORS) >= 35 * 9
    owner = world.actors[REP_A].client.get(
        f"{API}/applications/{world.scene.app_a}/documents/{world.scene.act_pdf_a}/file",
        headers=world.actors[REP_A].bearer,
    )
    assert owner.status_code == 200 and owner.content.startswith(b"%PDF-")  # the issued act, to its district
    lists_never_show_another_district_or_office(world)
