"""The public registry: no login, only what the law makes public."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import ProfileDep, SessionDep
from api.schemas import RegistryEntryPublic, RegistryStatus
from models.application import Application
from models.district import District
from models.enums import State
from models.errors import InvalidInput
from models.profiles import RegionProfile
from models.registry import RecognitionAct, RegistryEntry

router = APIRouter(prefix="/registry", tags=["Registro pubblico"])

STATUS_OF: dict[State, tuple[str, str]] = {
    State.ACTIVE: ("active", "Attivo"),
    State.RENEWED: ("active", "Attivo"),
    State.RENEWAL_REQUESTED: ("renewal_in_progress", "Rinnovo in corso"),
    State.REVOCATION_NOTICE: ("active", "Attivo"),  # in force until the act of revocation
    State.EXPIRED: ("expired", "Scaduto"),
    State.REVOKED: ("revoked", "Revocato"),
    State.REGISTERED: ("census", "Censito (sezione informativa)"),
}


PAGE_SIZE = 50  # entries per page: the HTML page's and the JSON's default
MAX_PAGE_SIZE = 200  # the JSON's largest ``limit``

PAGING_HEADERS = {
    "X-Total-Count": {
        "description": "Iscrizioni che corrispondono ai filtri (tutte le pagine)",
        "schema": {"type": "integer"},
    },
    "X-Page": {"description": "Numero di questa pagina (da 1)", "schema": {"type": "integer"}},
    "X-Page-Count": {"description": "Numero di pagine (almeno 1)", "schema": {"type": "integer"}},
    "X-Page-Size": {"description": "Iscrizioni per pagina (il `limit` applicato)", "schema": {"type": "integer"}},
    "Link": {
        "description": 'Indirizzi della pagina precedente e successiva (RFC 8288, `rel="prev"`/`rel="next"`), '
        "con gli stessi filtri",
        "schema": {"type": "string"},
    },
}


@router.get(
    "",
    response_model=list[RegistryEntryPublic],
    summary="Il registro pubblico dei distretti",
    description=(
        "Le iscrizioni in ordine di sezione, nome del distretto e identificativo, una pagina alla volta "
        f"(`page` da 1, `limit` da 1 a {MAX_PAGE_SIZE}, predefinito {PAGE_SIZE}). Il corpo resta un elenco; "
        "il totale e la navigazione sono nelle intestazioni `X-Total-Count`, `X-Page`, `X-Page-Count`, "
        "`X-Page-Size` e `Link`. Una pagina oltre l'ultima dà 422 (la pagina 1 esiste sempre, anche vuota)."
    ),
    responses={200: {"headers": PAGING_HEADERS}},
)
def registry(
    request: Request,
    response: Response,
    session: SessionDep,
    profile: ProfileDep,
    section: Annotated[int | None, Query(description="Numero della sezione")] = None,
    status: Annotated[RegistryStatus | None, Query(description="Stato dell'iscrizione")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Numero della pagina, da 1")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Iscrizioni per pagina")] = PAGE_SIZE,
) -> list[RegistryEntryPublic]:
    entries, total = registry_page(session, profile, section=section, status=status, page=page, page_size=limit)
    pages = page_count(total, limit)
    if page > pages:
        raise InvalidInput(f"pagina {page} inesistente: le pagine sono {pages}", field="page")
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Page"] = str(page)
    response.headers["X-Page-Count"] = str(pages)
    response.headers["X-Page-Size"] = str(limit)
    links = [(n, rel) for n, rel in ((page - 1, "prev"), (page + 1, "next")) if 1 <= n <= pages]
    if links:
        url = request.url
        response.headers["Link"] = ", ".join(
            f'<{url.include_query_params(page=n, limit=limit)}>; rel="{rel}"' for n, rel in links
        )
    return entries


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def _filtered(query: Any, *, section: int | None, status: str | None, district_id: int | None) -> Any:
    query = query.where(col(Application.state).in_(STATUS_OF))
    if section is not None:
        query = query.where(RegistryEntry.section == section)
    if status is not None:
        query = query.where(col(Application.state).in_([s for s, (code, _) in STATUS_OF.items() if code == status]))
    if district_id is not None:
        query = query.where(RegistryEntry.district_id == district_id)
    return query


def _listed(session: Session, profile: RegionProfile, query: Any) -> list[RegistryEntryPublic]:
    """The entries of the query, each with its district, application state and act: one SELECT."""
    query = (
        query.join(District, col(District.id) == col(RegistryEntry.district_id))
        .join(RecognitionAct, col(RecognitionAct.id) == col(RegistryEntry.act_id), isouter=True)
        .order_by(col(RegistryEntry.section), col(District.name), col(District.id))  # stable: ties by id
    )
    return [_public(entry, district, state, act, profile) for entry, district, state, act in session.exec(query).all()]


def _base() -> Any:
    return select(RegistryEntry, District, Application.state, RecognitionAct).join(
        Application, col(Application.id) == col(RegistryEntry.application_id)
    )


def registry_entries(
    session: Session,
    profile: RegionProfile,
    *,
    section: int | None = None,
    status: str | None = None,
    district_id: int | None = None,
) -> list[RegistryEntryPublic]:
    """Every public entry that matches (what the law makes public), ordered by section and name."""
    query = _filtered(_base(), section=section, status=status, district_id=district_id)
    return _listed(session, profile, query)


def registry_page(
    session: Session,
    profile: RegionProfile,
    *,
    section: int | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> tuple[list[RegistryEntryPublic], int]:
    """One page of the public entries and how many match in all; JSON and pages share it.

    Two queries: a COUNT over entries and applications only, and the page's rows with their district
    and act (LIMIT/OFFSET on the stable order section, name, id)."""
    counted = _filtered(
        select(func.count()).select_from(RegistryEntry).join(
            Application, col(Application.id) == col(RegistryEntry.application_id)
        ),
        section=section, status=status, district_id=None,
    )  # fmt: skip
    total = int(session.exec(counted).one())
    if total == 0 or (page - 1) * page_size >= total:
        return [], total
    query = _filtered(_base(), section=section, status=status, district_id=None)
    return _listed(session, profile, query.offset((page - 1) * page_size).limit(page_size)), total


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
