"""The office's pages on annual reports and on the outbox (officials, heads, the administrator).

Each page reads and changes through the JSON routes of ``api.routers.reports`` and
``api.routers.notifications`` called as functions, so competence (the office's sections) and the
rules are the API's own; this module only parses the query strings and lays the results out.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, and_, case
from sqlalchemy import select as select_columns
from sqlmodel import col, func, select

from api.deps import Context
from api.notification_schemas import KIND_LABELS
from api.pages.web import CsrfChecked, PageCtx, attempt, page, require_role
from api.report_schemas import RemarksIn
from api.routers import notifications, reports
from models.access import sections_of
from models.application import Application
from models.base import local_date
from models.enums import Event, NotificationStatus, Role, State
from models.errors import InvalidInput
from models.labels import STATE_LABELS
from models.lifecycle import allowed_events
from models.registry import AnnualReport
from models.text import digits, visible
from notifications.rendering import euro, number

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])

OFFICE = Depends(require_role(Role.OFFICIAL, Role.HEAD, Role.ADMIN))
PAGE_SIZE = 25
REPORT_STATES = (State.REPORT_OPEN, State.REPORT_FILED, State.REPORT_ACCEPTED)
STATUS_LABELS = {
    NotificationStatus.QUEUED: "in coda",
    NotificationStatus.SENDING: "in invio",
    NotificationStatus.SENT: "inviata",
    NotificationStatus.FAILED: "non recapitata",
    NotificationStatus.UNCERTAIN: "esito incerto (verificare le ricevute)",
}
ACTIVITY_STATUS = {"completata": "completata", "in_corso": "in corso", "non_avviata": "non avviata"}


# ---- query strings -----------------------------------------------------------------------------


def _number(raw: str, what: str, errors: list[str], low: int = 1, high: int = 100000) -> int | None:
    """An integer from the query string; a bad one is a clear error, an empty one means «any»."""
    text = raw.strip()
    if not text:
        return None
    if digits(text) and low <= int(text) <= high:
        return int(text)
    errors.append(f"{what} «{text[:20]}» non valido")
    return None


def _day(raw: str, what: str, errors: list[str]) -> date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"{what}: data non valida «{text[:20]}» (formato AAAA-MM-GG)")
        return None


def _pager(base: str, params: dict[str, Any], page_no: int, total: int) -> dict[str, Any]:
    """Links to the previous and next page, keeping the filters."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    pages = max(1, -(-total // PAGE_SIZE))

    def url(n: int) -> str:
        return f"{base}?{urlencode({**kept, 'pagina': n})}"

    return {
        "page": page_no,
        "pages": pages,
        "total": total,
        "previous": url(page_no - 1) if page_no > 1 else None,
        "next": url(page_no + 1) if page_no < pages else None,
    }


# ---- annual reports: the board -------------------------------------------------------------------


def _years(ctx: Context) -> list[int]:
    query = (
        select(AnnualReport.year)
        .join(Application, col(Application.id) == col(AnnualReport.application_id))
        .where(col(Application.section).in_(sections_of(ctx.user, ctx.profile)))
        .distinct()
    )
    return sorted(ctx.session.exec(query).all(), reverse=True)


def _board(ctx: Context, year: int) -> list[dict[str, Any]]:
    """Per section of the office: reports expected, filed (awaiting review), overdue, accepted."""
    today = local_date(ctx.now)
    mine = sections_of(ctx.user, ctx.profile)

    def counted(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0)).cast(Integer)

    rows = ctx.session.execute(
        select_columns(
            col(Application.section),
            func.count(col(AnnualReport.id)),
            counted(col(AnnualReport.state) == State.REPORT_FILED),
            counted(and_(col(AnnualReport.state) == State.REPORT_OPEN, col(AnnualReport.due_on) < today)),
            counted(col(AnnualReport.state) == State.REPORT_ACCEPTED),
        )
        .join(Application, col(Application.id) == col(AnnualReport.application_id))
        .where(col(AnnualReport.year) == year, col(Application.section).in_(mine))
        .group_by(col(Application.section))
    ).all()
    counts = {section: (int(n), int(f or 0), int(o or 0), int(a or 0)) for section, n, f, o, a in rows}
    board = []
    for section in ctx.profile.sections:
        if section.number not in mine or (section.census and section.number not in counts):
            continue
        expected, filed, overdue, accepted = counts.get(section.number, (0, 0, 0, 0))
        board.append(
            {"section": section.number, "name": section.name, "expected": expected, "filed": filed,
             "overdue": overdue, "accepted": accepted}
        )  # fmt: skip
    return board


class ReportsQuery(BaseModel):
    """The reports board's filters as they come (FastAPI query model); ``reports_board`` names every bad value."""

    model_config = ConfigDict(extra="ignore")
    anno: str = Field(default="", max_length=100)
    stato: str = Field(default="", max_length=100)
    sezione: str = Field(default="", max_length=100)
    scaduti: str = Field(default="", max_length=100)
    pagina: str = Field(default="", max_length=100)


@router.get("/ufficio/relazioni", response_class=HTMLResponse, dependencies=[OFFICE])
def reports_board(request: Request, ctx: PageCtx, query: Annotated[ReportsQuery, Query()]) -> HTMLResponse:
    anno, stato, sezione, scaduti, pagina = query.anno, query.stato, query.sezione, query.scaduti, query.pagina
    errors: list[str] = []
    years = _years(ctx)
    year = _number(anno, "anno", errors, 1900, 9999)
    if year is None:
        year = years[0] if years else local_date(ctx.now).year - 1
    state = next((s for s in REPORT_STATES if s.value == stato), None)
    if stato and state is None:
        errors.append(f"stato «{stato[:20]}» sconosciuto")
    section = _number(sezione, "sezione", errors, 1, 99)
    if section is not None and not ctx.profile.has_section(section):
        errors.append(f"sezione «{section}» inesistente")
    overdue = True if scaduti == "1" else None
    page_no = _number(pagina, "pagina", errors) or 1
    listing = None
    if not errors:
        listing = reports.list_reports(ctx, year, state, section, overdue, page_no, PAGE_SIZE)
    params = {"anno": year, "stato": stato, "sezione": section, "scaduti": "1" if overdue else ""}
    return page(
        request, "reports/board.html.j2", 422 if errors else 200, errors=errors,
        year=year, years=sorted(set(years) | {year}, reverse=True), board=_board(ctx, year),
        state=state, section=section, overdue=bool(overdue), listing=listing,
        states=[(s.value, STATE_LABELS[s]) for s in REPORT_STATES], sections=_sections(ctx),
        pager=_pager("/ufficio/relazioni", params, page_no, listing.total if listing else 0),
    )  # fmt: skip


def _sections(ctx: Context) -> list[tuple[int, str]]:
    mine = set(sections_of(ctx.user, ctx.profile))
    return [(s.number, s.name) for s in ctx.profile.sections if s.number in mine]


# ---- annual reports: one report --------------------------------------------------------------------


def _content(content: dict[str, Any]) -> dict[str, Any]:
    """The filed content with every part present (an open report has none)."""
    changes = content.get("roster_changes") or {}
    return {
        "activities": content.get("activities") or [],
        "joined": changes.get("joined") or [],
        "left": changes.get("left") or [],
        "kpis": content.get("kpis") or [],
        "notes": content.get("notes") or "",
    }


@router.get("/ufficio/relazioni/{report_id}", response_class=HTMLResponse, dependencies=[OFFICE])
def report_review(request: Request, report_id: int, ctx: PageCtx) -> HTMLResponse:
    stored = reports.get_report(report_id, ctx)
    report = reports.read_report(stored, ctx)
    events = allowed_events(stored.state, None, ctx.user.role)
    late = report.filed_at is not None and local_date(report.filed_at) > report.due_on
    return page(
        request, "reports/review.html.j2", report=report, content=_content(report.content), late=late,
        can_accept=Event.ACCEPT_REPORT in events, can_return=Event.RETURN_REPORT in events,
        section_name=ctx.profile.section(report.section).name if ctx.profile.has_section(report.section) else "",
        activity_status=ACTIVITY_STATUS, euro=euro, number=number,
    )  # fmt: skip


@router.get("/ufficio/relazioni/{report_id}/allegati/{document_id}", dependencies=[OFFICE])
def report_file(report_id: int, document_id: int, ctx: PageCtx) -> FileResponse:
    return reports.download_file(reports.get_report(report_id, ctx), document_id, ctx)


@router.post("/ufficio/relazioni/{report_id}/accetta", dependencies=[OFFICE])
def accept(report_id: int, ctx: PageCtx) -> Response:
    report = reports.get_report(report_id, ctx)
    back = f"/ufficio/relazioni/{report_id}"
    return attempt(back, lambda: reports.accept_report(report, ctx), "Relazione accettata.")


@router.post("/ufficio/relazioni/{report_id}/restituisci", dependencies=[OFFICE])
def give_back(report_id: int, ctx: PageCtx, remarks: Annotated[str, Form(max_length=10000)] = "") -> Response:
    report = reports.get_report(report_id, ctx)
    back = f"/ufficio/relazioni/{report_id}"
    return attempt(
        back,
        lambda: reports.return_report(report, RemarksIn(remarks=remarks.strip()), ctx),
        "Relazione restituita al distretto con le osservazioni.",
        {"remarks": "Osservazioni"},
    )


# ---- the outbox ------------------------------------------------------------------------------------


class OutboxQuery(BaseModel):
    """The outbox page's filters as they come (FastAPI query model); ``outbox`` names every bad value."""

    model_config = ConfigDict(extra="ignore")
    stato: str = Field(default="", max_length=100)
    tipo: str = Field(default="", max_length=100)
    destinatario: str = Field(default="", max_length=300)
    dal: str = Field(default="", max_length=100)
    al: str = Field(default="", max_length=100)
    pagina: str = Field(default="", max_length=100)


@router.get("/ufficio/comunicazioni", response_class=HTMLResponse, dependencies=[OFFICE])
def outbox(request: Request, ctx: PageCtx, query: Annotated[OutboxQuery, Query()]) -> HTMLResponse:
    stato, tipo, destinatario, dal, al, pagina = (
        query.stato,
        query.tipo,
        query.destinatario,
        query.dal,
        query.al,
        query.pagina,
    )
    errors: list[str] = []
    status = next((s for s in NotificationStatus if s.value == stato), None)
    if stato and status is None:
        errors.append(f"stato «{stato[:20]}» sconosciuto")
    if tipo and tipo not in KIND_LABELS:
        errors.append(f"tipo «{tipo[:40]}» sconosciuto")
    recipient = destinatario.strip()[:254]
    first, last = _day(dal, "dal", errors), _day(al, "al", errors)
    page_no = _number(pagina, "pagina", errors) or 1
    listing = None
    if not errors:
        try:
            conditions = notifications.filters(status, tipo or None, recipient or None, first, last)
            listing = notifications.list_notifications(ctx, conditions, None, page_no, PAGE_SIZE)
        except InvalidInput as exc:
            errors.append(exc.message)
    params = {"stato": stato, "tipo": tipo, "destinatario": recipient, "dal": dal.strip(), "al": al.strip()}
    return page(
        request, "reports/outbox.html.j2", 422 if errors else 200, errors=errors, listing=listing,
        filters=params, status_labels=STATUS_LABELS, kinds=sorted(KIND_LABELS.items(), key=lambda kv: kv[1]),
        pager=_pager("/ufficio/comunicazioni", params, page_no, listing.total if listing else 0),
        attention=notifications.attention(ctx), visible=visible,
        back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )  # fmt: skip


@router.get("/ufficio/comunicazioni/{notification_id}", response_class=HTMLResponse, dependencies=[OFFICE])
def message(request: Request, notification_id: int, ctx: PageCtx) -> HTMLResponse:
    detail = notifications.read_notification(notification_id, ctx)
    return page(
        request, "reports/message.html.j2", message=detail, status_labels=STATUS_LABELS, visible=visible,
        back=f"/ufficio/comunicazioni/{notification_id}",
    )  # fmt: skip


@router.post("/ufficio/comunicazioni/{notification_id}/riprova", dependencies=[OFFICE])
def retry(notification_id: int, ctx: PageCtx, dopo: Annotated[str, Form(max_length=2000)] = "") -> Response:
    back = dopo if dopo.startswith("/ufficio/comunicazioni") and "//" not in dopo else "/ufficio/comunicazioni"
    return attempt(
        back,
        lambda: notifications.retry_notification(notification_id, ctx),
        f"Comunicazione {notification_id} rimessa in coda: sarà inviata al prossimo giro di consegna.",
    )
