"""The payload of each event: one pydantic model that is both the API body and the page form.

A transition names its model (``models.lifecycle``: ``payload=``); the API generates the event's
route with it as the body (``api.routers.actions``) and the application page renders its form from
the same fields (``api.pages.actions``): ``title`` is the field's label, ``description`` its hint
(also in the OpenAPI), ``x-widget`` how the page asks for it — ``text``, ``textarea``, ``lines`` (one
item per line), ``number``, ``members`` (the committee's checkboxes).

What a payload must satisfy beyond its own shape — the profile's limit on the integration days, the
members named for the committee — is a check of the transition (``PayloadCheck``), run by
``models.service.check_event`` when the action is requested and again when it is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.access import competent
from models.application import Application
from models.enums import Role
from models.errors import InvalidInput
from models.people import User
from models.profiles import RegionProfile
from models.text import MultiLine, SingleLine

WIDGET = "x-widget"


def form_field(title: str, widget: str, hint: str = "", **constraints: Any) -> Any:
    """A payload field with its label, hint and page widget (see the module docstring)."""
    return Field(title=title, description=hint or None, json_schema_extra={WIDGET: widget}, **constraints)


class NoteIn(BaseModel):
    note: MultiLine | None = form_field(
        "Nota per il fascicolo", "textarea", "Facoltativa.", default=None, max_length=5000
    )


class DeclareCompleteIn(BaseModel):
    member_ids: list[int] | None = form_field(
        "Membri del comitato da assegnare",
        "members",
        "Se non se ne seleziona nessuno sono assegnati tutti i membri attivi dell'ufficio competente.",
        default=None,
        max_length=30,
    )
    note: MultiLine | None = form_field(
        "Nota per il fascicolo", "textarea", "Facoltativa.", default=None, max_length=5000
    )


class IntegrationRequestIn(BaseModel):
    missing_items: list[Annotated[SingleLine, Field(max_length=500)]] = form_field(
        "Elementi mancanti",
        "lines",
        "Un elemento per riga: sono elencati nella richiesta inviata al distretto.",
        min_length=1,
        max_length=50,
    )
    deadline_days: int = form_field(
        "Giorni concessi per l'integrazione",
        "number",
        "Al massimo quelli del profilo della regione; il termine del procedimento resta sospeso fino alla risposta.",
        ge=1,
        le=90,
    )


def statement(title: str, hint: str) -> Any:
    """A required text of a few words to a few pages (a reason, observations)."""
    return form_field(title, "textarea", hint, min_length=3, max_length=5000)


class ReasonIn(BaseModel):
    reason: MultiLine = statement(
        "Motivazione", "Almeno 3 caratteri. È riportata nel fascicolo e nella comunicazione al distretto."
    )


class ObservationsIn(BaseModel):
    observations: MultiLine = statement(
        "Osservazioni", "Eventuali documenti vanno caricati prima, nella pagina dei documenti."
    )


class IssueActIn(BaseModel):
    publication_ref: SingleLine = form_field(
        "Estremi di pubblicazione", "text", "Ad esempio: BURP n. 20 del 12/03/2026.", default="", max_length=200
    )


def body_is_optional(model: type[BaseModel]) -> bool:
    """A body whose every field has a default may be left out of the request."""
    return not any(field.is_required() for field in model.model_fields.values())


# ---- checks of a payload against the profile and the database (``Transition.check``) ----------------

PayloadCheck = Callable[[Session, Application, dict[str, Any], RegionProfile], None]


def integration_days_within_profile(
    session: Session, application: Application, payload: dict[str, Any], profile: RegionProfile
) -> None:
    """At least one missing item named, and a term within the profile's maximum."""
    if not payload.get("missing_items"):
        raise InvalidInput("indicare almeno un elemento mancante", field="missing_items")
    days = payload.get("deadline_days")
    if isinstance(days, int) and days > profile.integration_max_days:
        limit = profile.integration_max_days
        raise InvalidInput(f"al massimo {limit} giorni (L. 241/1990, art. 2 c. 7)", field="deadline_days")


def committee_members_fit(
    session: Session, application: Application, payload: dict[str, Any], profile: RegionProfile
) -> None:
    """Every member named must be an active committee member competent for the application's section."""
    member_ids = payload.get("member_ids") or []
    if not member_ids:
        return
    users = session.exec(select(User).where(col(User.id).in_(member_ids))).all()
    fit = {u.id for u in users if u.role == Role.COMMITTEE and u.active and competent(u, application, profile)}
    unfit = [i for i in member_ids if i not in fit]
    if unfit:
        raise InvalidInput(
            f"non sono membri del comitato competenti per la sezione: {', '.join(map(str, unfit))}", field="member_ids"
        )
