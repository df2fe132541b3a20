"""The action routes: ``POST /applications/{id}/actions/{event}``, one per event a person may ask for,
generated from the lifecycle's declarations (``models.lifecycle``): the path is the event, the body
its payload model (optional when every field has a default), the summary and the roles its row's.
Each route only parses and calls ``api.actions.accept``: every rule is in the declaration.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from fastapi import APIRouter
from pydantic import BaseModel

from api.actions import accept
from api.deps import Ctx, CurrentApplication, Dispatcher
from api.schemas import ActionAccepted
from models.enums import Role, Subject
from models.lifecycle import TRANSITIONS, Transition
from models.payloads import body_is_optional

router = APIRouter(prefix="/applications/{application_id}/actions", tags=["Azioni sulla domanda"])


def requested_by_people(transition: Transition) -> bool:
    """An application event that someone other than the system may ask for: it has a route."""
    return transition.subject == Subject.APPLICATION and bool(transition.roles - {Role.SYSTEM})


def action_route(transition: Transition) -> Callable[..., ActionAccepted]:
    """The route function of ``transition``'s event, with the signature FastAPI reads."""
    event = transition.event

    def route(
        application: CurrentApplication, ctx: Ctx, dispatch: Dispatcher, body: BaseModel | None = None
    ) -> ActionAccepted:
        return accept(ctx, application, event, dispatch, body)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("application", keyword, annotation=CurrentApplication),
        inspect.Parameter("ctx", keyword, annotation=Ctx),
        inspect.Parameter("dispatch", keyword, annotation=Dispatcher),
    ]
    if (model := transition.payload) is not None:
        if body_is_optional(model):
            parameters.append(inspect.Parameter("body", keyword, annotation=model | None, default=None))
        else:
            parameters.append(inspect.Parameter("body", keyword, annotation=model))
    route.__signature__ = inspect.Signature(parameters, return_annotation=ActionAccepted)  # type: ignore[attr-defined]
    route.__name__ = route.__qualname__ = event.value
    return route


ROUTES: dict[str, Callable[..., ActionAccepted]] = {}
for _transition in TRANSITIONS:
    if requested_by_people(_transition) and _transition.event.value not in ROUTES:
        ROUTES[_transition.event.value] = action_route(_transition)
        router.add_api_route(
            f"/{_transition.event.value}",
            ROUTES[_transition.event.value],
            methods=["POST"],
            status_code=202,
            response_model=ActionAccepted,
            summary=_transition.summary or _transition.label,
        )
