"""Request bodies and read models of the API (JSON field names in English, texts in Italian)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from models.district import DistrictBase
from models.enums import ActionStatus, ApplicationKind, DocumentKind, Event, Role, State
from models.text import MultiLine, OptionalEmailAddress, SingleLine

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# ---- auth ---------------------------------------------------------------------------------


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# ---- districts ----------------------------------------------------------------------------


class DistrictCreate(DistrictBase):
    """The district as typed: single-line texts and a well-formed PEC address (``models.text``)."""

    name: SingleLine = Field(min_length=3, max_length=200)
    supply_chain: SingleLine = Field(default="", max_length=500)
    territory: SingleLine = Field(default="", max_length=500)
    representative_org: SingleLine = Field(default="", max_length=200)
    pec_email: OptionalEmailAddress = Field(default="", max_length=254, description="Indirizzo PEC del distretto")
    representative_id: int | None = Field(
        default=None, description="Solo per l'amministratore: l'utente rappresentante da collegare al distretto"
    )


# ---- applications -------------------------------------------------------------------------


class ApplicationCreateIn(BaseModel):
    district_id: int | None = Field(default=None, description="Facoltativo per il rappresentante: il suo distretto")
    kind: ApplicationKind = ApplicationKind.RECOGNITION
    renewal_of_id: int | None = Field(default=None, description="Per il rinnovo: la domanda attiva del distretto")
    programme_summary: MultiLine = Field(default="", max_length=20000)
    specificity: MultiLine = Field(default="", max_length=20000)


class AllowedAction(BaseModel):
    event: Event
    label: str
    path: str


class ClockRead(BaseModel):
    term_days: int
    started_on: date
    deadline: date
    days_used: int
    days_suspended: int
    days_left: int
    suspended_now: bool
    status: str


class ActionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    application_id: int
    event: Event
    status: ActionStatus
    error: str | None = None
    flow_run_id: str | None = None
    requested_at: datetime
    finished_at: datetime | None = None


class ApplicationRead(BaseModel):
    id: int
    district_id: int
    district_name: str
    kind: ApplicationKind
    section: int
    section_name: str
    office: str
    state: State
    state_label: str
    version: int
    programme_summary: str
    specificity: str
    renewal_of_id: int | None
    protocol: str | None = Field(description="Numero di protocollo della presentazione (anno/numero)")
    enterprises: int
    employees: int
    term_deadline: date | None
    integration_deadline: date | None
    observations_deadline: date | None
    clock: ClockRead | None
    overdue: bool
    pending_action_id: int | None
    allowed_actions: list[AllowedAction]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    activated_at: datetime | None
    closed_at: datetime | None


class TimelineItem(BaseModel):
    at: datetime
    event: Event
    event_label: str
    from_state: State
    from_label: str
    to_state: State
    to_label: str
    actor_id: int | None
    actor_name: str | None
    actor_role: str
    reason: str | None
    flow_run_id: str | None
    details: dict[str, Any]


class SuspensionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    reason: str
    legal_basis: str
    started_on: date
    ends_by: date
    ended_on: date | None


class DocumentRead(BaseModel):
    id: int
    kind: DocumentKind
    kind_label: str
    filename: str
    content_type: str
    size: int
    sha256: str
    protocol: str | None
    uploaded_at: datetime
    download_url: str


class ApplicationDetail(ApplicationRead):
    timeline: list[TimelineItem]
    suspensions: list[SuspensionRead]
    documents: list[DocumentRead]
    pending_action: ActionRead | None


class ApplicationStatus(BaseModel):
    """The file as the 202 leaves it: busy with the accepted action until its stage flow ends. The
    action's outcome is at ``GET /actions/{id}``; the whole file, once changed, at ``GET /applications/{id}``."""

    id: int
    state: State
    state_label: str
    version: int
    pending_action_id: int | None


class ActionAccepted(BaseModel):
    """202: the request passed every check and was handed to its stage flow."""

    application: ApplicationStatus
    action: ActionRead


# ---- action payloads ----------------------------------------------------------------------


# ---- roster -------------------------------------------------------------------------------


class RosterRowIn(BaseModel):
    """One enterprise as sent by the client: checked by the roster rules, not here."""

    model_config = ConfigDict(extra="allow")
    name: Any = None
    tax_code: Any = None
    vat_number: Any = None
    ateco: Any = None
    employees: Any = None
    region: Any = None


class RosterIn(BaseModel):
    rows: list[RosterRowIn] = Field(max_length=20000)


class RosterRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    row_no: int
    name: str
    tax_code: str
    vat_number: str
    ateco: str
    employees: int
    region: str


class RosterRead(BaseModel):
    enterprises: int
    employees: int
    rows: list[RosterRowRead]


# ---- committee ----------------------------------------------------------------------------


class CommitteeAssignIn(BaseModel):
    member_ids: list[int] = Field(min_length=1, max_length=30)


class CommitteeMemberRead(BaseModel):
    user_id: int
    full_name: str
    scored_this_round: bool


class EvaluationIn(BaseModel):
    scores: dict[str, int] = Field(description="Punteggio per criterio (codice del criterio → punti)")
    remarks: MultiLine = Field(default="", max_length=5000)


class EvaluationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: int
    round: int
    scores: dict[str, Any]
    total: float
    remarks: str
    created_at: datetime


# ---- users --------------------------------------------------------------------------------


class MeRead(BaseModel):
    id: int
    username: str
    full_name: str
    email: str
    role: Role
    office: str | None
    district_id: int | None


# ---- public registry ----------------------------------------------------------------------

RegistryStatus = Literal["active", "renewal_in_progress", "expired", "revoked", "census"]


class RegistryEntryPublic(BaseModel):
    district_id: int
    district_name: str
    section: int
    section_name: str
    representative_org: str
    enterprises: int
    employees: int
    act_type: str | None
    act_number: str | None
    act_date: date | None
    publication_ref: str | None
    valid_from: date
    valid_until: date | None
    status: RegistryStatus
    status_label: str
