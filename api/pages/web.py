"""What every page shares: the cookie session, CSRF, one-shot notices, rendering, redirects.

The pages reuse the JSON API's route functions for every change (one implementation); this
module only turns a form into their arguments and their errors into a notice on the page.

- Session: the same opaque token as the API (table api_token), carried in an HttpOnly,
  SameSite=Lax cookie (Secure when served over TLS). The JSON API keeps bearer tokens only,
  so a cookie never authorises a JSON call.
- CSRF: each form carries, in the hidden field ``csrf_token``, HMAC(secret, the session token) — before
  login HMAC(secret, a random pre-session value in its own cookie) — so a token from another session,
  or from this browser before it logged in, is refused; every POST page route checks it
  (``CsrfChecked``) and refuses a form whose ``Origin`` (or ``Referer``) is another site's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.deps import Context, NowDep, ProfileDep, SessionDep, get_profile, token_hash
from api.errors import reason_of
from models.enums import Role
from models.errors import DomainError
from models.labels import ROLE_LABELS
from models.people import ApiToken, User
from notifications.rendering import environment
from registro.settings import get_settings, is_production

SESSION_COOKIE = "registro_sessione"
CSRF_COOKIE = "registro_csrf"
NOTICE_COOKIE = "registro_avviso"
CSRF_FIELD = "csrf_token"

OFFICE_ROLES = frozenset({Role.OFFICIAL, Role.HEAD, Role.ADMIN})


# ---- session -----------------------------------------------------------------------------


class LoginRequired(Exception):
    """A page needs a logged-in user: the handler sends the browser to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageForbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def session_user(request: Request, session: Session, now: datetime) -> User | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
    if token is None or token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    return user if user is not None and user.active else None


def get_page_user(request: Request, session: SessionDep, now: NowDep) -> User:
    user = session_user(request, session, now)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.user = user
    return user


PageUser = Annotated[User, Depends(get_page_user)]


def get_page_context(session: SessionDep, user: PageUser, profile: ProfileDep, now: NowDep) -> Context:
    return Context(session=session, user=user, profile=profile, now=now)


PageCtx = Annotated[Context, Depends(get_page_context)]


def require_role(*roles: Role) -> Callable[[User], User]:
    def check(user: PageUser) -> User:
        if user.role not in roles:
            raise PageForbidden("questa pagina non è disponibile per il suo profilo")
        return user

    return check


def home_of(user: User) -> str:
    """Where a user lands after login."""
    if user.role == Role.REPRESENTATIVE:
        return "/distretto"
    if user.role == Role.COMMITTEE:
        return "/comitato"
    return "/ufficio"


def safe_next(target: str | None, user: User) -> str:
    """Only a path of this site (never //host or a scheme) is a valid place to go back to."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return home_of(user)


def cookie_secure(request: Request) -> bool:
    """Secure cookies always in production (it runs behind TLS); elsewhere when the request came over
    https (uvicorn sets the scheme from X-Forwarded-Proto only for the configured proxies)."""
    return is_production(get_settings()) or request.url.scheme == "https"


def start_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax",
        secure=cookie_secure(request), path="/",
    )  # fmt: skip


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


# ---- CSRF --------------------------------------------------------------------------------


class CsrfFailed(Exception):
    pass


def _csrf_for(bound_to: tuple[str, str]) -> str:
    kind, raw = bound_to
    key = get_settings().effective_secret_key.encode()
    return hmac.new(key, f"csrf:{kind}:{raw}".encode(), hashlib.sha256).hexdigest()


def csrf_raw(request: Request) -> tuple[str, str]:
    """What this browser's CSRF token is bound to: its session (the session cookie) once logged in;
    before, its pre-session cookie (a new one is set on the response by ``page``)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return ("sessione", session)
    raw = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not raw:
        raw = secrets.token_urlsafe(24)
        request.state.new_csrf = raw
    return ("visita", raw)


def csrf_token(request: Request) -> str:
    return _csrf_for(csrf_raw(request))


def _origin_of(url: str) -> str | None:
    """scheme://host[:port] of ``url``, the default port left out; None if it has none ("null")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def site_origins(request: Request) -> set[str]:
    """``REGISTRO_SITE_ORIGIN`` when set (the public address behind a proxy that rewrites the host),
    else the request's own: its scheme and Host, as a trusted proxy forwards them."""
    configured = [o for o in get_settings().site_origin.split(",") if o.strip()]
    own = [f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"]
    return {origin for origin in map(_origin_of, configured or own) if origin}


def from_this_site(request: Request) -> bool:
    """The form's ``Origin`` (or, without it, its ``Referer``) is the site's. With neither header (not a
    browser: every current browser sends ``Origin`` with a POST) the CSRF token alone decides."""
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
        if claimed is None:
            return True
    origin = _origin_of(claimed)
    return origin is not None and origin in site_origins(request)


async def verify_csrf(request: Request) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not from_this_site(request):
        raise CsrfFailed()
    session = request.cookies.get(SESSION_COOKIE)
    bound_to = ("sessione", session) if session else ("visita", request.cookies.get(CSRF_COOKIE, ""))
    form = await request.form()  # Starlette caches it: the route's Form/File parameters still work
    sent = form.get(CSRF_FIELD)
    if not bound_to[1] or not isinstance(sent, str) or not hmac.compare_digest(sent, _csrf_for(bound_to)):
        raise CsrfFailed()


CsrfChecked = Depends(verify_csrf)


# ---- one-shot notices --------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # "ok" | "errore"
    text: str


def _encode_notice(notice: Notice) -> str:
    data = json.dumps({"k": notice.kind, "t": notice.text[:1500]}).encode()
    return base64.urlsafe_b64encode(data).decode()


def _decode_notice(value: str | None) -> Notice | None:
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
        return Notice(kind="errore" if data["k"] == "errore" else "ok", text=str(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None


# ---- rendering ---------------------------------------------------------------------------

OFFICE_LINKS = [
    ("/ufficio", "Cruscotto"),
    ("/ufficio/pratiche", "Pratiche"),
    ("/ufficio/relazioni", "Relazioni annuali"),
    ("/ufficio/comunicazioni", "Comunicazioni"),
    ("/ufficio/statistiche", "Statistiche"),
]


def nav_links(user: User) -> list[tuple[str, str]]:
    if user.role == Role.REPRESENTATIVE:
        return [("/distretto", "Il mio distretto")]
    if user.role == Role.COMMITTEE:
        return [("/comitato", "Valutazioni assegnate")]
    return OFFICE_LINKS


def role_label(user: User) -> str:
    office = f", {user.office}" if user.office and user.role != Role.REPRESENTATIVE else ""
    return ROLE_LABELS.get(user.role, str(user.role)) + office


PAGE_TEMPLATES = Path(__file__).parent / "templates"  # beside the pages' code and their static files


@lru_cache
def pages_environment() -> Environment:
    """The one Jinja2 environment (``notifications.rendering``: autoescape, filters) seeing the pages'
    templates too, as ``pages/...``."""
    shared = environment()
    assert shared.loader is not None
    return shared.overlay(
        loader=ChoiceLoader([PrefixLoader({"pages": FileSystemLoader(PAGE_TEMPLATES)}), shared.loader])
    )


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Renders pages/<template> with the user, the CSRF token, the navigation and any notice."""
    notice = _decode_notice(request.cookies.get(NOTICE_COOKIE))
    context.setdefault("profile", get_profile())
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("notice", notice)
    context.setdefault("errors", [])
    html = pages_environment().get_template(f"pages/{template}").render(
        csrf_token=csrf_token(request), request_path=request.url.path, nav_links=nav_links, role_label=role_label,
        **context,
    )  # fmt: skip
    response = HTMLResponse(html, status_code=status_code)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="lax", secure=cookie_secure(request))
    if notice is not None:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def redirect(url: str, notice: str | None = None, *, error: bool = False) -> RedirectResponse:
    """303 See Other (the browser follows with GET), with an optional notice for the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        kind = "errore" if error else "ok"
        response.set_cookie(
            NOTICE_COOKIE, _encode_notice(Notice(kind, notice)), httponly=True, samesite="lax", path="/",
            secure=is_production(get_settings()),
        )  # fmt: skip
    return response


def validation_messages(exc: ValidationError, labels: dict[str, str] | None = None) -> list[str]:
    """Pydantic errors as Italian sentences naming the form field ("Giorni: deve essere …")."""
    messages = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        reason = reason_of(dict(error))
        name = (labels or {}).get(field, field)
        messages.append(f"{name}: {reason}" if name else reason)
    return messages


def attempt(back: str, change: Callable[[], object], done: str, labels: dict[str, str] | None = None) -> Response:
    """Runs one change; back to ``back`` with «done», or with the error in Italian (nothing stored)."""
    try:
        change()
    except DomainError as exc:
        return redirect(back, exc.message, error=True)
    except ValidationError as exc:
        return redirect(back, "; ".join(validation_messages(exc, labels)), error=True)
    return redirect(back, done)


# ---- error pages and security headers ----------------------------------------------------


def install(app: FastAPI) -> None:
    """Login redirect, CSRF and competence errors as pages; security headers on every answer."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/accesso?dopo={quote(exc.next_url, safe='')}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        what = "il modulo è scaduto o non proviene da questo sito: ricaricare la pagina e riprovare"
        return page(request, "error.html.j2", 403, title="Modulo non valido", message=what)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return page(request, "error.html.j2", 403, title="Accesso non consentito", message=exc.message)

    for exc_class, json_handler in (
        (DomainError, errors.on_domain_error),
        (RequestValidationError, errors.on_validation_error),
        (StarletteHTTPException, errors.on_http_error),
        (IntegrityError, errors.on_integrity_error),
        (OperationalError, errors.on_operational_error),
        (Exception, errors.on_unexpected_error),
    ):
        app.add_exception_handler(exc_class, _as_page_for_browsers(json_handler))
    app.add_middleware(SecurityHeaders)


ERROR_TITLES = {
    401: "Accesso richiesto", 403: "Accesso non consentito", 404: "Pagina non trovata",
    409: "Operazione non consentita ora", 413: "File troppo grande", 422: "Dati non validi",
    429: "Troppi tentativi", 500: "Errore interno", 503: "Servizio momentaneamente non disponibile",
}  # fmt: skip


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/docs", "/redoc", "/openapi.json"))


def _as_page_for_browsers(json_handler: Callable[[Request, Exception], Awaitable[JSONResponse]]) -> Any:
    """The API's JSON error, shown as an Italian page when the request is for a page."""

    async def handler(request: Request, exc: Exception) -> Response:
        response = await json_handler(request, exc)
        if not is_page(request):
            return response
        body = json.loads(bytes(response.body))
        message = body.get("detail", "errore nella richiesta")
        reasons = [f"{e['field']}: {e['reason']}" for e in body.get("errors", [])]
        title = ERROR_TITLES.get(response.status_code, "Errore")
        shown = page(request, "error.html.j2", response.status_code, title=title, message=message, errors=reasons)
        if "allow" in response.headers:  # a 405 names the methods the address answers
            shown.headers["Allow"] = response.headers["allow"]
        return shown

    return handler


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
API_DOCS = ("/docs", "/redoc")  # Swagger UI loads its own scripts and styles


class SecurityHeaders:
    """nosniff, same-origin referrer, no framing; a strict CSP on everything but the API docs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = not str(scope.get("path", "")).startswith(API_DOCS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + COMMON_HEADERS
                if with_csp:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
