"""Figures of the office pages: the dashboard's counts and the statistics (each within the user's
competence, ``models.access.sections_of``, as the JSON API limits them).

The dashboard's special figures are counted with the work list's own filters
(``office_worklist.count``), so a figure and the list it links to never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import col, select

from api.deps import Context
from api.pages.office_worklist import APPLICATION_STATES, WorkFilter, count, term_warning_days, validity_warning_days
from models.access import sections_of, visible_filter
from models.application import Application
from models.base import local_date
from models.enums import State, Subject
from models.labels import STATE_LABELS
from models.procedure import AuditEvent
from models.registry import AnnualReport

REPORTS_URL = "/ufficio/relazioni"
# the report board's filter for reports not filed by the due date (api.pages.reports_pages)
REPORTS_OVERDUE = {"stato": State.REPORT_OPEN.value, "scaduti": "1"}
FILED = (State.REPORT_FILED, State.REPORT_ACCEPTED)


@dataclass(frozen=True)
class StateCount:
    state: State
    label: str
    count: int
    href: str


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    href: str
    note: str
    warn: bool


@dataclass(frozen=True)
class YearLink:
    year: int
    count: int
    href: str


def reports_url(**params: object) -> str:
    return f"{REPORTS_URL}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def state_counts(ctx: Context, *, all_states: bool = False) -> list[StateCount]:
    """Applications per state (lifecycle order); the states with none are left out unless ``all_states``."""
    counted = dict(
        ctx.session.exec(
            select(Application.state, func.count(col(Application.id)))
            .where(visible_filter(ctx.user, ctx.profile))
            .group_by(col(Application.state))
        ).all()
    )
    return [
        StateCount(state, STATE_LABELS[state], int(counted.get(state, 0)), WorkFilter(state=state).url())
        for state in APPLICATION_STATES
        if all_states or counted.get(state)
    ]


def attention_figures(ctx: Context) -> list[Figure]:
    """What needs the office now; each figure counted with the filter of the list it links to."""
    term_days, validity_days = term_warning_days(ctx.profile), validity_warning_days(ctx.profile)
    cases = [
        (WorkFilter(term_lapsing=True), "Termini in scadenza",
         f"procedimenti il cui termine scade entro {term_days} giorni"),
        (WorkFilter(overdue=True), "Termini scaduti", "procedimenti aperti oltre il termine"),
        (WorkFilter(integration_lapsed=True), "Integrazioni scadute",
         "risposta alla richiesta di integrazione non pervenuta nel termine"),
        (WorkFilter(validity_ending=True), "Iscrizioni in scadenza",
         f"validità del riconoscimento che termina entro {validity_days} giorni"),
    ]  # fmt: skip
    figures = []
    for work, label, note in cases:
        value = count(ctx, work)
        figures.append(Figure(label, value, work.url(), note, warn=value > 0))
    return figures


def overdue_reports(ctx: Context) -> list[YearLink]:
    """Annual reports not filed by the due date, per year (the JSON list's ``overdue`` rule)."""
    rows = ctx.session.exec(
        select(AnnualReport.year, func.count(col(AnnualReport.id)))
        .join(Application, col(Application.id) == col(AnnualReport.application_id))
        .where(
            col(Application.section).in_(sections_of(ctx.user, ctx.profile)),
            AnnualReport.state == State.REPORT_OPEN,
            col(AnnualReport.due_on) < local_date(ctx.now),
        )
        .group_by(col(AnnualReport.year))
        .order_by(col(AnnualReport.year).desc())
    ).all()
    return [YearLink(int(year), int(n), reports_url(anno=year, **REPORTS_OVERDUE)) for year, n in rows]


# ---- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    state: State
    label: str
    stays: int
    average_days: float


def stage_times(ctx: Context) -> list[StageTime]:
    """Average days spent in each state, from the audit trail: a stay runs from the event that entered
    the state (or the creation of the draft) to the event that left it; only finished stays count."""
    rows = ctx.session.exec(
        select(
            col(AuditEvent.application_id), col(AuditEvent.from_state), col(AuditEvent.at), col(Application.created_at)
        )
        .join(Application, col(Application.id) == col(AuditEvent.application_id))
        .where(visible_filter(ctx.user, ctx.profile), AuditEvent.subject == Subject.APPLICATION)
        .order_by(col(AuditEvent.application_id), col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    spent: dict[State, list[float]] = defaultdict(list)
    current: int | None = None
    entered: datetime | None = None
    for app_id, from_state, at, created_at in rows:
        if app_id != current:
            current, entered = app_id, created_at
        assert entered is not None
        spent[from_state].append(max(0.0, (at - entered).total_seconds() / 86400))
        entered = at
    return [
        StageTime(state, STATE_LABELS[state], len(spent[state]), round(sum(spent[state]) / len(spent[state]), 1))
        for state in APPLICATION_STATES
        if spent.get(state)
    ]


@dataclass(frozen=True)
class ReportYear:
    year: int
    on_time: int
    late: int
    overdue: int  # not filed, due date passed
    waiting: int  # not filed, not yet due

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.overdue + self.waiting


def report_years(ctx: Context) -> list[ReportYear]:
    """Annual reports per year: filed on time or late (by the day filed, Italian calendar), not filed."""
    today = local_date(ctx.now)
    rows = ctx.session.exec(
        select(col(AnnualReport.year), col(AnnualReport.state), col(AnnualReport.due_on), col(AnnualReport.filed_at))
        .join(Application, col(Application.id) == col(AnnualReport.application_id))
        .where(col(Application.section).in_(sections_of(ctx.user, ctx.profile)))
    ).all()
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for year, state, due_on, filed_at in rows:
        if state in FILED and filed_at is not None:
            slot = 0 if local_date(filed_at) <= due_on else 1
        else:
            slot = 2 if due_on < today else 3
        tally[year][slot] += 1
    return [ReportYear(year, *tally[year]) for year in sorted(tally)]
