"""The Relazione Annuale: the representative files it (with attached files), the official reviews it.

Report events are applied here through ``models.service.apply_event`` directly (one short
transaction): unlike an application's stage they start no document, protocol or committee work,
so there is no stage flow to hand them to. The report cycle sweep opens and reminds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import and_, not_
from sqlmodel import col, func, select

from api.deps import Ctx
from api.report_schemas import RemarksIn, ReportFile, ReportIn, ReportRead
from api.routers.documents import stored_document, stored_path
from api.schemas import Page
from api.uploads import REPORT_TYPES
from models.access import can_see_reports, report_filter
from models.application import Application, Document
from models.base import local_date
from models.district import District, MemberEnterprise
from models.enums import DocumentKind, Event, Role, State
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.labels import STATE_LABELS
from models.registry import AnnualReport, RegistryEntry
from models.reminders import report_year_window
from models.roster import validate_rows
from notifications.outbox import apply_and_notify

router = APIRouter(tags=["Relazione annuale"])


def get_report(report_id: int, ctx: Ctx) -> AnnualReport:
    """404 for a report that does not exist or that the user may not see (existence is not revealed)."""
    report = ctx.session.get(AnnualReport, report_id)
    application = ctx.session.get(Application, report.application_id) if report else None
    if report is None or application is None or not can_see_reports(ctx.session, ctx.user, application, ctx.profile):
        raise NotFound(f"relazione {report_id} non trovata")
    return report


CurrentReport = Annotated[AnnualReport, Depends(get_report)]


@router.get("/reports", response_model=Page[ReportRead], summary="Relazioni annuali (filtri per anno, stato, sezione)")
def list_reports(
    ctx: Ctx,
    year: int | None = None,
    state: Annotated[State | None, Query(description="report_open, report_filed, report_accepted")] = None,
    section: int | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ReportRead]:
    query = select(AnnualReport).join(Application, col(Application.id) == col(AnnualReport.application_id))
    query = query.where(report_filter(ctx.user, ctx.profile))
    if year is not None:
        query = query.where(AnnualReport.year == year)
    if state is not None:
        query = query.where(AnnualReport.state == state)
    if section is not None:
        query = query.where(Application.section == section)
    if overdue is not None:
        late = and_(col(AnnualReport.state) == State.REPORT_OPEN, col(AnnualReport.due_on) < local_date(ctx.now))
        query = query.where(late if overdue else not_(late))
    total = ctx.session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = ctx.session.exec(
        query.order_by(col(AnnualReport.year).desc(), col(AnnualReport.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(items=[report_read(ctx, r) for r in rows], total=total, page=page, page_size=page_size)


@router.get("/reports/{report_id}", response_model=ReportRead, summary="Una relazione annuale")
def read_report(report: CurrentReport, ctx: Ctx) -> ReportRead:
    return report_read(ctx, report)


@router.put(
    "/districts/{district_id}/reports/{year}", response_model=ReportRead, summary="Trasmetti la relazione annuale"
)
def file_report(district_id: int, year: int, body: ReportIn, ctx: Ctx) -> ReportRead:
    if ctx.user.role != Role.REPRESENTATIVE or ctx.user.district_id != district_id:
        raise Forbidden("solo il rappresentante del distretto può trasmettere la sua relazione annuale")
    report = report_of_year(ctx, district_id, year)
    if report.state != State.REPORT_OPEN:
        raise Conflict(
            f"la relazione per l'anno {year} è già stata trasmessa ({STATE_LABELS[report.state]})",
            state=report.state,
        )
    _check_roster_changes(ctx, report, body)
    application = ctx.session.get(Application, report.application_id)
    assert application is not None
    apply_and_notify(
        ctx.session,
        application=application,
        event=Event.FILE_REPORT,
        actor=ctx.user,
        profile=ctx.profile,
        now=ctx.now,
        payload={"content": body.model_dump(mode="json")},
        report=report,
    )
    return report_read(ctx, report)


@router.post("/reports/{report_id}/files", status_code=201, response_model=ReportRead, summary="Allega un file")
def attach_file(
    report: CurrentReport,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="Allegato della relazione: PDF, PDF firmato (.p7m), XLSX o CSV")],
) -> ReportRead:
    application = ctx.session.get(Application, report.application_id)
    if ctx.user.role != Role.REPRESENTATIVE or application is None or ctx.user.district_id != application.district_id:
        raise Forbidden("solo il rappresentante del distretto può allegare file alla relazione")
    if report.state != State.REPORT_OPEN:
        raise Conflict("la relazione è già stata trasmessa: non si possono aggiungere allegati", state=report.state)
    stored_document(
        ctx,
        file,
        application_id=report.application_id,
        kind=DocumentKind.ANNUAL_REPORT,
        annual_report_id=report.id,
        accepted=REPORT_TYPES,
    )
    ctx.session.commit()
    return report_read(ctx, report)


@router.get("/reports/{report_id}/files/{document_id}", response_class=FileResponse, summary="Scarica un allegato")
def download_file(report: CurrentReport, document_id: int, ctx: Ctx) -> FileResponse:
    document = ctx.session.get(Document, document_id)
    if document is None or document.annual_report_id != report.id or not stored_path(document.sha256).is_file():
        raise NotFound(f"allegato {document_id} non trovato")
    return FileResponse(stored_path(document.sha256), media_type=document.content_type, filename=document.filename)


@router.post("/reports/{report_id}/actions/accept", response_model=ReportRead, summary="Accetta la relazione")
def accept_report(report: CurrentReport, ctx: Ctx) -> ReportRead:
    return _review(ctx, report, Event.ACCEPT_REPORT, {})


@router.post("/reports/{report_id}/actions/return", response_model=ReportRead, summary="Restituisci con osservazioni")
def return_report(report: CurrentReport, body: RemarksIn, ctx: Ctx) -> ReportRead:
    return _review(ctx, report, Event.RETURN_REPORT, {"remarks": body.remarks})


def _review(ctx: Ctx, report: AnnualReport, event: Event, payload: dict[str, str]) -> ReportRead:
    application = ctx.session.get(Application, report.application_id)
    assert application is not None
    apply_and_notify(
        ctx.session,
        application=application,
        event=event,
        actor=ctx.user,
        profile=ctx.profile,
        now=ctx.now,
        payload=payload,
        report=report,
    )
    return report_read(ctx, report)


def report_of_year(ctx: Ctx, district_id: int, year: int) -> AnnualReport:
    entry = ctx.session.exec(select(RegistryEntry).where(RegistryEntry.district_id == district_id)).first()
    if entry is None:
        raise Conflict("il distretto non è iscritto nel registro: non ha relazioni annuali da trasmettere")
    report = ctx.session.exec(
        select(AnnualReport).where(AnnualReport.registry_entry_id == entry.id, AnnualReport.year == year)
    ).first()
    if report is not None:
        return report
    window = report_year_window(ctx.profile.report, local_date(ctx.now))
    open_year = window[0] if window else local_date(ctx.now).year - 2
    if year > open_year:
        month, day = ctx.profile.report.opens.split("-")
        raise Conflict(
            f"la relazione per l'anno {year} non è ancora aperta: la raccolta si apre il {day}/{month}/{year + 1}",
            year=year,
        )
    raise Conflict(f"nessuna relazione da trasmettere per l'anno {year}: il distretto non era iscritto", year=year)


def _check_roster_changes(ctx: Ctx, report: AnnualReport, body: ReportIn) -> None:
    """Entering enterprises are checked like the roster (each bad row named); leaving ones must be members."""
    joined = validate_rows(body.roster_changes.joined) if body.roster_changes.joined else None
    errors = [
        {"row_no": e.row_no, "field": f"roster_changes.joined.{e.field}", "value": e.value, "message": e.message}
        for e in (joined.errors if joined else [])
    ]
    members = set(
        ctx.session.exec(
            select(MemberEnterprise.tax_code).where(MemberEnterprise.application_id == report.application_id)
        )
    )
    for n, code in enumerate(body.roster_changes.left, 1):
        if code.strip().upper() not in members:
            message = "il codice fiscale non è fra le imprese aderenti"
            errors.append({"row_no": n, "field": "roster_changes.left", "value": code[:40], "message": message})
    if errors:
        raise InvalidInput(
            f"variazioni dell'elenco non valide ({len(errors)} errori): nulla è stato registrato", errors=errors
        )


def report_read(ctx: Ctx, report: AnnualReport) -> ReportRead:
    application = ctx.session.get(Application, report.application_id)
    assert application is not None and report.id is not None
    district = ctx.session.get(District, application.district_id)
    files = ctx.session.exec(
        select(Document).where(Document.annual_report_id == report.id).order_by(col(Document.id))
    ).all()
    return ReportRead(
        id=report.id,
        district_id=application.district_id,
        district_name=district.name if district else "",
        application_id=application.id or 0,
        section=application.section,
        year=report.year,
        state=report.state,
        state_label=STATE_LABELS[report.state],
        opened_on=report.opened_on,
        due_on=report.due_on,
        overdue=report.state == State.REPORT_OPEN and local_date(ctx.now) > report.due_on,
        filed_at=report.filed_at,
        reviewed_at=report.reviewed_at,
        remarks=report.remarks,
        content=report.content,
        files=[ReportFile(document_id=d.id or 0, filename=d.filename, sha256=d.sha256, size=d.size) for d in files],
    )
