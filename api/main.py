"""The FastAPI application: JSON under /api/v1, OpenAPI at /docs, Italian error messages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.action_status import FinishedActions
from api.auth import LoginThrottle
from api.auth import router as auth_router
from api.inflight import InFlightLimit, inflight_limit
from api.input_guard import BodyGuard
from api.pages import account, application_page, committee_pages, district_pages, office, public, reports_pages, web
from api.routers import (
    actions,
    applications,
    committee,
    districts,
    documents,
    notifications,
    registry,
    reports,
    roster,
    stats,
    users,
)
from models.clock import is_working_day
from registro.db import pool_capacity
from registro.production_check import check_production
from registro.settings import get_settings

log = logging.getLogger("registro.api")

DESCRIPTION = """
API del **Registro regionale dei distretti produttivi**.

Ogni azione sul procedimento (presentazione, verifica di completezza, integrazioni, comitato,
preavviso di rigetto, atto di riconoscimento) è verificata subito rispetto al ciclo di vita della
domanda e poi eseguita dal flusso Prefect della sua fase: la risposta è **202** con l'azione in coda,
il cui stato si segue su `GET /api/v1/actions/{id}`.

Gli errori sono sempre JSON: `{"detail": "...", "code": "..."}` più i dettagli utili
(campo e motivo per il 422, stato e azioni consentite per il 409).

Il registro pubblico (`GET /api/v1/registry`) non richiede l'accesso; è diviso in pagine (`page`, `limit`
fino a 200), con il totale e i collegamenti nelle intestazioni `X-Total-Count`, `X-Page-Count` e `Link`.
"""

UPLOAD_MARGIN = 64 * 1024  # multipart headers and form fields around the file


async def _drain() -> None:
    """Lets the stage flows started by this process finish before it exits."""
    try:
        from flows.dispatch import drain
    except ImportError:  # flows not installed in this process (tests of the API alone)
        return
    await drain()


def _warm_up(today: date) -> None:
    """What the first actions' requests would otherwise load, each of them waiting for the first:
    the stage flows, which import Prefect (about 0.8 s), and the calendar of Italian holidays that
    every deadline reads (0.3 s)."""
    is_working_day(today)
    with contextlib.suppress(ImportError):  # flows not installed in this process (tests of the API alone)
        import flows.dispatch  # noqa: F401


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await anyio.to_thread.run_sync(_warm_up, date.today())
    yield
    await _drain()


def create_app(**overrides: Any) -> FastAPI:
    settings = get_settings()
    check_production(settings)  # production with development secrets: refuse to start
    app = FastAPI(
        title="Registro dei distretti produttivi",
        description=DESCRIPTION,
        version="1.0",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        **overrides,
    )
    app.state.login_throttle = LoginThrottle()
    app.state.finished_actions = FinishedActions()  # wakes the requests awaiting an action
    errors.install(app)
    api = APIRouter(prefix="/api/v1", responses=errors.API_ERRORS)
    api.include_router(auth_router)
    for module in (users, districts, applications, roster, documents, actions, committee):
        api.include_router(module.router)
    api.include_router(registry.router)
    api.include_router(stats.router)
    api.include_router(notifications.router)
    api.include_router(reports.router)
    app.include_router(api)
    for pages in (public, account, office, application_page, committee_pages, district_pages, reports_pages):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(web.__file__).parent / "static"), name="static")
    web.install(app)
    app.add_api_route("/", lambda: RedirectResponse("/registro"), include_in_schema=False)
    app.add_middleware(InFlightLimit, limit=inflight_limit(pool_capacity(settings.resolved_database_url)))
    # outermost: a request takes its slot only once its body has arrived, in time
    upload_limit = settings.max_upload_bytes + UPLOAD_MARGIN
    app.add_middleware(BodyGuard, upload_limit=upload_limit, grace=settings.body_grace_seconds)
    return app


app = create_app()
