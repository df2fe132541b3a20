"""The representative's actions on the procedure: submit, answer an integration request, withdraw."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.actions import ERROR_RESPONSES, accept
from api.deps import Ctx, CurrentApplication, Dispatcher
from api.schemas import ActionAccepted, NoteIn, ReasonIn
from models.enums import Event

router = APIRouter(prefix="/applications/{application_id}/actions", tags=["Presentazione"], responses=ERROR_RESPONSES)
ACCEPTED: dict[str, Any] = {"status_code": 202, "response_model": ActionAccepted}


@router.post("/submit", **ACCEPTED, summary="Presenta la domanda (avvia il termine del procedimento)")
def submit(application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.SUBMIT, dispatch)


@router.post("/answer_integration", **ACCEPTED, summary="Invia le integrazioni richieste (riprende il termine)")
def answer_integration(
    application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher, body: NoteIn | None = None
) -> ActionAccepted:
    return accept(ctx, application, Event.ANSWER_INTEGRATION, dispatch, body)


@router.post("/withdraw", **ACCEPTED, summary="Ritira la domanda")
def withdraw(body: ReasonIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.WITHDRAW, dispatch, body)
