"""Users (administrator only)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from api.auth import PasswordTurn
from api.deps import AdminUser, NowDep, ProfileDep, SessionDep
from models.district import District
from models.enums import Role
from models.errors import Conflict, InvalidInput
from models.people import User, UserCreate, UserRead
from models.profiles import RegionProfile
from registro.password_policy import password_problem
from registro.passwords import hash_password

router = APIRouter(prefix="/users", tags=["Utenti"])

OFFICE_ROLES = (Role.OFFICIAL, Role.HEAD, Role.COMMITTEE)


def _check(body: UserCreate, session: SessionDep, profile: RegionProfile) -> None:
    if body.role == Role.SYSTEM:
        raise InvalidInput("il ruolo «system» è riservato alla procedura automatica", field="role")
    if body.role in OFFICE_ROLES and not any(o.code == body.office for o in profile.offices):
        codes = ", ".join(o.code for o in profile.offices)
        raise InvalidInput(f"indicare l'ufficio di appartenenza (uno tra: {codes})", field="office")
    if body.role not in OFFICE_ROLES and body.office:
        raise InvalidInput("l'ufficio si indica solo per funzionari, dirigenti e membri del comitato", field="office")
    if body.district_id is not None and (
        body.role != Role.REPRESENTATIVE or not session.get(District, body.district_id)
    ):
        raise InvalidInput("distretto inesistente o non collegabile a questo ruolo", field="district_id")
    if session.exec(select(User).where(User.username == body.username)).first():
        raise Conflict(f"il nome utente «{body.username}» è già in uso", field="username")


@router.post("", status_code=201, response_model=UserRead, summary="Crea un utente")
def create_user(
    _turn: PasswordTurn, body: UserCreate, _admin: AdminUser, session: SessionDep, profile: ProfileDep, now: NowDep
) -> User:
    _check(body, session, profile)
    problem = password_problem(body.password, username=body.username, full_name=body.full_name, email=body.email)
    if problem:
        raise InvalidInput(problem, field="password")
    # the same username created meanwhile breaks the unique index: a 409 too (api.errors)
    user = User(**body.model_dump(exclude={"password"}), password_hash=hash_password(body.password), created_at=now)
    session.add(user)
    session.commit()
    return user


@router.get("", response_model=list[UserRead], summary="Elenco degli utenti")
def list_users(_: AdminUser, session: SessionDep, role: Role | None = None) -> list[User]:
    query = select(User).where(User.role != Role.SYSTEM).order_by(col(User.username))
    if role is not None:
        query = query.where(User.role == role)
    return list(session.exec(query).all())
