"""Districts: a representative creates their own; the administrator creates one and binds a representative."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from api.deps import Ctx
from api.schemas import DistrictCreate
from models.access import sections_of, visible_filter
from models.application import Application
from models.district import District, DistrictRead
from models.enums import Role
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.people import User
from models.search import same_folded

router = APIRouter(prefix="/districts", tags=["Distretti"])


def _representative(ctx: Ctx, body: DistrictCreate) -> User | None:
    if ctx.user.role == Role.REPRESENTATIVE:
        if body.representative_id not in (None, ctx.user.id):
            raise Forbidden("il rappresentante può creare solo il proprio distretto")
        if ctx.user.district_id is not None:
            raise Conflict("l'utente rappresenta già un distretto", district_id=ctx.user.district_id)
        return ctx.user
    if ctx.user.role != Role.ADMIN:
        raise Forbidden("solo il rappresentante o l'amministratore possono creare un distretto")
    if body.representative_id is None:
        return None
    user = ctx.session.get(User, body.representative_id)
    if user is None or user.role != Role.REPRESENTATIVE:
        raise InvalidInput("l'utente indicato non è un rappresentante", field="representative_id")
    return user


@router.post("", status_code=201, response_model=DistrictRead, summary="Crea un distretto")
def create_district(body: DistrictCreate, ctx: Ctx) -> District:
    if not ctx.profile.has_section(body.section):
        raise InvalidInput(f"la sezione {body.section} non esiste nel registro", field="section")
    representative = _representative(ctx, body)
    same_name = select(District).where(same_folded(col(District.name), body.name.strip()))  # "Città" is "CITTA"
    if ctx.session.exec(same_name).first():
        raise Conflict(f"esiste già un distretto di nome «{body.name}»", field="name")
    district = District(**body.model_dump(exclude={"representative_id"}), created_at=ctx.now)
    ctx.session.add(district)
    ctx.session.flush()
    if representative is not None:
        representative.district_id = district.id
        ctx.session.add(representative)
    ctx.session.commit()
    return district


def _visible(ctx: Ctx) -> Any:
    if ctx.user.role == Role.REPRESENTATIVE:
        return col(District.id) == (ctx.user.district_id or -1)
    if ctx.user.role == Role.COMMITTEE:  # the districts of the files assigned to them (models.access)
        return col(District.id).in_(select(Application.district_id).where(visible_filter(ctx.user, ctx.profile)))
    return col(District.section).in_(sections_of(ctx.user, ctx.profile))


@router.get("", response_model=list[DistrictRead], summary="Distretti visibili all'utente")
def list_districts(ctx: Ctx) -> list[District]:
    return list(ctx.session.exec(select(District).where(_visible(ctx)).order_by(col(District.name))).all())


@router.get("/{district_id}", response_model=DistrictRead, summary="Un distretto")
def read_district(district_id: int, ctx: Ctx) -> District:
    district = ctx.session.get(District, district_id)
    if district is None:
        raise NotFound(f"distretto {district_id} non trovato")
    if ctx.session.exec(select(District.id).where(District.id == district_id, _visible(ctx))).first() is None:
        raise Forbidden("distretto fuori dalla sua competenza")
    return district
