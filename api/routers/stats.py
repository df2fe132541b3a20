"""Monitoring of procedure times (L. 241/1990): open, within and over term, for the regional offices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Ctx
from api.stats_schemas import OfficeTimes, ProcedureTimesRead, SectionTimes, TimesFigures, TimesRow, YearTimes
from models.access import sections_of
from models.base import local_date
from models.enums import Role
from models.errors import Forbidden, InvalidInput
from models.procedure_times import Tally, procedure_times
from models.profiles import RegionProfile

router = APIRouter(prefix="/stats", tags=["Monitoraggio"])

MONITORING_ROLES = frozenset({Role.OFFICIAL, Role.HEAD, Role.ADMIN})


@router.get(
    "/procedure-times",
    response_model=ProcedureTimesRead,
    summary="Tempi dei procedimenti: aperti, nei termini e oltre il termine",
    description="Per ufficio, sezione e anno della data di protocollo; ciascuno vede le sezioni di sua competenza.",
)
def read_procedure_times(
    ctx: Ctx,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="Anno della data di protocollo")] = None,
    section: Annotated[int | None, Query(description="Numero della sezione")] = None,
    office: Annotated[str | None, Query(description="Codice dell'ufficio (es. ricerca, agricoltura)")] = None,
) -> ProcedureTimesRead:
    sections = _sections(ctx, section=section, office=office)
    times = procedure_times(ctx.session, profile=ctx.profile, today=local_date(ctx.now), sections=sections, year=year)
    profile = ctx.profile
    return ProcedureTimesRead(
        as_of=times.as_of,
        rows=[
            TimesRow(**_figures(t), **_section(profile, k.section), office_name=_office(profile, k.office), year=k.year)
            for k, t in times.rows.items()
        ],
        by_office=[
            OfficeTimes(**_figures(t), office=code, office_name=_office(profile, code))
            for code, t in times.by_office().items()
        ],
        by_section=[SectionTimes(**_figures(t), **_section(profile, n)) for n, t in times.by_section().items()],
        by_year=[YearTimes(**_figures(t), year=y) for y, t in times.by_year().items()],
        total=TimesFigures(**_figures(times.total())),
    )


def _sections(ctx: Ctx, *, section: int | None, office: str | None) -> set[int]:
    """The sections asked for, within those the user may see."""
    if ctx.user.role not in MONITORING_ROLES:
        raise Forbidden("il monitoraggio dei tempi dei procedimenti è riservato agli uffici regionali")
    visible = set(sections_of(ctx.user, ctx.profile))
    wanted = set(visible)
    if office is not None:
        if not any(o.code == office for o in ctx.profile.offices):
            raise InvalidInput(f"ufficio «{office}» sconosciuto", field="office")
        wanted &= set(ctx.profile.office(office).sections)
        if not wanted:
            raise Forbidden(f"l'ufficio «{office}» non è di sua competenza")
    if section is not None:
        if not ctx.profile.has_section(section):
            raise InvalidInput(f"la sezione {section} non esiste", field="section")
        if section not in visible:
            raise Forbidden(f"la sezione {section} non è di sua competenza")
        wanted &= {section}
    return wanted


def _figures(tally: Tally) -> dict[str, Any]:
    return {
        "open_within": tally.open_within,
        "open_over": tally.open_over,
        "closed_within": tally.closed_within,
        "closed_over": tally.closed_over,
        "total": tally.total,
        "average_days_used": tally.average_days_used,
    }


def _office(profile: RegionProfile, code: str) -> str:
    return profile.office(code).name


def _section(profile: RegionProfile, number: int) -> dict[str, Any]:
    return {"section": number, "section_name": profile.section(number).name, "office": profile.office_of(number).code}
