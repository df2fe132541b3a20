"""The official's completeness check: start, verdict (complete / integration / inadmissible), census."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.actions import ERROR_RESPONSES, accept
from api.deps import Ctx, CurrentApplication, Dispatcher
from api.routers.committee import check_members
from api.schemas import ActionAccepted, DeclareCompleteIn, IntegrationRequestIn, ReasonIn
from models.enums import Event
from models.errors import InvalidInput

router = APIRouter(prefix="/applications/{application_id}/actions", tags=["Istruttoria"], responses=ERROR_RESPONSES)
ACCEPTED: dict[str, Any] = {"status_code": 202, "response_model": ActionAccepted}


@router.post("/start_review", **ACCEPTED, summary="Avvia l'istruttoria (verifica di completezza)")
def start_review(application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.START_REVIEW, dispatch)


@router.post("/declare_complete", **ACCEPTED, summary="Esito: domanda completa, trasmessa al comitato")
def declare_complete(
    application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher, body: DeclareCompleteIn | None = None
) -> ActionAccepted:
    if body is not None and body.member_ids:
        check_members(ctx, application, body.member_ids)
    return accept(ctx, application, Event.DECLARE_COMPLETE, dispatch, body)


@router.post("/request_integration", **ACCEPTED, summary="Esito: richiesta di integrazioni (sospende il termine)")
def request_integration(
    body: IntegrationRequestIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher
) -> ActionAccepted:
    if body.deadline_days > ctx.profile.integration_max_days:
        limit = ctx.profile.integration_max_days
        raise InvalidInput(f"al massimo {limit} giorni (L. 241/1990, art. 2 c. 7)", field="deadline_days")
    return accept(ctx, application, Event.REQUEST_INTEGRATION, dispatch, body)


@router.post("/declare_inadmissible", **ACCEPTED, summary="Esito: domanda inammissibile")
def declare_inadmissible(
    body: ReasonIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher
) -> ActionAccepted:
    return accept(ctx, application, Event.DECLARE_INADMISSIBLE, dispatch, body)


@router.post("/integration_lapsed", **ACCEPTED, summary="Chiude la domanda per mancata integrazione nei termini")
def integration_lapsed(application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.INTEGRATION_LAPSED, dispatch)


@router.post("/register", **ACCEPTED, summary="Censimento (sezione informativa): iscrivi")
def register(application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.REGISTER, dispatch)


@router.post("/refuse_registration", **ACCEPTED, summary="Censimento (sezione informativa): non iscrivere")
def refuse_registration(
    body: ReasonIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher
) -> ActionAccepted:
    return accept(ctx, application, Event.REFUSE_REGISTRATION, dispatch, body)


@router.post(
    "/approve_renewal", **ACCEPTED, summary="Rinnovo: conferma il riconoscimento dopo la verifica (controlli ridotti)"
)
def approve_renewal(application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.APPROVE_RENEWAL, dispatch)
