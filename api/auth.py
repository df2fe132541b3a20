"""Login with username and password (Argon2), opaque bearer tokens stored as SHA-256, logout.

Repeated failed logins for the same username from the same address are throttled. The counter
lives in the process's memory (one per app): enough for one API process; several processes
behind a balancer would each count on their own (a shared store is a later step).
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session, col, delete, select

from api.deps import CurrentToken, CurrentUser, NowDep, SessionDep, token_hash
from api.errors import TooManyAttempts, Unauthorized
from api.schemas import MeRead, TokenRead
from models.people import ApiToken, User
from registro.passwords import hash_password, verify_password
from registro.settings import get_settings

router = APIRouter(prefix="/auth", tags=["Accesso"])

MAX_FAILURES = 5
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
