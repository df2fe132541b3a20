"""The decision stage: rejection after the notice, the recognition act, revocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.actions import ERROR_RESPONSES, accept
from api.deps import Ctx, CurrentApplication, Dispatcher
from api.schemas import ActionAccepted, IssueActIn, ReasonIn
from models.enums import Event

router = APIRouter(prefix="/applications/{application_id}/actions", tags=["Decisione"], responses=ERROR_RESPONSES)
ACCEPTED: dict[str, Any] = {"status_code": 202, "response_model": ActionAccepted}


@router.post("/reject", **ACCEPTED, summary="Rigetta la domanda (dopo il preavviso di rigetto)")
def reject(body: ReasonIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.REJECT, dispatch, body)


@router.post("/issue_act", **ACCEPTED, summary="Emetti l'atto di riconoscimento (iscrizione nel registro)")
def issue_act(
    application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher, body: IssueActIn | None = None
) -> ActionAccepted:
    return accept(ctx, application, Event.ISSUE_ACT, dispatch, body)


@router.post("/revoke", **ACCEPTED, summary="Revoca il riconoscimento")
def revoke(body: ReasonIn, application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher) -> ActionAccepted:
    return accept(ctx, application, Event.REVOKE, dispatch, body)
