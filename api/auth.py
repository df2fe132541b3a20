"""Login with username and password (Argon2), opaque bearer tokens stored as SHA-256, logout,
password change (every other session of the user ends).

Repeated failed logins for the same username from the same address are throttled. The counter
lives in the process's memory (one per app): enough for one API process; several processes
behind a balancer would each count on their own (a shared store is a later step).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import Session, col, delete, select

from api.deps import CurrentToken, CurrentUser, NowDep, SessionDep, token_hash
from api.errors import TooManyAttempts, Unauthorized
from api.schemas import MeRead, TokenRead
from models.errors import InvalidInput
from models.people import ApiToken, User
from registro.passwords import hash_password, verify_password
from registro.settings import get_settings

log = logging.getLogger("registro.api")

router = APIRouter(prefix="/auth", tags=["Accesso"])

MAX_FAILURES = 5
MIN_PASSWORD_LENGTH = 12
WINDOW = timedelta(minutes=15)


class LoginThrottle:
    """At most MAX_FAILURES failed logins per (username, address) within WINDOW."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        failures = self._failures[key]
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return failures

    def check(self, key: tuple[str, str], now: datetime) -> None:
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) >= self.max_failures:
                wait = failures[0] + self.window - now
                minutes = max(1, int(wait.total_seconds() // 60) + 1)
                raise TooManyAttempts(
                    f"troppi tentativi di accesso non riusciti: riprovare tra {minutes} minuti",
                    retry_after_seconds=int(wait.total_seconds()) + 1,
                    headers={"Retry-After": str(int(wait.total_seconds()) + 1)},
                )

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def get_throttle(request: Request) -> LoginThrottle:
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
    """Checks the password (throttled per username and address) and issues a new opaque token."""
    key = (username.strip().lower(), address)
    throttle.check(key, now)
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        _equal_time_miss(password)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        throttle.failed(key, now)
        raise Unauthorized("nome utente o password non corretti")
    throttle.succeeded(key)
    session.commit()  # ends the read (see api.deps.READS_FIRST_ROUTES): the write lock is taken from here
    session.refresh(user)
    if not user.active:  # deactivated while the password was being checked
        raise Unauthorized("nome utente o password non corretti")
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=get_settings().token_ttl_hours)
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id, col(ApiToken.expires_at) <= now))
    session.add(ApiToken(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires_at))  # type: ignore[arg-type]
    session.commit()
    return user, token, expires_at


@router.post("/token", response_model=TokenRead, summary="Accesso: restituisce un token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
) -> TokenRead:
    address = request.client.host if request.client else "-"
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
        min_length=MIN_PASSWORD_LENGTH, max_length=200, description="La nuova password (almeno 12 caratteri)"
    )


def new_password_problem(user: User, current: str, new: str) -> str | None:
    """Why the new password is not acceptable (Italian), or None."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"la nuova password deve avere almeno {MIN_PASSWORD_LENGTH} caratteri"
    if len(new) > 200:
        return "la nuova password può avere al massimo 200 caratteri"
    if new.strip().lower() == user.username.strip().lower():
        return "la nuova password non può coincidere con il nome utente"
    if new == current:
        return "la nuova password deve essere diversa da quella attuale"
    return None


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
    key = (user.username.strip().lower(), address)
    throttle.check(key, now)
    if not verify_password(user.password_hash, current):
        throttle.failed(key, now)
        raise Unauthorized("la password attuale non è corretta")
    throttle.succeeded(key)
    problem = new_password_problem(user, current, new)
    if problem:
        raise InvalidInput(problem, field="new_password")
    password_hash = hash_password(new)
    session.commit()  # the read ends (api.deps.READS_FIRST_ROUTES): the write lock is taken from here
    user.password_hash = password_hash
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
        422: {"description": "Nuova password non valida (almeno 12 caratteri, diversa dal nome utente)"},
    },
)
def password(
    body: PasswordChangeIn,
    request: Request,
    token: CurrentToken,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
) -> Response:
    address = request.client.host if request.client else "-"
    change_password(
        session, throttle, user=user, keep_token_id=token.id, current=body.current_password,
        new=body.new_password, address=address, now=now,
    )  # fmt: skip
    return Response(status_code=204)
