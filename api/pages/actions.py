"""The action forms of the application page, made from the lifecycle's declarations.

Which actions a user sees is decided by the lifecycle table (``allowed_events`` for the user's
role, the application's state and kind, as in the JSON read model); the button says the
transition's own label, the form asks for the fields of its payload model (``models.payloads``:
label, hint and widget of each field) and the page posts them to the same ``accept`` as the JSON
route. Every rule stays in the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from api.actions import accept
from api.deps import Context, DispatchFn
from api.pages.web import redirect, validation_messages
from api.routers.actions import requested_by_people
from models.application import Application
from models.enums import ActionStatus, Event, State
from models.errors import DomainError, TransitionNotAllowed
from models.labels import STATE_LABELS
from models.lifecycle import TRANSITIONS, Transition, allowed_events
from models.payloads import WIDGET
from models.profiles import RegionProfile


@dataclass(frozen=True)
class FormField:
    name: str  # the JSON body's field name
    label: str
    widget: str  # "text" | "textarea" | "lines" (one item per line) | "number" | "members" (checkboxes)
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class ActionForm:
    transition: Transition  # the event's declaration (its first row: the rows of an event agree)

    @property
    def event(self) -> Event:
        return self.transition.event

    @property
    def label(self) -> str:
        return self.transition.label

    @property
    def body(self) -> type[BaseModel] | None:
        return self.transition.payload

    @property
    def done(self) -> str:
        return self.transition.done

    @property
    def danger(self) -> bool:
        return self.transition.danger

    @property
    def fields(self) -> tuple[FormField, ...]:
        return form_fields(self.transition.payload)


def form_fields(model: type[BaseModel] | None) -> tuple[FormField, ...]:
    """The form's fields from the payload model's (``models.payloads.form_field``)."""
    if model is None:
        return ()
    fields = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        fields.append(FormField(name, info.title or name, str(extra.get(WIDGET, "text")), info.is_required(),
                                info.description or ""))  # fmt: skip
    return tuple(fields)


ACTIONS: dict[Event, ActionForm] = {}
for _transition in TRANSITIONS:
    if requested_by_people(_transition):
        ACTIONS.setdefault(_transition.event, ActionForm(_transition))

FIELD_LABELS: dict[str, str] = {f.name: f.label for a in ACTIONS.values() for f in a.fields}


def number_limits(profile: RegionProfile) -> dict[str, tuple[int, int]]:
    """min/max of the number inputs (the API checks them again)."""
    return {"deadline_days": (1, profile.integration_max_days)}


def form_for(event: str) -> ActionForm | None:
    try:
        return ACTIONS.get(Event(event))
    except ValueError:
        return None


def forms_allowed(events: list[Event]) -> list[ActionForm]:
    """The forms of the events the lifecycle allows now (system-only events have none)."""
    return [ACTIONS[e] for e in events if e in ACTIONS]


# ---- from the form to the JSON route and back ----------------------------------------------


def body_from_form(action: ActionForm, form: FormData) -> BaseModel | None:
    """The JSON body built from the posted fields (same names); pydantic checks it as the API does."""
    if action.body is None:
        return None
    data: dict[str, Any] = {}
    for field in action.fields:
        if field.widget == "members":
            chosen = [v.strip() for v in form.getlist(field.name) if isinstance(v, str) and v.strip()]
            if chosen:
                data[field.name] = chosen
            continue
        raw = form.get(field.name)
        text = raw.strip() if isinstance(raw, str) else ""
        if field.widget == "lines":
            data[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif text or field.required:
            data[field.name] = text
    return action.body.model_validate(data)


def field_errors(exc: ValidationError) -> str:
    labels = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        if loc:
            labels[".".join(loc)] = FIELD_LABELS.get(loc[0], loc[0])
    return "; ".join(validation_messages(exc, labels))


def domain_message(exc: DomainError, application: Application, action: ActionForm, ctx: Context) -> str:
    """The API's Italian message; a state conflict names the state and what is allowed instead."""
    if isinstance(exc, TransitionNotAllowed):
        state = State(exc.details.get("state", application.state))
        allowed = [ACTIONS[e].label for e in allowed_events(state, application.kind, ctx.user.role) if e in ACTIONS]
        instead = "; ".join(f"«{label}»" for label in allowed) or "nessuna"
        return (
            f"«{action.label}» non è consentita nello stato «{STATE_LABELS[state]}». Azioni consentite ora: {instead}."
        )
    field = exc.details.get("field")
    return f"{FIELD_LABELS.get(field, field)}: {exc.message}" if isinstance(field, str) else exc.message


def perform(
    action: ActionForm, *, application: Application, ctx: Context, dispatch: DispatchFn, form: FormData
) -> RedirectResponse:
    """Calls the JSON route with the body from the form; back to the page with the outcome."""
    back = f"/pratiche/{application.id}"
    try:
        accepted = accept(ctx, application, action.event, dispatch, body_from_form(action, form))
    except ValidationError as exc:
        return redirect(back, field_errors(exc), error=True)
    except DomainError as exc:
        ctx.session.rollback()
        return redirect(back, domain_message(exc, application, action, ctx), error=True)
    if accepted.action.status == ActionStatus.FAILED:
        return redirect(back, f"«{action.label}» non eseguita: {accepted.action.error}", error=True)
    if accepted.action.status != ActionStatus.DONE:
        return redirect(back, f"«{action.label}»: richiesta accettata, in corso di esecuzione.")
    return redirect(back)  # the page says it is done (application_page.last_outcome), now or once carried out
