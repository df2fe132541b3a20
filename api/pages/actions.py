"""The action forms of the application page: ONE table, event → form fields → JSON route function.

Which actions a user sees is decided by the lifecycle table (``allowed_events`` for the user's
role, the application's state and kind, as in the JSON read model); the button says the
transition's own label. This table only says how to ask for each event: the fields of its JSON
body (same names) and the route function of the JSON API that accepts it. Every rule stays there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from api.deps import Context, DispatchFn
from api.pages.web import redirect, validation_messages
from api.read import EVENT_LABELS
from api.routers import committee, completeness, recognition, submission
from api.schemas import (
    ActionAccepted,
    DeclareCompleteIn,
    IntegrationRequestIn,
    IssueActIn,
    NoteIn,
    ObservationsIn,
    ReasonIn,
)
from models.application import Application
from models.enums import ActionStatus, Event, State
from models.errors import DomainError, TransitionNotAllowed
from models.lifecycle import STATE_LABELS, allowed_events
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
    event: Event
    route: Callable[..., ActionAccepted]  # the JSON route function, called as a plain function
    body: type[BaseModel] | None  # its body model (None: the route takes no body)
    fields: tuple[FormField, ...]
    done: str  # the notice once the action is accepted
    danger: bool = False  # a closing decision: red button

    @property
    def label(self) -> str:
        return EVENT_LABELS[self.event]


REASON = FormField(
    "reason",
    "Motivazione",
    "textarea",
    required=True,
    hint="Almeno 3 caratteri. È riportata nel fascicolo e nella comunicazione al distretto.",
)
NOTE = FormField("note", "Nota per il fascicolo", "textarea", hint="Facoltativa.")
MISSING_ITEMS = FormField(
    "missing_items",
    "Elementi mancanti",
    "lines",
    required=True,
    hint="Un elemento per riga: sono elencati nella richiesta inviata al distretto.",
)
DEADLINE_DAYS = FormField(
    "deadline_days",
    "Giorni concessi per l'integrazione",
    "number",
    required=True,
    hint="Il termine del procedimento resta sospeso fino alla risposta.",
)
MEMBER_IDS = FormField(
    "member_ids",
    "Membri del comitato da assegnare",
    "members",
    hint="Se non se ne seleziona nessuno sono assegnati tutti i membri attivi dell'ufficio.",
)
OBSERVATIONS = FormField(
    "observations",
    "Osservazioni",
    "textarea",
    required=True,
    hint="Eventuali documenti vanno caricati prima, nella pagina dei documenti.",
)
PUBLICATION_REF = FormField(
    "publication_ref", "Estremi di pubblicazione", "text", hint="Ad esempio: BURP n. 20 del 12/03/2026."
)


def _form(event: Event, route: Callable[..., ActionAccepted], body: type[BaseModel] | None,
          fields: tuple[FormField, ...], done: str, danger: bool = False) -> ActionForm:  # fmt: skip
    return ActionForm(event, route, body, fields, done, danger)


ACTIONS: dict[Event, ActionForm] = {
    a.event: a
    for a in (
        _form(Event.SUBMIT, submission.submit, None, (), "Domanda presentata: il termine del procedimento decorre."),
        _form(Event.ANSWER_INTEGRATION, submission.answer_integration, NoteIn, (NOTE,),
              "Integrazioni inviate: il termine del procedimento riprende."),
        _form(Event.WITHDRAW, submission.withdraw, ReasonIn, (REASON,), "Domanda ritirata.", danger=True),
        _form(Event.START_REVIEW, completeness.start_review, None, (), "Istruttoria avviata."),
        _form(Event.REQUEST_INTEGRATION, completeness.request_integration, IntegrationRequestIn,
              (MISSING_ITEMS, DEADLINE_DAYS), "Richiesta di integrazione inviata: il termine è sospeso."),
        _form(Event.DECLARE_COMPLETE, completeness.declare_complete, DeclareCompleteIn, (MEMBER_IDS, NOTE),
              "Domanda dichiarata completa e trasmessa al comitato."),
        _form(Event.DECLARE_INADMISSIBLE, completeness.declare_inadmissible, ReasonIn, (REASON,),
              "Domanda dichiarata inammissibile.", danger=True),
        _form(Event.INTEGRATION_LAPSED, completeness.integration_lapsed, None, (),
              "Domanda chiusa per mancata integrazione.", danger=True),
        _form(Event.REGISTER, completeness.register, None, (), "Distretto iscritto nel censimento."),
        _form(Event.REFUSE_REGISTRATION, completeness.refuse_registration, ReasonIn, (REASON,),
              "Iscrizione nel censimento negata.", danger=True),
        _form(Event.APPROVE_RENEWAL, completeness.approve_renewal, None, (), "Rinnovo confermato."),
        _form(Event.APPROVE, committee.approve, None, (), "Esito positivo del comitato registrato."),
        _form(Event.NOTIFY_REJECTION_INTENT, committee.notify_rejection_intent, ReasonIn, (REASON,),
              "Preavviso di rigetto inviato: il termine è sospeso.", danger=True),
        _form(Event.SUBMIT_OBSERVATIONS, committee.submit_observations, ObservationsIn, (OBSERVATIONS,),
              "Osservazioni inviate: la domanda torna al comitato."),
        _form(Event.REJECT, recognition.reject, ReasonIn, (REASON,), "Domanda rigettata.", danger=True),
        _form(Event.ISSUE_ACT, recognition.issue_act, IssueActIn, (PUBLICATION_REF,),
              "Atto di riconoscimento emesso: il distretto è iscritto nel registro."),
        _form(Event.REVOKE, recognition.revoke, ReasonIn, (REASON,), "Riconoscimento revocato.", danger=True),
    )
}  # fmt: skip

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
        allowed = [EVENT_LABELS[e] for e in allowed_events(state, application.kind, ctx.user.role)]
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
        body = body_from_form(action, form)
        kwargs: dict[str, Any] = {"application": application, "ctx": ctx, "dispatch": dispatch}
        if action.body is not None:
            kwargs["body"] = body
        accepted = action.route(**kwargs)
    except ValidationError as exc:
        return redirect(back, field_errors(exc), error=True)
    except DomainError as exc:
        ctx.session.rollback()
        return redirect(back, domain_message(exc, application, action, ctx), error=True)
    if accepted.action.status == ActionStatus.FAILED:
        return redirect(back, f"«{action.label}» non eseguita: {accepted.action.error}", error=True)
    if accepted.action.status != ActionStatus.DONE:
        return redirect(back, f"«{action.label}»: richiesta accettata, in corso di esecuzione.")
    return redirect(back, action.done)
