"""The authorization table: for every route of the application, who may call it and what a refusal looks like.

Read by tests/security/test_authorization_matrix.py, which calls every route as every actor over one
scene and compares. A route of ``create_app()`` missing here, or a rule for a route that no longer
exists, fails that test: a new route needs its rule before it ships.

Actors (the scene's people):
- ``anon``: no session, no token;
- ``rep_a`` / ``rep_b``: representatives of district A and of district B (both section 1, ricerca);
- ``official`` / ``official_agri``: officials of the ricerca office (sections 1–5) and of agricoltura (6–7);
- ``member`` / ``member_out``: committee members of ricerca, assigned to the evaluated file or not;
- ``head``: head of the ricerca office; ``admin``: the administrator.

Targets: the application, documents, roster, report, attachment, notification and action of **district A**
(so ``rep_b`` and ``official_agri`` test object-level access; ``member`` is assigned to A, ``member_out`` to
nothing); the scoring and decision pages use file C, in committee evaluation with ``member`` assigned and
``member_out`` not; report accept/return use B's filed report. The routes that change a draft use **D**, A's
renewal draft (roster, documents), and every route of a file is called on D too (``Rule.draft``): nobody but
A's representative may learn that D exists, so everyone else gets 404 — as for an id that does not exist —
except where the role alone refuses before any file is read (403 whatever the id).

Expectations per actor: ``OK`` (authorization passed: for GET the answer is 200 unless the rule says
otherwise; for a change any status but 401/403/404), ``401``/``403``/``404`` (exactly that, and nothing
changed in the database), ``LOGIN`` (a page sends the anonymous visitor to /accesso?dopo=…), ``NOTICE``
(a page form answers 303 back to the page with an error notice, and nothing changed).

The rules are models/access.py's (its docstring says why):
- a file never submitted (a draft, or a draft withdrawn before submission) is read only by its district's
  representatives — not by the office, the committee, nor the administrator;
- the administrator reads every submitted file (all sections) but takes no step of the procedure;
- a committee member reads only the files assigned to them (403 otherwise, as outside one's competence),
  not the annual reports, and the other members' scores of a round once they have scored it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANON, REP_A, REP_B = "anon", "rep_a", "rep_b"
OFFICIAL, OFFICIAL_AGRI = "official", "official_agri"
MEMBER, MEMBER_OUT = "member", "member_out"
HEAD, ADMIN = "head", "admin"
ACTORS = (ANON, REP_A, REP_B, OFFICIAL, OFFICIAL_AGRI, MEMBER, MEMBER_OUT, HEAD, ADMIN)

OK, LOGIN, NOTICE = "ok", "login", "notice"
Expectation = str | int

USERS = frozenset(ACTORS) - {ANON}
REPS = frozenset({REP_A, REP_B})
# who sees district A's file (section 1): its representative, the ricerca office, the member assigned to it
SEES_A = frozenset({REP_A, OFFICIAL, MEMBER, HEAD, ADMIN})
OFFICE_READERS = frozenset({OFFICIAL, HEAD, ADMIN, MEMBER})  # of A's file, not its representative
OFFICE_PAGES = frozenset({OFFICIAL, OFFICIAL_AGRI, HEAD, ADMIN})  # api.pages.web.OFFICE_ROLES
LIFECYCLE_OFFICE = frozenset({OFFICIAL, HEAD})  # models.lifecycle.OFFICE
# get_current_application (models.access): outside one's competence or assignment, 403
OUTSIDE_A = {REP_B: 403, OFFICIAL_AGRI: 403, MEMBER_OUT: 403}


def api(ok: frozenset[str] | set[str], deny: int = 403, **other: Expectation) -> dict[str, Expectation]:
    """A JSON route: anonymous 401, ``ok`` allowed, the others ``deny`` unless named in ``other``."""
    table: dict[str, Expectation] = {a: OK if a in ok else deny for a in ACTORS}
    table[ANON] = 401
    table.update(other)
    return table


def page(ok: frozenset[str] | set[str], deny: int = 403, **other: Expectation) -> dict[str, Expectation]:
    """A page: the anonymous visitor goes to the login, ``ok`` allowed, the others ``deny``."""
    table = api(ok, deny, **other)
    table[ANON] = other.get(ANON, LOGIN)
    return table


def draft(owner: Expectation = OK, *, page: bool = False, **other: Expectation) -> dict[str, Expectation]:
    """A route of a file called on D, A's renewal draft: A's representative gets ``owner``, everyone else
    404 (D's existence is not revealed) unless named in ``other`` (a role refused before the file is read)."""
    table: dict[str, Expectation] = {a: 404 for a in ACTORS}
    table[ANON] = LOGIN if page else 401
    table[REP_A] = owner
    table.update(other)
    return table


DRAFT_PAGE = draft(page=True)
NOT_FOR_REPS = {REP_A: 403, REP_B: 403}  # pages of the office or the committee: the role decides first
ONLY_REPS = {a: 403 for a in (OFFICIAL, OFFICIAL_AGRI, MEMBER, MEMBER_OUT, HEAD, ADMIN)}  # the representative's pages
ONLY_MEMBERS = {a: 403 for a in (OFFICIAL, OFFICIAL_AGRI, HEAD, ADMIN, REP_B)}  # the scoring pages: members only
DRAFT_OF_REPS = draft(page=True, **ONLY_REPS)
# D in place of A's and C's files (and their documents) when a rule is called on the draft
DRAFT_PARAMS = {"app_a": "draft_d", "app_c": "draft_d", "act_pdf_a": "doc_d"}

PUBLIC: dict[str, Expectation] = {a: OK for a in ACTORS}

Body = Mapping[str, Any] | Callable[[Any], Mapping[str, Any]]  # a mapping, or built from the scene


@dataclass(frozen=True)
class Rule:
    expect: Mapping[str, Expectation]
    params: Mapping[str, str | int] = field(default_factory=dict)  # path parameter -> scene attribute or literal
    json: Body | None = None
    form: Body | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    state: str | None = None  # district A's application is put in this state for the route (and restored)
    draft: Mapping[str, Expectation] | None = None  # the route called on D, A's renewal draft (DRAFT_PARAMS)
    kind: str | None = None  # ... and of this kind (census, renewal)
    ok_statuses: frozenset[int] | None = None  # what "allowed" answers (default: 200 for GET, any but 401/403/404)
    ends_session: bool = False  # the actor logs in again afterwards


# routes that are not the application's: framework documentation and static files
SKIPPED = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("MOUNT", "/static"),
}

APP_A = {"application_id": "app_a"}
DRAFT_D = {"application_id": "draft_d"}
REPORT_BODY = {"activities": [{"title": "Missione a Hannover Messe", "programme_objective": "Export"}], "notes": "x"}
REASON = {"reason": "motivazione di prova"}
PDF = {"file": ("prova.pdf", b"%PDF-1.4 prova", "application/pdf")}
CSV = {"file": ("elenco.csv", b"non,un,elenco\n", "text/csv")}


def _action(ok: frozenset[str] | set[str], state: str, *, kind: str | None = None, **body: Any) -> Rule:
    """A lifecycle action on A's file in the state it applies to: the role is what decides. On D, A's
    draft, the action does not apply (409: the representative is past authorization), others get 404."""
    return Rule(api(ok, **OUTSIDE_A), APP_A, json=body or None, state=state, kind=kind, draft=draft())


def _draft_action(**body: Any) -> Rule:
    """A representative's action on D, A's renewal draft: A's representative only, 404 for everyone else."""
    return Rule(api(_REP_ACTION, 404), DRAFT_D, json=body or None)


_REP_ACTION = frozenset({REP_A})
_HEAD_ONLY = frozenset({HEAD})
_COMMITTEE_DECISION = frozenset({OFFICIAL, HEAD, MEMBER})  # the member must be assigned (member_out is not)
# reports answer 404 outside competence; the committee reads none (models.access.REPORT_READERS)
NO_REPORTS = {MEMBER: 404, MEMBER_OUT: 404}
_REPORT_REVIEW = api(LIFECYCLE_OFFICE, **{REP_A: 404, OFFICIAL_AGRI: 404}, **NO_REPORTS)  # B's: rep_b sees it, 403
_REPORT_OF_A = api(SEES_A, **{REP_B: 404, OFFICIAL_AGRI: 404}, **NO_REPORTS)

V1 = "/api/v1"
RULES: dict[tuple[str, str], Rule] = {
    # ---- access -------------------------------------------------------------------------------
    ("POST", f"{V1}/auth/token"): Rule(PUBLIC, form={}),  # empty form: 422, never a guard
    ("GET", f"{V1}/auth/me"): Rule(api(USERS)),
    ("POST", f"{V1}/auth/logout"): Rule(api(USERS), ends_session=True),
    ("POST", f"{V1}/auth/password"): Rule(api(USERS), json={}),
    # ---- users and districts ------------------------------------------------------------------
    ("POST", f"{V1}/users"): Rule(api({ADMIN}), json={}),
    ("GET", f"{V1}/users"): Rule(api({ADMIN})),
    ("POST", f"{V1}/districts"): Rule(
        api({ADMIN} | REPS),  # a representative creates their own (A and B already have one: 409)
        json=lambda scene: {"name": f"Distretto della matrice {scene.serial()}", "section": 1},
    ),
    ("GET", f"{V1}/districts"): Rule(api(USERS)),
    ("GET", f"{V1}/districts/{{district_id}}"): Rule(api(SEES_A, **OUTSIDE_A), {"district_id": "district_a"}),
    # ---- applications -------------------------------------------------------------------------
    ("POST", f"{V1}/applications"): Rule(api(REPS), json={"programme_summary": "Programma"}),
    ("PATCH", f"{V1}/applications/{{application_id}}"): Rule(api(_REP_ACTION, 404), DRAFT_D, json={}),
    ("GET", f"{V1}/applications"): Rule(api(USERS)),
    ("GET", f"{V1}/applications/{{application_id}}"): Rule(api(SEES_A, **OUTSIDE_A), APP_A, draft=draft()),
    ("GET", f"{V1}/applications/{{application_id}}/deadlines.ics"): Rule(
        api(SEES_A, **OUTSIDE_A), APP_A, draft=draft()
    ),
    ("GET", f"{V1}/actions/{{action_id}}"): Rule(api(SEES_A, **OUTSIDE_A), {"action_id": "action_a"}),
    ("PUT", f"{V1}/applications/{{application_id}}/roster"): Rule(
        api(_REP_ACTION, 404), DRAFT_D, json={"rows": [{"name": "Officina senza dati"}]}
    ),
    ("POST", f"{V1}/applications/{{application_id}}/roster/file"): Rule(api(_REP_ACTION, 404), DRAFT_D, files=CSV),
    ("GET", f"{V1}/applications/{{application_id}}/roster"): Rule(api(SEES_A, **OUTSIDE_A), APP_A, draft=draft()),
    ("POST", f"{V1}/applications/{{application_id}}/documents"): Rule(
        api(_REP_ACTION, 404), DRAFT_D, form={"kind": "receipt"}, files=PDF
    ),
    ("GET", f"{V1}/applications/{{application_id}}/documents"): Rule(api(SEES_A, **OUTSIDE_A), APP_A, draft=draft()),
    ("GET", f"{V1}/applications/{{application_id}}/documents/{{document_id}}/file"): Rule(
        api(SEES_A, **OUTSIDE_A), {**APP_A, "document_id": "act_pdf_a"}, draft=draft()
    ),
    # ---- lifecycle actions (state set so that only the role and the competence decide) ----------
    ("POST", f"{V1}/applications/{{application_id}}/actions/submit"): _draft_action(),
    ("POST", f"{V1}/applications/{{application_id}}/actions/answer_integration"): _action(
        _REP_ACTION, "integration_requested"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/withdraw"): _draft_action(**REASON),
    ("POST", f"{V1}/applications/{{application_id}}/actions/start_review"): _action(LIFECYCLE_OFFICE, "submitted"),
    ("POST", f"{V1}/applications/{{application_id}}/actions/declare_complete"): _action(
        LIFECYCLE_OFFICE, "completeness_check"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/request_integration"): _action(
        LIFECYCLE_OFFICE, "completeness_check", missing_items=["Patto di distretto firmato"], deadline_days=10
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/declare_inadmissible"): _action(
        LIFECYCLE_OFFICE, "completeness_check", **REASON
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/integration_lapsed"): _action(
        LIFECYCLE_OFFICE, "integration_requested"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/register"): _action(
        LIFECYCLE_OFFICE, "completeness_check", kind="census"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/refuse_registration"): _action(
        LIFECYCLE_OFFICE, "completeness_check", kind="census", **REASON
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/approve_renewal"): _action(
        LIFECYCLE_OFFICE, "completeness_check", kind="renewal"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/approve"): _action(
        _COMMITTEE_DECISION, "committee_evaluation"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/notify_rejection_intent"): _action(
        LIFECYCLE_OFFICE, "committee_evaluation", **REASON
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/submit_observations"): _action(
        _REP_ACTION, "rejection_notice", observations="osservazioni di prova"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/reject"): _action(_HEAD_ONLY, "rejection_notice", **REASON),
    ("POST", f"{V1}/applications/{{application_id}}/actions/issue_act"): _action(_HEAD_ONLY, "recognised"),
    ("POST", f"{V1}/applications/{{application_id}}/actions/notify_revocation_intent"): _action(
        _HEAD_ONLY, "active", **REASON
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/submit_revocation_observations"): _action(
        _REP_ACTION, "revocation_notice", observations="osservazioni di prova"
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/drop_revocation"): _action(
        _HEAD_ONLY, "revocation_notice", **REASON
    ),
    ("POST", f"{V1}/applications/{{application_id}}/actions/revoke"): _action(
        _HEAD_ONLY, "revocation_notice", **REASON
    ),
    # ---- committee ------------------------------------------------------------------------------
    ("POST", f"{V1}/applications/{{application_id}}/committee"): Rule(
        api(LIFECYCLE_OFFICE | {ADMIN}, **OUTSIDE_A),
        APP_A,
        json=lambda scene: {"member_ids": [scene.member_id]},  # already assigned: nothing new
        state="completeness_check",
        draft=draft(403),
    ),
    ("GET", f"{V1}/applications/{{application_id}}/committee"): Rule(
        api(OFFICE_READERS, **OUTSIDE_A), APP_A, draft=draft(403)
    ),
    ("POST", f"{V1}/applications/{{application_id}}/evaluations"): Rule(
        api({MEMBER}), {"application_id": "app_c"}, json={"scores": {}}, draft=draft(403)
    ),
    ("GET", f"{V1}/applications/{{application_id}}/evaluations"): Rule(
        api(OFFICE_READERS, **OUTSIDE_A), APP_A, draft=draft(403)
    ),
    # ---- public registry, monitoring ------------------------------------------------------------
    ("GET", f"{V1}/registry"): Rule(PUBLIC),
    ("GET", f"{V1}/stats/procedure-times"): Rule(api(OFFICE_PAGES)),
    # ---- notifications ----------------------------------------------------------------------------
    ("GET", f"{V1}/notifications"): Rule(api(OFFICE_PAGES | REPS)),
    ("GET", f"{V1}/applications/{{application_id}}/notifications"): Rule(
        api({REP_A, OFFICIAL, HEAD, ADMIN}, **OUTSIDE_A), APP_A, draft=draft()
    ),
    ("GET", f"{V1}/notifications/{{notification_id}}"): Rule(
        api({REP_A, OFFICIAL, HEAD, ADMIN}, **{REP_B: 404, OFFICIAL_AGRI: 404}), {"notification_id": "notice_a"}
    ),
    ("POST", f"{V1}/notifications/{{notification_id}}/retry"): Rule(
        api({OFFICIAL, HEAD, ADMIN}, **{OFFICIAL_AGRI: 404}), {"notification_id": "notice_a"}
    ),
    # ---- annual reports ---------------------------------------------------------------------------
    ("GET", f"{V1}/reports"): Rule(api(USERS)),
    ("GET", f"{V1}/reports/{{report_id}}"): Rule(_REPORT_OF_A, {"report_id": "report_a"}),
    ("PUT", f"{V1}/districts/{{district_id}}/reports/{{year}}"): Rule(
        api({REP_A}), {"district_id": "district_a", "year": "year"}, json=REPORT_BODY
    ),
    ("POST", f"{V1}/reports/{{report_id}}/files"): Rule(
        api({REP_A}, **{REP_B: 404, OFFICIAL_AGRI: 404}, **NO_REPORTS), {"report_id": "report_a"}, files=PDF
    ),
    ("GET", f"{V1}/reports/{{report_id}}/files/{{document_id}}"): Rule(
        _REPORT_OF_A, {"report_id": "report_a", "document_id": "attachment_a"}
    ),
    ("POST", f"{V1}/reports/{{report_id}}/actions/accept"): Rule(_REPORT_REVIEW, {"report_id": "report_b"}),
    ("POST", f"{V1}/reports/{{report_id}}/actions/return"): Rule(
        _REPORT_REVIEW, {"report_id": "report_b"}, json={"remarks": "Da completare"}
    ),
    # ---- public pages, login -----------------------------------------------------------------------
    ("GET", "/"): Rule(PUBLIC, ok_statuses=frozenset({307})),
    ("GET", "/registro"): Rule(PUBLIC),
    ("GET", "/registro/{district_id}"): Rule(PUBLIC, {"district_id": "district_a"}),
    ("GET", "/accesso"): Rule(PUBLIC, ok_statuses=frozenset({200, 303})),  # logged in: to the landing page
    # wrong credentials for everyone: 401 is the form again (the CSRF check passed, nobody is logged in)
    ("POST", "/accesso"): Rule(
        PUBLIC,
        form=lambda scene: {"username": f"nessuno{scene.serial()}", "password": "x"},
        ok_statuses=frozenset({401}),
    ),
    ("POST", "/uscita"): Rule(PUBLIC, ends_session=True),
    ("GET", "/profilo/password"): Rule(page(USERS)),
    ("POST", "/profilo/password"): Rule(page(USERS), form={}),  # empty: the form again with the reason
    # ---- office pages ------------------------------------------------------------------------------
    ("GET", "/ufficio"): Rule(page(OFFICE_PAGES)),
    ("GET", "/ufficio/pratiche"): Rule(page(OFFICE_PAGES)),
    ("GET", "/ufficio/statistiche"): Rule(page(OFFICE_PAGES)),
    ("GET", "/ufficio/relazioni"): Rule(page(OFFICE_PAGES)),
    ("GET", "/ufficio/relazioni/{report_id}"): Rule(
        page({OFFICIAL, HEAD, ADMIN}, **{OFFICIAL_AGRI: 404}), {"report_id": "report_a"}
    ),
    ("GET", "/ufficio/relazioni/{report_id}/allegati/{document_id}"): Rule(
        page({OFFICIAL, HEAD, ADMIN}, **{OFFICIAL_AGRI: 404}), {"report_id": "report_a", "document_id": "attachment_a"}
    ),
    ("POST", "/ufficio/relazioni/{report_id}/accetta"): Rule(
        page(LIFECYCLE_OFFICE, **{OFFICIAL_AGRI: 404, ADMIN: NOTICE}), {"report_id": "report_b"}
    ),
    ("POST", "/ufficio/relazioni/{report_id}/restituisci"): Rule(
        page(LIFECYCLE_OFFICE, **{OFFICIAL_AGRI: 404, ADMIN: NOTICE}),
        {"report_id": "report_b"},
        form={"remarks": "Da completare"},
    ),
    ("GET", "/ufficio/comunicazioni"): Rule(page(OFFICE_PAGES)),
    ("GET", "/ufficio/comunicazioni/{notification_id}"): Rule(
        page({OFFICIAL, HEAD, ADMIN}, **{OFFICIAL_AGRI: 404}), {"notification_id": "notice_a"}
    ),
    ("POST", "/ufficio/comunicazioni/{notification_id}/riprova"): Rule(
        page({OFFICIAL, HEAD, ADMIN}, **{OFFICIAL_AGRI: NOTICE}), {"notification_id": "notice_a"}
    ),
    # ---- the application page (any role that sees the file) --------------------------------------
    ("GET", "/pratiche/{application_id}"): Rule(page(SEES_A, **OUTSIDE_A), APP_A, draft=DRAFT_PAGE),
    # the role is checked by the JSON route behind the form: a refusal comes back as an error notice
    ("POST", "/pratiche/{application_id}/azioni/{event}"): Rule(
        page(LIFECYCLE_OFFICE, **OUTSIDE_A, **{REP_A: NOTICE, MEMBER: NOTICE, ADMIN: NOTICE}),
        {**APP_A, "event": "start_review"},
        state="submitted",
        draft=draft(NOTICE, page=True),
    ),
    ("GET", "/pratiche/{application_id}/scadenze.ics"): Rule(page(SEES_A, **OUTSIDE_A), APP_A, draft=DRAFT_PAGE),
    ("GET", "/pratiche/{application_id}/documenti/{document_id}"): Rule(
        page(SEES_A, **OUTSIDE_A), {**APP_A, "document_id": "act_pdf_a"}, draft=DRAFT_PAGE
    ),
    # ---- committee pages (file C: member assigned, member_out not) -----------------------------------
    ("GET", "/comitato"): Rule(page(OFFICE_PAGES | {MEMBER, MEMBER_OUT})),
    ("GET", "/comitato/pratiche/{application_id}/valutazione"): Rule(
        page({MEMBER}), {"application_id": "app_c"}, draft=draft(403, page=True, **ONLY_MEMBERS)
    ),
    ("POST", "/comitato/pratiche/{application_id}/valutazione"): Rule(
        page({MEMBER}), {"application_id": "app_c"}, form={}, draft=draft(403, page=True, **ONLY_MEMBERS)
    ),
    ("GET", "/comitato/pratiche/{application_id}/decisione"): Rule(
        page({MEMBER, OFFICIAL, HEAD, ADMIN}), {"application_id": "app_c"}, draft=draft(403, page=True, **NOT_FOR_REPS)
    ),
    # ---- the representative's pages -----------------------------------------------------------------
    ("GET", "/distretto"): Rule(page(REPS)),
    ("GET", "/distretto/domande/nuova"): Rule(page(REPS)),
    ("POST", "/distretto/domande/nuova"): Rule(page(REPS), form={}),
    ("POST", "/distretto/rinnovo"): Rule(page(REPS)),
    ("GET", "/distretto/modello-elenco-imprese.csv"): Rule(page(REPS)),
    ("GET", "/distretto/modello-elenco-imprese.xlsx"): Rule(page(REPS)),
    ("GET", "/distretto/relazioni/{year}"): Rule(page(REPS), {"year": "year"}),  # each their own district's
    ("POST", "/distretto/relazioni/{year}"): Rule(page(REPS), {"year": "year"}, form={}),
    ("POST", "/distretto/relazioni/{year}/allegati"): Rule(page(REPS), {"year": "year"}),
    ("GET", "/distretto/relazioni/{year}/allegati/{document_id}"): Rule(
        page({REP_A}, **{REP_B: 404}), {"year": "year", "document_id": "attachment_a"}
    ),
    # on D, A's draft: the other representative gets 404 (the role refuses everyone else first)
    ("GET", "/pratiche/{application_id}/modifica"): Rule(page({REP_A}), APP_A, draft=DRAFT_OF_REPS),
    ("POST", "/pratiche/{application_id}/modifica"): Rule(page({REP_A}, **{REP_B: 404}), DRAFT_D, form={}),
    ("GET", "/pratiche/{application_id}/elenco-imprese"): Rule(page({REP_A}), APP_A, draft=DRAFT_OF_REPS),
    ("POST", "/pratiche/{application_id}/elenco-imprese"): Rule(page({REP_A}, **{REP_B: 404}), DRAFT_D, form={}),
    ("GET", "/pratiche/{application_id}/documenti"): Rule(page({REP_A}), APP_A, draft=DRAFT_OF_REPS),
    ("POST", "/pratiche/{application_id}/documenti"): Rule(page({REP_A}, **{REP_B: 404}), DRAFT_D, form={}),
}
