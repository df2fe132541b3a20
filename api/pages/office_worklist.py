"""The officials' work list: the JSON list's rules (competence, state, section, office, overdue) plus
the filters the office pages need — responsible official, search, terms lapsing soon, integration
answers overdue, registry validity ending soon.

``WorkFilter`` holds typed values and ``work_list`` / ``count`` apply them; parsing the page's GET
parameters is apart (``parse``), so the JSON list (``api.read.list_applications``) could take the
same ``WorkFilter`` later. Rules shared with the sweeps and the JSON API are imported, never copied:
what is "overdue" is ``api.read.is_overdue``; what is "lapsing soon" is what the daily term warnings
use (open, not suspended, deadline within the longest of ``profile.term_warning_days``); "validity
ending soon" is what the renewal reminders use (active, within the longest ``renewal_reminders_days``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_
from sqlmodel import col, select

from api.deps import Context
from api.read import application_reads, is_overdue
from api.schemas import ApplicationRead
from models.access import sections_of, visible_filter
from models.application import Application, ProtocolEntry
from models.base import local_date
from models.clock import ClockReading, clock_of, suspensions_by_application
from models.district import District, MemberEnterprise
from models.enums import Role, State
from models.labels import STATE_LABELS
from models.lifecycle import OPEN_STATES
from models.people import User
from models.profiles import RegionProfile
from models.registry import RegistryEntry
from models.search import contains_folded
from models.text import digits

PAGE_SIZE = 25
MAX_PARAM = 500  # characters of one parameter of the work list (the search itself: 100, said on the page)
APPLICATION_STATES = [s for s in STATE_LABELS if not s.value.startswith("report_")]  # lifecycle order
UNASSIGNED = "nessuno"
PROTOCOL = re.compile(r"^(\d{4})\s*/\s*(\d{1,9})$")


@dataclass(frozen=True)
class WorkFilter:
    state: State | None = None
    section: int | None = None
    office: str | None = None
    responsible_id: int | None = None
    unassigned: bool = False
    overdue: bool = False  # procedure term lapsed (api.read.is_overdue)
    term_lapsing: bool = False  # term ends within the warning days
    integration_lapsed: bool = False  # integration requested, answer deadline passed
    validity_ending: bool = False  # registry entry whose validity ends soon
    search: str = ""

    def params(self) -> dict[str, str]:
        """The GET parameters of the work list that select exactly these items."""
        pairs: dict[str, Any] = {
            "stato": self.state.value if self.state else None,
            "sezione": self.section,
            "ufficio": self.office,
            "responsabile": UNASSIGNED if self.unassigned else self.responsible_id,
            "scaduti": 1 if self.overdue else None,
            "termine": "in_scadenza" if self.term_lapsing else None,
            "integrazione": "scaduta" if self.integration_lapsed else None,
            "validita": "in_scadenza" if self.validity_ending else None,
            "q": self.search or None,
        }
        return {k: str(v) for k, v in pairs.items() if v is not None}

    def url(self, page: int = 1) -> str:
        params = self.params() | ({"pagina": str(page)} if page > 1 else {})
        return "/ufficio/pratiche" + (f"?{urlencode(params)}" if params else "")


def term_warning_days(profile: RegionProfile) -> int:
    return max(profile.term_warning_days, default=0)


def validity_warning_days(profile: RegionProfile) -> int:
    return max(profile.renewal_reminders_days, default=90)


# ---- parsing the page's parameters ---------------------------------------------------------


class WorkListQuery(BaseModel):
    """The work list's parameters as they come (FastAPI query model): each is checked by ``parse``,
    which names every bad value in Italian on the page itself; only a value past any sane length is
    refused before it (422)."""

    model_config = ConfigDict(extra="ignore")
    stato: str = Field(default="", max_length=MAX_PARAM)
    sezione: str = Field(default="", max_length=MAX_PARAM)
    ufficio: str = Field(default="", max_length=MAX_PARAM)
    responsabile: str = Field(default="", max_length=MAX_PARAM)
    scaduti: str = Field(default="", max_length=MAX_PARAM)
    termine: str = Field(default="", max_length=MAX_PARAM)
    integrazione: str = Field(default="", max_length=MAX_PARAM)
    validita: str = Field(default="", max_length=MAX_PARAM)
    q: str = Field(default="", max_length=MAX_PARAM)
    pagina: str = Field(default="", max_length=MAX_PARAM)


def parse(query: WorkListQuery, profile: RegionProfile) -> tuple[WorkFilter, int, list[str]]:
    """The filter, the page number and the Italian reasons of any bad value (each one named)."""
    params = query.model_dump()
    errors: list[str] = []

    def bad(what: str, value: str, reason: str) -> None:
        errors.append(f"{what} «{value[:30]}» {reason}")

    def flag(name: str, expected: str, what: str) -> bool:
        value = params.get(name, "")
        if value not in ("", expected):
            bad(what, value, f"non valido (ammesso: {expected})")
        return value == expected

    states = {s.value: s for s in APPLICATION_STATES}
    stato, sezione, ufficio = params.get("stato", ""), params.get("sezione", ""), params.get("ufficio", "")
    responsabile, pagina = params.get("responsabile", ""), params.get("pagina", "")
    if stato and stato not in states:
        bad("stato", stato, "sconosciuto")
    section = int(sezione) if digits(sezione) and profile.has_section(int(sezione)) else None
    if sezione and section is None:
        bad("sezione", sezione, "inesistente")
    if ufficio and not any(o.code == ufficio for o in profile.offices):
        bad("ufficio", ufficio, "sconosciuto")
    if responsabile and responsabile != UNASSIGNED and not (digits(responsabile) and len(responsabile) < 10):
        bad("responsabile", responsabile, "non valido")
    page = int(pagina) if digits(pagina) and 0 < len(pagina) < 7 and int(pagina) > 0 else None
    if pagina and page is None:
        bad("pagina", pagina, "non valida")
    search = " ".join(params.get("q", "").split())
    if len(search) > 100:
        errors.append("ricerca: al massimo 100 caratteri")
    work = WorkFilter(
        state=states.get(stato),
        section=section,
        office=ufficio or None,
        responsible_id=int(responsabile) if digits(responsabile) else None,
        unassigned=responsabile == UNASSIGNED,
        overdue=flag("scaduti", "1", "scaduti"),
        term_lapsing=flag("termine", "in_scadenza", "termine"),
        integration_lapsed=flag("integrazione", "scaduta", "integrazione"),
        validity_ending=flag("validita", "in_scadenza", "validità"),
        search=search[:100],
    )
    return work, page or 1, errors


# ---- the query -----------------------------------------------------------------------------


def _query(ctx: Context, f: WorkFilter) -> Any:
    """The SQL part: competence first (as the JSON list), then every filter that SQL can decide."""
    today = local_date(ctx.now)
    query = select(Application).where(visible_filter(ctx.user, ctx.profile))
    if f.state is not None:
        query = query.where(Application.state == f.state)
    if f.section is not None:
        query = query.where(Application.section == f.section)
    if f.office is not None:
        query = query.where(col(Application.section).in_(ctx.profile.office(f.office).sections))
    if f.responsible_id is not None:
        query = query.where(Application.responsible_official_id == f.responsible_id)
    if f.unassigned:
        query = query.where(col(Application.responsible_official_id).is_(None))
    if f.integration_lapsed:
        query = query.where(
            Application.state == State.INTEGRATION_REQUESTED, col(Application.integration_deadline) < today
        )
    if f.validity_ending:
        horizon = today + timedelta(days=validity_warning_days(ctx.profile))
        ending = select(RegistryEntry.application_id).where(
            col(RegistryEntry.valid_until) >= today, col(RegistryEntry.valid_until) <= horizon
        )
        query = query.where(Application.state == State.ACTIVE, col(Application.id).in_(ending))
    if f.search:
        query = query.where(_search(f.search))
    if f.overdue or f.term_lapsing:  # the clock decides: only started, open procedures can match
        query = query.where(col(Application.term_start).is_not(None), col(Application.closed_on).is_(None))
    return query


def _search(text: str) -> Any:
    """District or representative organisation name (part of it), protocol number, member's tax code/VAT."""
    names = select(District.id).where(
        or_(contains_folded(col(District.name), text), contains_folded(col(District.representative_org), text))
    )
    code = text.replace(" ", "").upper()
    members = select(MemberEnterprise.application_id).where(
        or_(col(MemberEnterprise.tax_code) == code, col(MemberEnterprise.vat_number) == code)
    )
    conditions = [col(Application.district_id).in_(names), col(Application.id).in_(members)]
    protocol = PROTOCOL.match(text)
    if protocol or (digits(text) and len(text) <= 9):
        year, number = (int(protocol.group(1)), int(protocol.group(2))) if protocol else (None, int(text))
        where = [ProtocolEntry.number == number] + ([ProtocolEntry.year == year] if year else [])
        conditions.append(col(Application.protocol_id).in_(select(ProtocolEntry.id).where(*where)))
        conditions.append(col(Application.id).in_(select(ProtocolEntry.application_id).where(*where)))
    return or_(*conditions)


def lapsing(clock: ClockReading | None, application: Application, today: date, days: int) -> bool:
    """Open, running (not suspended) and the term ends within ``days`` (as the daily term warnings)."""
    return (
        clock is not None
        and application.state in OPEN_STATES
        and application.closed_on is None
        and not clock.suspended_now
        and 0 <= (clock.deadline - today).days <= days
    )


def _clock_filter(ctx: Context, f: WorkFilter, rows: Sequence[Application]) -> list[Application]:
    ledger = suspensions_by_application(ctx.session, [a.id for a in rows if a.id is not None])
    today, days = local_date(ctx.now), term_warning_days(ctx.profile)
    kept = []
    for app in rows:
        clock = clock_of(app, ledger.get(app.id or 0, []), ctx.profile, today)
        if (not f.overdue or is_overdue(clock, app)) and (not f.term_lapsing or lapsing(clock, app, today, days)):
            kept.append(app)
    return kept


def _ordered(query: Any) -> Any:
    return query.order_by(col(Application.updated_at).desc(), col(Application.id).desc())  # as the JSON list


def work_list(ctx: Context, f: WorkFilter, page: int, page_size: int = PAGE_SIZE) -> tuple[list[ApplicationRead], int]:
    query = _ordered(_query(ctx, f))
    if f.overdue or f.term_lapsing:
        matching = _clock_filter(ctx, f, ctx.session.exec(query).all())
        rows, total = matching[(page - 1) * page_size : page * page_size], len(matching)
    else:
        total = ctx.session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
        rows = ctx.session.exec(query.offset((page - 1) * page_size).limit(page_size)).all()
    reads = application_reads(ctx.session, rows, user=ctx.user, profile=ctx.profile, now=ctx.now)
    return reads, int(total)


def count(ctx: Context, f: WorkFilter) -> int:
    if f.overdue or f.term_lapsing:
        return len(_clock_filter(ctx, f, ctx.session.exec(_query(ctx, f)).all()))
    return int(ctx.session.exec(select(func.count()).select_from(_query(ctx, f).subquery())).one())


# ---- what the filter form offers -----------------------------------------------------------


def responsible_names(ctx: Context, reads: Sequence[ApplicationRead]) -> dict[int, str]:
    """Names of the responsible officials of the listed applications (one query)."""
    ids = [a.id for a in reads]
    if not ids:
        return {}
    rows = ctx.session.exec(
        select(Application.id, User.full_name)
        .join(User, col(User.id) == col(Application.responsible_official_id))
        .where(col(Application.id).in_(ids))
    ).all()
    return {int(app_id): name for app_id, name in rows if app_id is not None}


def officials(ctx: Context) -> list[tuple[int, str]]:
    """Officials and heads whose office has sections this user may see, by name."""
    visible = set(sections_of(ctx.user, ctx.profile))
    offices = [o.code for o in ctx.profile.offices if visible & set(o.sections)]
    rows = ctx.session.exec(
        select(User.id, User.full_name)
        .where(col(User.role).in_([Role.OFFICIAL, Role.HEAD]), col(User.office).in_(offices))
        .order_by(col(User.full_name), col(User.id))
    ).all()
    return [(int(user_id), name) for user_id, name in rows if user_id is not None]


def visible_offices(ctx: Context) -> list[tuple[str, str]]:
    visible = set(sections_of(ctx.user, ctx.profile))
    return [(o.code, o.name) for o in ctx.profile.offices if visible & set(o.sections)]


def visible_sections(ctx: Context) -> list[tuple[int, str]]:
    visible = set(sections_of(ctx.user, ctx.profile))
    return [(s.number, s.name) for s in ctx.profile.sections if s.number in visible]
