"""The public registry: no login, only what the law makes public."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from api.deps import ProfileDep, SessionDep
from api.schemas import RegistryEntryPublic, RegistryStatus
from models.application import Application
from models.district import District
from models.enums import State
from models.profiles import RegionProfile
from models.registry import RecognitionAct, RegistryEntry

router = APIRouter(prefix="/registry", tags=["Registro pubblico"])

STATUS_OF: dict[State, tuple[str, str]] = {
    State.ACTIVE: ("active", "Attivo"),
    State.RENEWED: ("active", "Attivo"),
    State.RENEWAL_REQUESTED: ("renewal_in_progress", "Rinnovo in corso"),
    State.EXPIRED: ("expired", "Scaduto"),
    State.REVOKED: ("revoked", "Revocato"),
    State.REGISTERED: ("census", "Censito (sezione informativa)"),
}


@router.get("", response_model=list[RegistryEntryPublic], summary="Il registro pubblico dei distretti")
def registry(
    session: SessionDep,
    profile: ProfileDep,
    section: Annotated[int | None, Query(description="Numero della sezione")] = None,
    status: Annotated[RegistryStatus | None, Query(description="Stato dell'iscrizione")] = None,
) -> list[RegistryEntryPublic]:
    return registry_entries(session, profile, section=section, status=status)


def registry_entries(
    session: Session,
    profile: RegionProfile,
    *,
    section: int | None = None,
    status: str | None = None,
    district_id: int | None = None,
) -> list[RegistryEntryPublic]:
    """The public entries (what the law makes public), ordered by section and name; JSON and pages share it."""
    query: Any = (
        select(RegistryEntry, District, Application.state, RecognitionAct)
        .join(District, col(District.id) == col(RegistryEntry.district_id))
        .join(Application, col(Application.id) == col(RegistryEntry.application_id))
        .join(RecognitionAct, col(RecognitionAct.id) == col(RegistryEntry.act_id), isouter=True)
        .where(col(Application.state).in_(STATUS_OF))
        .order_by(col(RegistryEntry.section), col(District.name))
    )
    if section is not None:
        query = query.where(RegistryEntry.section == section)
    if status is not None:
        query = query.where(col(Application.state).in_([s for s, (code, _) in STATUS_OF.items() if code == status]))
    if district_id is not None:
        query = query.where(RegistryEntry.district_id == district_id)
    return [_public(entry, district, state, act, profile) for entry, district, state, act in session.exec(query).all()]


def _public(
    entry: RegistryEntry, district: District, state: State, act: RecognitionAct | None, profile: RegionProfile
) -> RegistryEntryPublic:
    code, label = STATUS_OF[state]
    return RegistryEntryPublic(
        district_id=district.id or 0,
        district_name=district.name,
        section=entry.section,
        section_name=profile.section(entry.section).name if profile.has_section(entry.section) else "",
        representative_org=district.representative_org,
        enterprises=entry.enterprises,
        employees=entry.employees,
        act_type=act.act_type if act else None,
        act_number=act.label if act else None,
        act_date=act.issued_on if act else None,
        publication_ref=act.publication_ref or None if act else None,
        valid_from=entry.valid_from,
        valid_until=entry.valid_until,
        status=code,
        status_label=label,
    )
