"""The public registry as pages: no login, filters by section and status, each district's public card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import NowDep, ProfileDep, SessionDep
from api.pages import web
from api.routers.registry import STATUS_OF, registry_entries

router = APIRouter(include_in_schema=False)
STATUSES = list(dict.fromkeys(STATUS_OF.values()))  # (code, label), in the table's order


def page(request: Request, session: Any, now: Any, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """A public page, which still shows who is logged in (if anyone)."""
    request.state.user = web.session_user(request, session, now)
    return web.page(request, template, status_code, **ctx)


@router.get("/registro", response_class=HTMLResponse)
def registry_page(
    request: Request, session: SessionDep, now: NowDep, profile: ProfileDep, sezione: str = "", stato: str = ""
) -> HTMLResponse:
    errors = []
    section = int(sezione) if sezione.isdigit() and profile.has_section(int(sezione)) else None
    if sezione and section is None:
        errors.append(f"sezione «{sezione[:20]}» inesistente")
    status = stato if stato in {code for code, _ in STATUSES} else None
    if stato and status is None:
        errors.append(f"stato «{stato[:20]}» sconosciuto")
    entries = [] if errors else registry_entries(session, profile, section=section, status=status)
    return page(
        request, session, now, "registry.html.j2", 422 if errors else 200,
        profile=profile, entries=entries, section=section, status=status, statuses=STATUSES, errors=errors,
    )  # fmt: skip


@router.get("/registro/{district_id}", response_class=HTMLResponse)
def district_card(
    request: Request, district_id: int, session: SessionDep, now: NowDep, profile: ProfileDep
) -> HTMLResponse:
    entries = registry_entries(session, profile, district_id=district_id)
    if not entries:
        return page(request, session, now, "not_found.html.j2", 404, profile=profile, what=f"distretto {district_id}")
    return page(request, session, now, "district_card.html.j2", profile=profile, entry=entries[0])
