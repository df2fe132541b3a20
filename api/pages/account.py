"""Login and logout for the pages (cookie session), landing page by role, password change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from api.auth import MIN_PASSWORD_LENGTH, LoginThrottle, PasswordTurn, authenticate, change_password, get_throttle
from api.deps import NowDep, SessionDep, token_hash
from api.errors import TooManyAttempts, Unauthorized
from api.login_limits import client_address
from api.pages.web import (
    SESSION_COOKIE,
    CsrfChecked,
    PageUser,
    end_session,
    home_of,
    page,
    redirect,
    safe_next,
    session_user,
    start_session,
)
from models.errors import InvalidInput
from models.people import ApiToken
from registro.passwords import PasswordHashingBusy
from registro.settings import get_settings

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])


@router.get("/accesso", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep, now: NowDep, dopo: str = "") -> Response:
    user = session_user(request, session, now)
    if user is not None:
        return redirect(safe_next(dopo, user))
    return page(request, "login.html.j2", next_url=dopo, username="")


@router.post("/accesso", response_class=HTMLResponse)
def login(
    _turn: PasswordTurn,
    request: Request,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    dopo: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    address = client_address(request)
    try:
        user, token, _ = authenticate(session, throttle, username=username, password=password, address=address, now=now)
    except (Unauthorized, TooManyAttempts, PasswordHashingBusy) as exc:
        errors = [exc.message]
        return page(request, "login.html.j2", exc.status_code, next_url=dopo, username=username[:64], errors=errors)
    response = redirect(safe_next(dopo, user), f"Benvenuto, {user.full_name}.")
    start_session(request, response, token, max_age=get_settings().token_ttl_hours * 3600)
    return response


@router.post("/uscita")
def logout(request: Request, session: SessionDep) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
        if token is not None:
            session.delete(token)
            session.commit()
    response = redirect("/accesso", "Uscita effettuata.")
    end_session(response)
    return response


@router.get("/profilo/password", response_class=HTMLResponse)
def password_form(request: Request, user: PageUser) -> Response:
    return page(request, "password.html.j2", min_length=MIN_PASSWORD_LENGTH)


@router.post("/profilo/password", response_class=HTMLResponse)
def password_change(
    _turn: PasswordTurn,
    request: Request,
    user: PageUser,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    new_password_repeat: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def again(status: int, message: str) -> Response:
        return page(request, "password.html.j2", status, min_length=MIN_PASSWORD_LENGTH, errors=[message])

    if not current_password:
        return again(422, "Password attuale: campo obbligatorio")
    if new_password != new_password_repeat:
        return again(422, "Ripeti la nuova password: le due password non coincidono")
    raw = request.cookies.get(SESSION_COOKIE, "")
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
    address = client_address(request)
    try:
        change_password(
            session, throttle, user=user, keep_token_id=token.id if token else None, current=current_password,
            new=new_password, address=address, now=now,
        )  # fmt: skip
    except InvalidInput as exc:
        return again(422, f"Nuova password: {exc.message}")
    except (Unauthorized, TooManyAttempts) as exc:
        return again(exc.status_code, f"Password attuale: {exc.message}")
    except PasswordHashingBusy as exc:
        return again(exc.status_code, exc.message)
    return redirect(
        home_of(user), "Password modificata: le altre sessioni aperte con il suo nome utente sono state chiuse."
    )
