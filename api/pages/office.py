"""The officials' pages (official, head, administrator), each within their office's sections:
the dashboard, the work list with its filters, and the statistics as inline SVG charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from api.pages import office_stats as stats
from api.pages import office_worklist as worklist
from api.pages.charts import PALETTE, Bar, Series, bar_chart, number, stacked_chart
from api.pages.web import OFFICE_ROLES, CsrfChecked, PageCtx, page, require_role
from api.routers import notifications
from api.routers.stats import read_procedure_times
from api.stats_schemas import FIGURE_LABELS, ProcedureTimesRead
from models.access import sections_of
from models.base import local_date
from models.labels import KIND_LABELS, STATE_LABELS

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked, Depends(require_role(*OFFICE_ROLES))])

TIMES_SERIES = [
    Series(FIGURE_LABELS["closed_within"], PALETTE[1]),
    Series(FIGURE_LABELS["closed_over"], PALETTE[2]),
    Series(FIGURE_LABELS["open_within"], PALETTE[0]),
    Series(FIGURE_LABELS["open_over"], PALETTE[3]),
]
REPORT_SERIES = [
    Series("Presentate nei termini", PALETTE[1]),
    Series("Presentate in ritardo", PALETTE[3]),
    Series("Non presentate, scadute", PALETTE[2]),
    Series("Non presentate, non ancora scadute", PALETTE[4]),
]


@router.get("/ufficio", response_class=HTMLResponse)
def dashboard(request: Request, ctx: PageCtx) -> HTMLResponse:
    return page(
        request, "office/dashboard.html.j2", stages=stats.state_counts(ctx, all_states=False),
        figures=stats.attention_figures(ctx), reports=stats.overdue_reports(ctx),
        reports_none=stats.reports_url(**stats.REPORTS_OVERDUE), competence=_competence(ctx),
        mails=notifications.attention(ctx),
    )  # fmt: skip


@router.get("/ufficio/pratiche", response_class=HTMLResponse)
def work_list(request: Request, ctx: PageCtx, query: Annotated[worklist.WorkListQuery, Query()]) -> HTMLResponse:
    work, page_no, errors = worklist.parse(query, ctx.profile)
    items, total = ([], 0) if errors else worklist.work_list(ctx, work, page_no)
    return page(
        request, "office/worklist.html.j2", 422 if errors else 200, errors=errors, work=work, items=items,
        total=total, page_no=page_no, pages=max(1, -(-total // worklist.PAGE_SIZE)),
        responsible=worklist.responsible_names(ctx, items), officials=worklist.officials(ctx),
        offices=worklist.visible_offices(ctx), sections=worklist.visible_sections(ctx),
        states=worklist.APPLICATION_STATES, state_labels=STATE_LABELS, kinds=KIND_LABELS,
        unassigned=worklist.UNASSIGNED, as_of=local_date(ctx.now),
    )  # fmt: skip


@router.get("/ufficio/statistiche", response_class=HTMLResponse)
def statistics(request: Request, ctx: PageCtx) -> HTMLResponse:
    stages, durations = stats.state_counts(ctx), stats.stage_times(ctx)
    times, reports = read_procedure_times(ctx, year=None, section=None, office=None), stats.report_years(ctx)
    return page(
        request, "office/statistics.html.j2", charts=_charts(stages, durations, times, reports), stages=stages,
        durations=durations, times=times, reports=reports, times_series=TIMES_SERIES, report_series=REPORT_SERIES,
        competence=_competence(ctx), overdue_reports={r.year: r.href for r in stats.overdue_reports(ctx)},
        number=number,
    )  # fmt: skip


def _charts(
    stages: list[stats.StateCount], durations: list[stats.StageTime], times: ProcedureTimesRead,
    reports: list[stats.ReportYear],
) -> dict[str, Markup]:  # fmt: skip
    return {
        "stages": bar_chart(
            "grafico-fasi", "Pratiche per fase", "Numero di pratiche in ciascuna fase del procedimento.",
            [Bar(s.label, s.count) for s in stages],
        ),
        "durations": bar_chart(
            "grafico-durate", "Giorni medi di permanenza per fase",
            "Media dei giorni trascorsi in ciascuna fase dalle pratiche che ne sono uscite.",
            [Bar(d.label, d.average_days, f"{number(d.average_days)} gg") for d in durations], PALETTE[4],
        ),
        "times": stacked_chart(
            "grafico-tempi", "Tempi dei procedimenti per anno",
            "Procedimenti per anno della data di protocollo: conclusi e aperti, nei termini e oltre il termine.",
            [(str(y.year), [y.closed_within, y.closed_over, y.open_within, y.open_over]) for y in times.by_year],
            TIMES_SERIES,
        ),
        "reports": stacked_chart(
            "grafico-relazioni", "Relazioni annuali per anno",
            "Relazioni annuali di ciascun anno: presentate nei termini, in ritardo, non presentate.",
            [(str(r.year), [r.on_time, r.late, r.overdue, r.waiting]) for r in reports], REPORT_SERIES,
        ),
    }  # fmt: skip


def _competence(ctx: PageCtx) -> str:
    """The sections this user sees, in words ("sezioni 1, 2, 3, 4 e 5")."""
    numbers = [str(n) for n in sections_of(ctx.user, ctx.profile)]
    if not numbers:
        return "nessuna sezione"
    if len(numbers) == 1:
        return f"sezione {numbers[0]}"
    return "sezioni " + ", ".join(numbers[:-1]) + " e " + numbers[-1]
