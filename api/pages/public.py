"""The public registry as pages: no login, filters by section and status, each district's public card."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import NowDep, ProfileDep, SessionDep
from api.pages import web
from api.routers.registry import PAGE_SIZE, STATUS_OF, page_count, registry_entries
from api.routers.registry import registry_page as registry_page_entries
from api.schemas import RegistryEntryPublic
from models.text import digits

router = APIRouter(include_in_schema=False)
STATUSES = list(dict.fromkeys(STATUS_OF.values()))  # (code, label), in the table's order


def page(request: Request, session: Any, now: Any, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """A public page, which still shows who is logged in (if anyone)."""
    request.state.user = web.session_user(request, session, now)
    return web.page(request, template, status_code, **ctx)


class RegistryQuery(BaseModel):
    """The public registry's filters as they come (FastAPI query model); ``registry_page`` names every
    bad value on the page itself."""

    model_config = ConfigDict(extra="ignore")
    sezione: str = Field(default="", max_length=100)
    stato: str = Field(default="", max_length=100)
    pagina: str = Field(default="", max_length=100)


@router.get("/registro", response_class=HTMLResponse)
def registry_page(
    request: Request, session: SessionDep, now: NowDep, profile: ProfileDep, query: Annotated[RegistryQuery, Query()]
) -> HTMLResponse:
    sezione, stato, pagina = query.sezione, query.stato, query.pagina
    errors = []
    section = int(sezione) if digits(sezione) and profile.has_section(int(sezione)) else None
    if sezione and section is None:
        errors.append(f"sezione «{sezione[:20]}» inesistente")
    status = stato if stato in {code for code, _ in STATUSES} else None
    if stato and status is None:
        errors.append(f"stato «{stato[:20]}» sconosciuto")
    page_no = int(pagina) if digits(pagina) and 0 < len(pagina) < 7 and int(pagina) > 0 else None
    if pagina and page_no is None:
        errors.append(f"pagina «{pagina[:20]}» non valida (un numero da 1)")
    entries: list[RegistryEntryPublic] = []
    total, pages, beyond = 0, 1, False
    if not errors:
        entries, total = registry_page_entries(session, profile, section=section, status=status, page=page_no or 1)
        pages = page_count(total, PAGE_SIZE)
        beyond = (page_no or 1) > pages
        if beyond:
            errors.append(f"pagina {page_no} inesistente: le pagine sono {pages}")
    return page(
        request, session, now, "registry.html.j2", 422 if errors else 200,
        profile=profile, entries=entries, section=section, status=status, statuses=STATUSES, errors=errors,
        total=total, beyond=beyond, pager=_pager(section, status, page_no or 1, pages),
    )  # fmt: skip


def _pager(section: int | None, status: str | None, page_no: int, pages: int) -> dict[str, Any]:
    """Page n of pages, with the links to the previous, next, first and last page keeping the filters."""
    kept = {k: v for k, v in (("sezione", section), ("stato", status)) if v}

    def url(n: int) -> str:
        params = kept | ({"pagina": n} if n > 1 else {})
        return "/registro" + (f"?{urlencode(params)}" if params else "")

    return {
        "page": page_no,
        "pages": pages,
        "first": url(1) if page_no > 2 else None,  # only where it differs from the previous and next
        "previous": url(min(page_no, pages + 1) - 1) if page_no > 1 else None,
        "next": url(page_no + 1) if page_no < pages else None,
        "last": url(pages) if page_no < pages - 1 else None,
    }


@router.get("/registro/{district_id}", response_class=HTMLResponse)
def district_card(
    request: Request, district_id: int, session: SessionDep, now: NowDep, profile: ProfileDep
) -> HTMLResponse:
    entries = registry_entries(session, profile, district_id=district_id)
    if not entries:
        return page(request, session, now, "not_found.html.j2", 404, profile=profile, what=f"distretto {district_id}")
    return page(request, session, now, "district_card.html.j2", profile=profile, entry=entries[0])
