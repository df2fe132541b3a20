"""The representative's annual report (Relazione Annuale): a simple form over ``api.report_schemas.ReportIn``.

Activities and indicators are a few table rows; roster changes are text lines (one enterprise per line,
the roster's columns separated by «;»; one tax code per line for those leaving). Filing, attaching and
every check (year open, already filed, roster rules) are the JSON API's ``file_report`` / ``attach_file``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from api.deps import Context
from api.pages import web
from api.pages.district_common import FormErrors, RepCtx, form_errors, own_district
from api.pages.web import CsrfChecked
from api.report_schemas import ReportIn
from api.routers.reports import attach_file, download_file, file_report, report_of_year, report_read
from models.district import District
from models.enums import State
from models.errors import DomainError
from models.roster import FIELD_LABELS, FIELDS, ROSTER_CSV_HEADER
from models.text import digits
from notifications.rendering import exact_number

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])

ACTIVITY_INPUTS = {  # ActivityIn field → (form input, Italian label)
    "title": ("title", "attività svolta"),
    "programme_objective": ("objective", "obiettivo del Programma di Sviluppo"),
    "description": ("description", "descrizione"),
    "status": ("status", "stato"),
    "spending_eur": ("spending", "spesa sostenuta"),
}
KPI_INPUTS = {
    "code": ("code", "codice"),
    "label": ("label", "indicatore"),
    "value": ("value", "valore"),
    "target": ("target", "obiettivo"),
    "unit": ("unit", "unità di misura"),
}
ACTIVITY_STATUSES = [("completata", "Completata"), ("in_corso", "In corso"), ("non_avviata", "Non avviata")]
TOP_LABELS = {"activities": "Attività svolte", "kpis": "Indicatori", "notes": "Note", "roster_changes": "Variazioni"}
MIN_ROWS = 3
MAX_ROWS = 100


class ReportForm(BaseModel):
    """The form as posted: one list per column of the activity and indicator tables."""

    activity_title: list[str] = []
    activity_objective: list[str] = []
    activity_description: list[str] = []
    activity_status: list[str] = []
    activity_spending: list[str] = []
    kpi_code: list[str] = []
    kpi_label: list[str] = []
    kpi_value: list[str] = []
    kpi_target: list[str] = []
    kpi_unit: list[str] = []
    joined: str = ""
    left: str = ""
    notes: str = ""


def _table(form: ReportForm, prefix: str, inputs: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    columns = [getattr(form, f"{prefix}_{name}") for name, _ in inputs.values()]
    return [
        dict(zip([n for n, _ in inputs.values()], cells, strict=True)) for cells in zip_longest(*columns, fillvalue="")
    ]


def _number(text: str) -> str | None:
    """Italian or plain numbers as pydantic reads them: «42.000,50» and «42000.5» both work."""
    value = text.strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        return None
    if "," in value:
        value = value.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+", value):
        value = value.replace(".", "")
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:50] or "indicatore"


def _body(form: ReportForm) -> tuple[dict[str, Any], list[int], list[int]]:
    """ReportIn's JSON from the form, and the form row (1-based) of each activity and indicator sent."""
    activities, activity_rows = [], []
    for n, row in enumerate(_table(form, "activity", ACTIVITY_INPUTS), 1):
        if not any(row[k].strip() for k in ("title", "objective", "description", "spending")):
            continue
        activity_rows.append(n)
        activities.append({
            "title": row["title"].strip(), "programme_objective": row["objective"].strip(),
            "description": row["description"].strip(), "status": row["status"] or "completata",
            "spending_eur": _number(row["spending"]),
        })  # fmt: skip
    kpis, kpi_rows = [], []
    for n, row in enumerate(_table(form, "kpi", KPI_INPUTS), 1):
        if not any(v.strip() for v in row.values()):
            continue
        kpi_rows.append(n)
        kpis.append({
            "code": row["code"].strip() or _slug(row["label"]), "label": row["label"].strip(),
            "value": _number(row["value"]), "target": _number(row["target"]), "unit": row["unit"].strip(),
        })  # fmt: skip
    joined = [_enterprise(line) for line in form.joined.splitlines() if _is_enterprise(line)]
    left = [line.strip() for line in form.left.splitlines() if line.strip()]
    body = {
        "activities": activities,
        "kpis": kpis,
        "notes": form.notes,
        "roster_changes": {"joined": joined, "left": left},
    }
    return body, activity_rows, kpi_rows


def _is_enterprise(line: str) -> bool:
    return bool(line.strip()) and line.strip().lower().replace(" ", "") != ROSTER_CSV_HEADER


def _enterprise(line: str) -> dict[str, str | None]:
    cells = [cell.strip() for cell in re.split(r"[;\t]", line)]
    return {name: (cells[i] or None) if i < len(cells) else None for i, name in enumerate(FIELDS)}


def _labeller(activity_rows: list[int], kpi_rows: list[int]) -> Callable[[str], str]:
    def label(name: str) -> str:
        parts = name.split(".")
        if parts[0] in ("activities", "kpis") and len(parts) >= 2 and digits(parts[1]):
            rows, inputs, what = (
                (activity_rows, ACTIVITY_INPUTS, "Attività")
                if parts[0] == "activities"
                else (kpi_rows, KPI_INPUTS, "Indicatore")
            )
            row = rows[int(parts[1])] if int(parts[1]) < len(rows) else int(parts[1]) + 1
            field = inputs.get(parts[2], ("", parts[2]))[1] if len(parts) > 2 else ""
            return f"{what} della riga {row}" + (f", {field}" if field else "")
        return TOP_LABELS.get(parts[0], name)

    return label


def _invalid(errors: FormErrors, activity_rows: list[int], kpi_rows: list[int]) -> set[str]:
    """The ids of the inputs to mark aria-invalid."""
    ids = set()
    for name in errors.fields:
        parts = name.split(".")
        if len(parts) == 3 and digits(parts[1]):
            rows, inputs, prefix = (
                (activity_rows, ACTIVITY_INPUTS, "activity")
                if parts[0] == "activities"
                else (kpi_rows, KPI_INPUTS, "kpi")
            )
            if int(parts[1]) < len(rows) and parts[2] in inputs:
                ids.add(f"{prefix}_{inputs[parts[2]][0]}_{rows[int(parts[1])]}")
        elif parts[0] in ("notes", "activities"):
            ids.add(parts[0])
    return ids


# ---- the form's rows: blank, from a report's content (returned report) or as posted ------------


def _rows_from_content(content: dict[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> str:
        if value is None:
            return ""
        return exact_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)

    activities = [
        {ACTIVITY_INPUTS[k][0]: text(a.get(k)) for k in ACTIVITY_INPUTS} for a in content.get("activities") or []
    ]
    kpis = [{KPI_INPUTS[k][0]: text(i.get(k)) for k in KPI_INPUTS} for i in content.get("kpis") or []]
    changes = content.get("roster_changes") or {}
    joined = "\n".join(";".join(text(e.get(f)) for f in FIELDS) for e in changes.get("joined") or [])
    return {
        "activities": activities, "kpis": kpis, "joined": joined, "left": "\n".join(changes.get("left") or []),
        "notes": str(content.get("notes") or ""),
    }  # fmt: skip


def _rows_from_form(form: ReportForm) -> dict[str, Any]:
    return {
        "activities": _table(form, "activity", ACTIVITY_INPUTS), "kpis": _table(form, "kpi", KPI_INPUTS),
        "joined": form.joined, "left": form.left, "notes": form.notes,
    }  # fmt: skip


def _padded(rows: dict[str, Any], wanted: int = MIN_ROWS) -> dict[str, Any]:
    """At least ``wanted`` rows and one blank row more than those filled in (no scripts to add rows)."""
    blank_activity = {name: "" for name, _ in ACTIVITY_INPUTS.values()}
    blank_kpi = {name: "" for name, _ in KPI_INPUTS.values()}
    for key, blank in (("activities", blank_activity), ("kpis", blank_kpi)):
        filled = [i for i, r in enumerate(rows[key], 1) if any(v.strip() for k, v in r.items() if k != "status")]
        kept = rows[key][: filled[-1] if filled else 0]  # trailing blanks only: row numbers stay those posted
        rows[key] = kept + [dict(blank) for _ in range(max(wanted - len(kept), 1))]
    return rows


# ---- routes ------------------------------------------------------------------------------------


@router.get("/distretto/relazioni/{year}", response_class=HTMLResponse)
def report_page(request: Request, year: int, ctx: RepCtx, righe: int = 0) -> HTMLResponse:
    """``righe``: rows of the activity and indicator tables to offer (no scripts to add them)."""
    return _view(request, ctx, own_district(ctx), year, None, FormErrors(), set(), min(max(righe, MIN_ROWS), MAX_ROWS))


@router.post("/distretto/relazioni/{year}", response_class=Response)
def report_submit(request: Request, year: int, ctx: RepCtx, form: Annotated[ReportForm, Form()]) -> Response:
    district = own_district(ctx)
    body, activity_rows, kpi_rows = _body(form)
    try:
        file_report(district.id or 0, year, ReportIn.model_validate(body), ctx)
    except (DomainError, ValidationError) as exc:
        ctx.session.rollback()
        errors = form_errors(exc, _labeller(activity_rows, kpi_rows))
        invalid = _invalid(errors, activity_rows, kpi_rows)
        return _view(request, ctx, district, year, _rows_from_form(form), errors, invalid)
    return web.redirect(f"/distretto/relazioni/{year}", f"Relazione annuale {year} trasmessa all'ufficio regionale.")


@router.post("/distretto/relazioni/{year}/allegati", response_class=Response)
def report_attach(year: int, ctx: RepCtx, file: Annotated[UploadFile | None, File()] = None) -> Response:
    district = own_district(ctx)
    back = f"/distretto/relazioni/{year}"
    if file is None or not file.filename:
        return web.redirect(back, "Allegato: selezionare il file da allegare.", error=True)
    try:
        read = attach_file(report_of_year(ctx, district.id or 0, year), ctx, file)
    except DomainError as exc:
        ctx.session.rollback()
        return web.redirect(back, f"Allegato non aggiunto: {exc.message}.", error=True)
    return web.redirect(back, f"Allegato «{read.files[-1].filename}» aggiunto alla relazione {year}.")


@router.get("/distretto/relazioni/{year}/allegati/{document_id}", response_class=FileResponse)
def report_file(year: int, document_id: int, ctx: RepCtx) -> FileResponse:
    return download_file(report_of_year(ctx, own_district(ctx).id or 0, year), document_id, ctx)


def _view(
    request: Request,
    ctx: Context,
    district: District,
    year: int,
    rows: dict[str, Any] | None,
    errors: FormErrors,
    invalid: set[str],
    wanted: int = MIN_ROWS,
) -> HTMLResponse:
    common = {"district": district, "year": year, "form": errors, "errors": errors.summary, "invalid": invalid}
    try:
        report = report_of_year(ctx, district.id or 0, year)
    except DomainError as exc:  # 409: the year is not open yet, or the district was not registered then
        return web.page(request, "district/report.html.j2", exc.status_code, report=None, refusal=exc.message, **common)
    read = report_read(ctx, report)
    status = errors.status if errors else 200
    return web.page(
        request, "district/report.html.j2", status, report=read, refusal=None, open=read.state == State.REPORT_OPEN,
        rows=_padded(rows if rows is not None else _rows_from_content(read.content), wanted),
        statuses=ACTIVITY_STATUSES, roster_header=ROSTER_CSV_HEADER, field_labels=FIELD_LABELS, fields=FIELDS, **common,
    )  # fmt: skip
