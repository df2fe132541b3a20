"""Login and logout for the pages (cookie session), landing page by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from api.auth import LoginThrottle, authenticate, get_throttle
from api.deps import NowDep, SessionDep, token_hash
from api.errors import TooManyAttempts, Unauthorized
from api.pages.web import (
    SESSION_COOKIE,
    CsrfChecked,
    end_session,
    page,
    redirect,
    safe_next,
    session_user,
    start_session,
)
from models.people import ApiToken
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
    request: Request,
    session: SessionDep,
    now: NowDep,
    throttle: Annotated[LoginThrottle, Depends(get_throttle)],
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    dopo: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    address = request.client.host if request.client else "-"
    try:
        user, token, _ = authenticate(session, throttle, username=username, password=password, address=address, now=now)
    except (Unauthorized, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return page(request, "login.html.j2", status, next_url=dopo, username=username[:64], errors=[exc.message])
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
