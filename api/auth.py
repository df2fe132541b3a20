"""Login with username and password (Argon2), opaque bearer tokens stored as SHA-256, logout,
password change (every other session of the user ends).

Failed password checks are throttled per username and address, per address and per username
(``api.login_limits.LoginThrottle``); every route that checks or hashes a password first waits for
its turn (``PasswordTurn``: at most a few at once, the others waiting on the event loop, then 503).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import Session, col, delete, select

from api.deps import CurrentToken, CurrentUser, NowDep, SessionDep, token_hash
from api.errors import Unauthorized
from api.login_limits import WINDOW, LoginThrottle, PasswordTurns, client_address
from api.schemas import MeRead, TokenRead
from models.errors import InvalidInput
from models.people import ApiToken, User
from registro.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from registro.password_policy import MIN_LENGTH as MIN_PASSWORD_LENGTH
from registro.password_policy import password_problem
from registro.passwords import PasswordHashingBusy, hash_password, verify_password
from registro.settings import get_settings

__all__ = ["MIN_PASSWORD_LENGTH", "WINDOW", "LoginThrottle", "PasswordTurns"]

log = logging.getLogger("registro.api")

router = APIRouter(prefix="/auth", tags=["Accesso"])

TURNS_PER_ADDRESS = 4  # a client's logins waiting or running at once


def password_turns() -> PasswordTurns:
    settings = get_settings()
    return PasswordTurns(
        limit=settings.password_hashing_concurrency,
        wait_seconds=settings.password_wait_seconds,
        per_address=TURNS_PER_ADDRESS,
    )


async def password_turn(request: Request) -> AsyncIterator[None]:
    """Waits for a turn at the password check (``api.login_limits.PasswordTurns``) before the route
    opens its database session: declare it first. Released as soon as the route returns."""
    state = request.app.state
    if not hasattr(state, "password_turns"):  # one per app, made on its event loop
        state.password_turns = password_turns()
    turns: PasswordTurns = state.password_turns
    async with turns.turn(request):
        yield


PasswordTurn = Annotated[None, Depends(password_turn, scope="function")]


async def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


_dummy_hash: list[str] = []


def _equal_time_miss(password: str) -> None:
    """An unknown username costs as much as a wrong password: no timing oracle."""
    if not _dummy_hash:
        _dummy_hash.append(hash_password(secrets.token_urlsafe(16)))
    verify_password(_dummy_hash[0], password)


def authenticate(
    session: Session, throttle: LoginThrottle, *, username: str, password: str, address: str, now: datetime
) -> tuple[User, str, datetime]:
    """Checks the password (throttled: ``LoginThrottle``) and issues a new opaque token."""
    attempt = throttle.begin(username, address, now)
    try:
        user = session.exec(select(User).where(User.username == username.strip())).first()
        if user is None:
            _equal_time_miss(password)
        right = user is not None and user.active and verify_password(user.password_hash, password)
    except PasswordHashingBusy:
        throttle.undo(attempt)
        raise
    if not right or user is None:
        raise Unauthorized("nome utente o password non corretti")
    throttle.succeeded(attempt)
    session.refresh(user)  # the latest committed row
    if not user.active:  # deactivated while the password was being checked
        raise Unauthorized("nome utente o password non corretti")
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=get_settings().token_ttl_hours)
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id, col(ApiToken.expires_at) <= now))
    session.add(ApiToken(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires_at))  # type: ignore[arg-type]
    session.commit()
    return user, token, expires_at


@router.post(
    "/token",
    response_model=TokenRead,
    summary="Accesso: restituisce un token",
    responses={
        401: {"description": "Nome utente o password non corretti"},
        429: {"description": "Troppi tentativi non riusciti da questo indirizzo (Retry-After)"},
        503: {"description": "Troppi controlli di password in corso: riprovare tra qualche secondo"},
    },
)
def login(
    _turn: PasswordTurn,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
) -> TokenRead:
    address = client_address(request)
    _, token, expires_at = authenticate(
        session, throttle, username=form.username, password=form.password, address=address, now=now
    )
    return TokenRead(access_token=token, expires_at=expires_at)


@router.get("/me", response_model=MeRead, summary="L'utente collegato")
def me(user: CurrentUser) -> User:
    return user


@router.post("/logout", status_code=204, summary="Uscita: il token non vale più")
def logout(token: CurrentToken, session: SessionDep) -> Response:
    session.delete(token)
    session.commit()
    return Response(status_code=204)


# ---- password change ---------------------------------------------------------------------


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200, description="La password attuale")
    new_password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description="La nuova password: almeno 12 caratteri, non tra le più comuni, senza il proprio nome",
    )


def new_password_problem(user: User, current: str, new: str) -> str | None:
    """Why the new password is not acceptable (Italian), or None (``registro.password_policy``)."""
    if new == current:
        return "la nuova password deve essere diversa da quella attuale"
    return password_problem(new, username=user.username, full_name=user.full_name, email=user.email)


def change_password(
    session: Session,
    throttle: LoginThrottle,
    *,
    user: User,
    keep_token_id: int | None,
    current: str,
    new: str,
    address: str,
    now: datetime,
) -> int:
    """Checks the current password (throttled like the login), stores the new one, ends every other
    session of the user (the one making the change stays). Returns how many sessions were ended."""
    attempt = throttle.begin(user.username, address, now)
    try:
        right = verify_password(user.password_hash, current)
    except PasswordHashingBusy:
        throttle.undo(attempt)
        raise
    if not right:
        raise Unauthorized("la password attuale non è corretta")
    throttle.succeeded(attempt)
    problem = new_password_problem(user, current, new)
    if problem:
        raise InvalidInput(problem, field="new_password")
    user.password_hash = hash_password(new)
    session.add(user)
    others = delete(ApiToken).where(col(ApiToken.user_id) == user.id)
    if keep_token_id is not None:
        others = others.where(col(ApiToken.id) != keep_token_id)
    ended = session.exec(others).rowcount
    session.commit()
    log.info("password modificata per %s: %s altre sessioni chiuse", user.username, ended)
    return int(ended or 0)


@router.post(
    "/password",
    status_code=204,
    summary="Cambio della password: le altre sessioni dell'utente non valgono più",
    responses={
        401: {"description": "Password attuale non corretta (o accesso non effettuato)"},
        422: {"description": "Nuova password non valida (almeno 12 caratteri, non comune, senza il proprio nome)"},
        429: {"description": "Troppi tentativi non riusciti"},
        503: {"description": "Troppi controlli di password in corso: riprovare tra qualche secondo"},
    },
)
def password(
    _turn: PasswordTurn,
    body: PasswordChangeIn,
    request: Request,
    token: CurrentToken,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
) -> Response:
    address = client_address(request)
    change_password(
        session, throttle, user=user, keep_token_id=token.id, current=body.current_password,
        new=body.new_password, address=address, now=now,
    )  # fmt: skip
    return Response(status_code=204)
