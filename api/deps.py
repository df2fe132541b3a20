"""Dependencies as Annotated aliases: the session, the clock, the profile, the user, the file.

``CurrentApplication`` does the 404 and the access check (``models.access``) in one place; ``Dispatcher`` is how
an accepted action reaches its stage flow (overridden in tests).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.from_thread
from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session, select

from api.errors import Unauthorized
from models.access import ensure_can_see
from models.application import Application
from models.enums import Role
from models.errors import Forbidden, NotFound
from models.people import ApiToken, User
from models.profiles import RegionProfile, load_profile
from registro.db import get_engine, refuse_writes
from registro.settings import get_settings

log = logging.getLogger("registro.api")

TOKEN_URL = "/api/v1/auth/token"
bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False, description="Token ottenuto con il login")


READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request. An async dependency on purpose: its closing (a rollback that ends any
    open transaction and gives the connection back) runs on the event loop at once, never waiting for
    a worker thread — with every worker thread busy waiting for a connection from the pool, a threaded
    teardown would hold its connection until one of them timed out.
    A GET or HEAD may not write (``refuse_writes``)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        if request.method in READ_METHODS:
            refuse_writes(session)
        yield session


# The trivial dependencies are ``async``: FastAPI runs a sync dependency in a worker thread, and each
# such hop waits for the event loop and a thread in turn — on a busy machine, milliseconds apiece.


async def get_now() -> datetime:
    """The request's time. Tests pin it by overriding this dependency."""
    return datetime.now(UTC)


def get_profile() -> RegionProfile:
    return load_profile(get_settings().profile)


async def profile_dependency() -> RegionProfile:
    return get_profile()


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
ProfileDep = Annotated[RegionProfile, Depends(profile_dependency)]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


BearerToken = Annotated[str | None, Depends(bearer)]


def _valid_token(session: Session, now: datetime, token: str | None) -> ApiToken:
    if not token:
        raise Unauthorized("autenticazione richiesta: effettuare l'accesso")
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
    if row is None or row.expires_at <= now:
        raise Unauthorized("sessione non valida o scaduta: effettuare di nuovo l'accesso")
    return row


def get_current_token(session: SessionDep, now: NowDep, token: BearerToken = None) -> ApiToken:
    return _valid_token(session, now, token)


def get_current_user(session: SessionDep, now: NowDep, token: BearerToken = None) -> User:
    """The token's user: both read in one worker thread, not one thread hop each."""
    user = session.get(User, _valid_token(session, now, token).user_id)
    if user is None or not user.active:
        raise Unauthorized("utente disattivato: effettuare di nuovo l'accesso")
    return user


CurrentToken = Annotated[ApiToken, Depends(get_current_token)]
CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise Forbidden("operazione riservata all'amministratore")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def get_current_application(
    session: SessionDep,
    user: CurrentUser,
    profile: ProfileDep,
    application_id: Annotated[int, Path(description="Identificativo della pratica")],
) -> Application:
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound(f"pratica {application_id} non trovata")
    ensure_can_see(session, user, application, profile)
    return application


CurrentApplication = Annotated[Application, Depends(get_current_application)]


@dataclass(frozen=True)
class Context:
    """What nearly every route needs, in one parameter."""

    session: Session
    user: User
    profile: RegionProfile
    now: datetime


async def get_context(session: SessionDep, user: CurrentUser, profile: ProfileDep, now: NowDep) -> Context:
    return Context(session=session, user=user, profile=profile, now=now)


Ctx = Annotated[Context, Depends(get_context)]

# ---- starting the stage flow ------------------------------------------------------------

# hands an action over to its stage flow: a coroutine function runs on the event loop, a plain
# function in the request's own thread (the datagram to the stage worker)
DispatchFn = Callable[[int], Coroutine[Any, Any, None]] | Callable[[int], None]


async def get_dispatcher() -> DispatchFn:
    """``flows.dispatch.dispatcher()``, imported when first needed (the flows load Prefect)."""
    from flows.dispatch import dispatcher

    return dispatcher()


Dispatcher = Annotated[DispatchFn, Depends(get_dispatcher)]


def start_flow(dispatch: DispatchFn, action_id: int) -> None:
    """Hands the action to its flow. Called from a sync route (worker thread).

    If the hand-over fails the action stays queued (it is dispatched again on restart): the
    request was accepted and recorded, so the caller still gets 202 and can follow the action.
    """
    try:
        if inspect.iscoroutinefunction(dispatch):
            anyio.from_thread.run(dispatch, action_id)
        else:
            dispatch(action_id)
    except Exception:
        log.exception("avvio del flusso non riuscito per l'azione %s: resta in coda", action_id)
