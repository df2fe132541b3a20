"""The representative's pages: home (what is due), new and edited application, roster, documents, renewal.

Every change goes through the JSON API's route functions (``create_application``, ``update_application``,
``upload_roster``, ``upload_document``): the pages only turn a form into their arguments and their errors
into messages next to the fields. Lifecycle actions are posted to /pratiche/{id}/azioni/{event}.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api.calendar import deadlines
from api.deps import Context
from api.pages import district_reports, web
from api.pages.district_common import (
    FormErrors,
    RepCtx,
    doc_label,
    form_errors,
    message_error,
    own_application,
    own_district,
)
from api.pages.web import CsrfChecked
from api.read import application_read, application_reads, document_reads
from api.routers.applications import create_application, update_application
from api.routers.documents import UPLOAD_STATES, upload_document
from api.routers.registry import registry_entries
from api.routers.reports import list_reports
from api.routers.roster import ROSTER_STATES, read_roster, upload_roster
from api.schemas import ApplicationCreateIn, ApplicationRead
from models.application import Application, ApplicationUpdate
from models.applications import check_new_application
from models.base import local_date
from models.district import District
from models.enums import ApplicationKind, DocumentKind, Event, State
from models.errors import DomainError
from models.labels import KIND_LABELS
from models.lifecycle import ISSUED_DOCUMENTS, OPEN_STATES, UPLOADS_IN, GuardContext, before_expiry, eligible
from models.procedure import AuditEvent
from models.roster import FIELD_LABELS, FIELDS, ROSTER_COLUMNS, ROSTER_CSV_HEADER
from models.service import build_context

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
router.include_router(district_reports.router)

APPLICATION_LABELS = {
    "kind": "Tipo di domanda",
    "district_id": "Distretto",
    "renewal_of_id": "Domanda da rinnovare",
    "programme_summary": "Sintesi del Programma di Sviluppo",
    "specificity": "Specificità rispetto ai distretti già iscritti",
}
ROSTER_LABELS = {"file": "File dell'elenco"}
DOCUMENT_FORM_LABELS = {"kind": "Tipo di documento", "file": "File"}
ROSTER_EXAMPLES = {
    "name": "Officina Rossi s.r.l.",
    "tax_code": "11 cifre (società) o 16 caratteri (persone fisiche)",
    "vat_number": "11 cifre, con la cifra di controllo",
    "ateco": "25.62.00 (almeno la classe, es. 25.62)",
    "employees": "12 (numero intero)",
    "region": "Puglia, Emilia-Romagna… oppure Estero",
}
NEW_KINDS = (ApplicationKind.RECOGNITION, ApplicationKind.CENSUS)  # renewal: its own button on the home page
UPLOADABLE = [k for k in DocumentKind if k not in ISSUED_DOCUMENTS and k != DocumentKind.ANNUAL_REPORT]
ROSTER_SHOWN = 200  # rows listed on the roster page (the totals count them all)


# ---- home: the district, its registry entry, its applications, what is due ---------------------


@dataclass(frozen=True)
class Due:
    text: str
    href: str
    day: date | None = None
    days_left: int | None = None


@router.get("/distretto", response_class=HTMLResponse)
def home(request: Request, ctx: RepCtx) -> HTMLResponse:
    district = ctx.session.get(District, ctx.user.district_id) if ctx.user.district_id is not None else None
    if district is None:
        return web.page(request, "district/home.html.j2", district=None)
    return web.page(request, "district/home.html.j2", **_home(ctx, district))


def _home(ctx: Context, district: District) -> dict[str, Any]:
    section = ctx.profile.section(district.section)
    rows = ctx.session.exec(
        select(Application).where(Application.district_id == district.id).order_by(col(Application.id).desc())
    ).all()
    reads = application_reads(ctx.session, rows, user=ctx.user, profile=ctx.profile, now=ctx.now)
    entry = next(iter(registry_entries(ctx.session, ctx.profile, district_id=district.id)), None)
    reports = list_reports(ctx, year=None, state=None, section=None, overdue=None, page=1, page_size=200).items
    new_kind = ApplicationKind.CENSUS if section.census else ApplicationKind.RECOGNITION
    return {
        "district": district,
        "section": section,
        "entry": entry,
        "applications": reads,
        "kind_labels": KIND_LABELS,
        "reports": reports,
        "due": _due(ctx, rows),
        "new_kind": new_kind,
        "new_blocked": check_new(ctx, district, new_kind),
        "renewal": _renewal(ctx, district, rows, entry.valid_until if entry else None) if entry else None,
        "today": local_date(ctx.now),
    }


def check_new(ctx: Context, district: District, kind: ApplicationKind, renewal_of_id: int | None = None) -> str | None:
    """Why the API would refuse a new application of this kind now (None: it would accept it)."""
    try:
        check_new_application(
            ctx.session, district=district, kind=kind, renewal_of_id=renewal_of_id, profile=ctx.profile
        )
    except DomainError as exc:
        return exc.message
    return None


def _renewal(ctx: Context, district: District, rows: Any, valid_until: date | None) -> dict[str, Any] | None:
    if ctx.profile.section(district.section).census:
        return None
    active = next((a for a in rows if a.state == State.ACTIVE), None)
    reason = check_new(ctx, district, ApplicationKind.RENEWAL, active.id if active else None)
    if reason is None and valid_until is not None:
        facts = GuardContext(
            profile=ctx.profile, today=local_date(ctx.now), kind=ApplicationKind.RENEWAL,
            section=district.section, valid_until=valid_until,
        )  # fmt: skip
        reason = before_expiry(facts)
    return {"blocked": reason, "valid_until": valid_until, "reminders": ctx.profile.renewal_reminders_days}


def _due(ctx: Context, rows: Any) -> list[Due]:
    today = local_date(ctx.now)
    items = [
        Due(f"Completare e presentare la domanda n. {a.id} (bozza)", f"/pratiche/{a.id}/documenti")
        for a in rows
        if a.state == State.DRAFT
    ]
    for application in rows:
        if application.state not in OPEN_STATES and application.state != State.ACTIVE:
            continue
        for d in deadlines(ctx.session, application=application, profile=ctx.profile, today=today):
            text, href = _due_text(d.code, application.id)
            items.append(Due(text, href, d.day, (d.day - today).days))
    return sorted(items, key=lambda d: (d.day is not None, d.day or today))


def _due_text(code: str, app_id: int | None) -> tuple[str, str]:
    if code.startswith("report-"):
        year = code.removeprefix("report-")
        return f"Trasmettere la Relazione annuale {year}", f"/distretto/relazioni/{year}"
    return {
        "integration": (f"Inviare le integrazioni richieste (domanda n. {app_id})", f"/pratiche/{app_id}/documenti"),
        "observations": (
            f"Presentare le osservazioni al preavviso di rigetto (domanda n. {app_id})",
            f"/pratiche/{app_id}/documenti",
        ),
        "validity": ("Fine della validità del riconoscimento: chiedere il rinnovo prima di questa data", "#rinnovo"),
    }.get(code, (f"Conclusione del procedimento da parte della Regione (domanda n. {app_id})", f"/pratiche/{app_id}"))


# ---- new application, edit the draft, renewal ----------------------------------------------------


@router.get("/distretto/domande/nuova", response_class=HTMLResponse)
def new_page(request: Request, ctx: RepCtx) -> HTMLResponse:
    return _new_form(request, ctx, None, FormErrors())


@router.post("/distretto/domande/nuova", response_class=Response)
def new_submit(
    request: Request,
    ctx: RepCtx,
    kind: Annotated[str, Form()] = "",
    programme_summary: Annotated[str, Form()] = "",
    specificity: Annotated[str, Form()] = "",
) -> Response:
    values = {"kind": kind, "programme_summary": programme_summary, "specificity": specificity}
    try:
        created = create_application(ApplicationCreateIn.model_validate(values), ctx)
    except (DomainError, ValidationError) as exc:
        ctx.session.rollback()
        return _new_form(request, ctx, values, form_errors(exc, APPLICATION_LABELS))
    done = f"Bozza della domanda n. {created.id} creata: completare i dati, l'elenco delle imprese e i documenti."
    return web.redirect(f"/pratiche/{created.id}/modifica", done)


def _new_form(request: Request, ctx: Context, values: dict[str, str] | None, errors: FormErrors) -> HTMLResponse:
    district = own_district(ctx)
    section = ctx.profile.section(district.section)
    kind = ApplicationKind.CENSUS if section.census else ApplicationKind.RECOGNITION
    values = values or {"kind": kind.value, "programme_summary": "", "specificity": ""}
    return web.page(
        request, "district/application_form.html.j2", errors.status if errors else 200,
        district=district, section=section, app=None, editable=True, values=values, form=errors,
        errors=errors.summary, kinds=[(k, KIND_LABELS[k]) for k in NEW_KINDS],
        blocked=check_new(ctx, district, kind), action="/distretto/domande/nuova",
    )  # fmt: skip


@router.get("/pratiche/{application_id}/modifica", response_class=HTMLResponse)
def edit_page(request: Request, application_id: int, ctx: RepCtx) -> HTMLResponse:
    return _edit_form(request, ctx, own_application(ctx, application_id), None, FormErrors())


@router.post("/pratiche/{application_id}/modifica", response_class=Response)
def edit_submit(
    request: Request,
    application_id: int,
    ctx: RepCtx,
    programme_summary: Annotated[str, Form()] = "",
    specificity: Annotated[str, Form()] = "",
) -> Response:
    application = own_application(ctx, application_id)
    values = {"programme_summary": programme_summary, "specificity": specificity}
    try:
        update_application(ApplicationUpdate.model_validate(values), application, ctx)
    except (DomainError, ValidationError) as exc:
        ctx.session.rollback()
        return _edit_form(request, ctx, application, values, form_errors(exc, APPLICATION_LABELS))
    return web.redirect(f"/pratiche/{application_id}/modifica", "Dati della domanda salvati.")


def _edit_form(
    request: Request, ctx: Context, application: Application, values: dict[str, str] | None, errors: FormErrors
) -> HTMLResponse:
    read = _read(ctx, application)
    values = values or {"programme_summary": read.programme_summary, "specificity": read.specificity}
    district = ctx.session.get(District, application.district_id)
    return web.page(
        request, "district/application_form.html.j2", errors.status if errors else 200,
        district=district, section=ctx.profile.section(application.section), app=read, values=values, form=errors,
        errors=errors.summary, editable=application.state == State.DRAFT and application.pending_action_id is None,
        kinds=[], blocked=None, action=f"/pratiche/{application.id}/modifica", kind_labels=KIND_LABELS,
        current="modifica",
    )  # fmt: skip


@router.post("/distretto/rinnovo", response_class=Response)
def renewal(ctx: RepCtx) -> Response:
    district = own_district(ctx)
    active = ctx.session.exec(
        select(Application.id).where(Application.district_id == district.id, Application.state == State.ACTIVE)
    ).first()
    try:
        created = create_application(ApplicationCreateIn(kind=ApplicationKind.RENEWAL, renewal_of_id=active), ctx)
    except DomainError as exc:
        return web.redirect("/distretto", exc.message, error=True)
    done = (
        f"Domanda di rinnovo n. {created.id} creata: caricare l'elenco aggiornato delle imprese e il Programma "
        "di Sviluppo aggiornato, poi presentarla."
    )
    return web.redirect(f"/pratiche/{created.id}/modifica", done)


def _read(ctx: Context, application: Application) -> ApplicationRead:
    return application_read(ctx.session, application, user=ctx.user, profile=ctx.profile, now=ctx.now)


# ---- roster ------------------------------------------------------------------------------------


@router.get("/pratiche/{application_id}/elenco-imprese", response_class=HTMLResponse)
def roster_page(request: Request, application_id: int, ctx: RepCtx) -> HTMLResponse:
    return _roster_view(request, ctx, own_application(ctx, application_id), FormErrors())


@router.post("/pratiche/{application_id}/elenco-imprese", response_class=Response)
async def roster_submit(
    request: Request, application_id: int, ctx: RepCtx, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Async, as the API's ``upload_roster``: the file waits for its parse turn holding no thread."""
    application = await run_in_threadpool(own_application, ctx, application_id)
    if file is None or not file.filename:
        missing = message_error("selezionare il file CSV o XLSX da caricare", name="file", label=ROSTER_LABELS["file"])
        return await run_in_threadpool(_roster_view, request, ctx, application, missing)
    try:
        roster = await upload_roster(request, application, ctx, file)
    except DomainError as exc:
        await run_in_threadpool(ctx.session.rollback)
        return await run_in_threadpool(_roster_view, request, ctx, application, form_errors(exc, ROSTER_LABELS))
    done = f"Elenco delle imprese caricato: {roster.enterprises} imprese, {roster.employees} addetti."
    return web.redirect(f"/pratiche/{application_id}/elenco-imprese", done)


def _roster_view(request: Request, ctx: Context, application: Application, errors: FormErrors) -> HTMLResponse:
    section = ctx.profile.section(application.section)
    columns = [(column, FIELD_LABELS[f], ROSTER_EXAMPLES[f]) for column, f in zip(ROSTER_COLUMNS, FIELDS, strict=True)]
    return web.page(
        request, "district/roster.html.j2", errors.status if errors else 200,
        app=_read(ctx, application), roster=read_roster(application, ctx), shown=ROSTER_SHOWN, section=section,
        columns=columns, form=errors, errors=errors.summary, kind_labels=KIND_LABELS, current="elenco-imprese",
        editable=application.state in ROSTER_STATES and application.pending_action_id is None,
    )  # fmt: skip


@router.get("/distretto/modello-elenco-imprese.csv", response_class=Response)
def roster_template_csv(ctx: RepCtx) -> Response:
    body = ("\ufeff" + ROSTER_CSV_HEADER + "\r\n").encode("utf-8")  # BOM: Excel opens it as UTF-8
    headers = {"Content-Disposition": 'attachment; filename="modello-elenco-imprese.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/distretto/modello-elenco-imprese.xlsx", response_class=Response)
def roster_template_xlsx(ctx: RepCtx) -> Response:
    import openpyxl
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Imprese aderenti"
    sheet.append(list(ROSTER_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter in "BC":  # tax codes and VAT numbers as text: Excel would drop their leading zeros
        for cell in sheet[letter][1:1000]:
            cell.number_format = "@"
    out = BytesIO()
    workbook.save(out)
    headers = {"Content-Disposition": 'attachment; filename="modello-elenco-imprese.xlsx"'}
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(out.getvalue(), media_type=media, headers=headers)


# ---- documents, then submit / answer the integration request / observations ---------------------


@router.get("/pratiche/{application_id}/documenti", response_class=HTMLResponse)
def documents_page(request: Request, application_id: int, ctx: RepCtx) -> HTMLResponse:
    return _documents_view(request, ctx, own_application(ctx, application_id), None, FormErrors())


@router.post("/pratiche/{application_id}/documenti", response_class=Response)
def documents_submit(
    request: Request,
    application_id: int,
    ctx: RepCtx,
    kind: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    application = own_application(ctx, application_id)
    labels = DOCUMENT_FORM_LABELS
    if kind not in {k.value for k in UPLOADABLE}:
        return _documents_view(
            request,
            ctx,
            application,
            kind,
            message_error("selezionare il tipo di documento", 422, "kind", labels["kind"]),
        )
    if file is None or not file.filename:
        missing = message_error("selezionare il file da caricare", 422, "file", labels["file"])
        return _documents_view(request, ctx, application, kind, missing)
    try:
        document = upload_document(application, ctx, DocumentKind(kind), file)
    except DomainError as exc:
        ctx.session.rollback()
        return _documents_view(request, ctx, application, kind, form_errors(exc, labels))
    done = f"Documento caricato: {doc_label(document.kind)} ({document.filename})."
    return web.redirect(f"/pratiche/{application_id}/documenti", done)


def _documents_view(
    request: Request, ctx: Context, application: Application, kind: str | None, errors: FormErrors
) -> HTMLResponse:
    read = _read(ctx, application)
    documents = document_reads(ctx.session, application)
    present = {d.kind for d in documents}
    section = ctx.profile.section(application.section)
    required = [(k, doc_label(k), k in present) for k in section.required_documents]
    state = application.state
    eligibility = None
    if state == State.DRAFT:
        facts = build_context(ctx.session, application=application, profile=ctx.profile, now=ctx.now, payload={})
        eligibility = eligible(facts)
    missing_first = next((k for k, _, ok in required if not ok), DocumentKind.OTHER)
    default = missing_first if state == State.DRAFT else UPLOADS_IN.get(state, missing_first)
    return web.page(
        request, "district/documents.html.j2", errors.status if errors else 200,
        app=read, documents=documents, required=required, section=section, eligibility=eligibility,
        events={a.event.value for a in read.allowed_actions}, form=errors, errors=errors.summary,
        kinds=[(k.value, doc_label(k)) for k in UPLOADABLE], selected=kind or default.value,
        can_upload=state in UPLOAD_STATES and application.pending_action_id is None, kind_labels=KIND_LABELS,
        requested=_last_details(ctx, application, Event.REQUEST_INTEGRATION).get("missing_items") or [],
        notice_reason=_last_details(ctx, application, Event.NOTIFY_REJECTION_INTENT).get("reason") or "",
        current="documenti",
    )  # fmt: skip


def _last_details(ctx: Context, application: Application, event: Event) -> dict[str, Any]:
    """The payload of the latest such event (the items the official asked for, the notice's reasons)."""
    audit = ctx.session.exec(
        select(AuditEvent)
        .where(AuditEvent.application_id == application.id, AuditEvent.event == event)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    ).first()
    return dict(audit.details or {}) if audit is not None else {}
