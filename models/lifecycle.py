"""THE table of transitions: event, source states, target, who may, guard, clock, notices, the stage
flow that carries it out and the document it issues.

Everything that moves an application (or an annual report) is one row here. The service
(`models.service.apply_event`) is the only code that applies a row; the API and the web
pages ask this table which actions are allowed now, the stage flows which events are theirs
(``stage_of``), the document step what to issue (``document_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import BaseModel

from models import effects, notices
from models.application import Application
from models.effects import Effect
from models.enums import ApplicationKind, ClockEffect, DocumentKind, Event, Role, Stage, State, Subject
from models.errors import TransitionNotAllowed
from models.labels import DOCUMENT_LABELS, STATE_LABELS
from models.notices import Notice
from models.payloads import (
    DeclareCompleteIn,
    IntegrationRequestIn,
    IssueActIn,
    NoteIn,
    ObservationsIn,
    PayloadCheck,
    ReasonIn,
    committee_members_fit,
    integration_days_within_profile,
)
from models.profiles import RegionProfile


@dataclass(frozen=True)
class GuardContext:
    """Facts a guard may look at. Built by the service; guards never query or read the clock."""

    profile: RegionProfile
    today: date
    kind: ApplicationKind
    section: int
    enterprises: int = 0
    employees: int = 0
    documents: frozenset[DocumentKind] = frozenset()
    integration_requests: int = 0
    rejection_notices: int = 0
    evaluations: int = 0
    average_score: float | None = None
    integration_deadline: date | None = None
    observations_deadline: date | None = None
    valid_until: date | None = None


Guard = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class DocumentSpec:
    """The document an event issues: rendered from ``template`` (``tasks.documents``)."""

    kind: DocumentKind
    template: str
    title: str  # Italian, also the protocol subject
    outbound: bool  # True: an outbound protocol entry; False: it cites the inbound one (the receipt)
    numbered_act: bool = False  # an act of the series numbered each year (models.registry.RecognitionAct)


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[State]
    target: State
    roles: frozenset[Role]
    label: str  # what the action is called on a button, in Italian
    guard: Guard | None = None
    kinds: frozenset[ApplicationKind] | None = None  # None: every kind
    clock: ClockEffect | None = None
    notify: tuple[Notice, ...] = ()  # the notices it sends (models.notices)
    subject: Subject = Subject.APPLICATION
    payload: type[BaseModel] | None = None  # the body of its request and the fields of its form
    check: PayloadCheck | None = None  # what the payload must satisfy beyond its shape (models.payloads)
    stage: Stage | None = None  # the stage flow that carries it out; None: applied where it is requested
    document: DocumentSpec | None = None  # the document it issues
    effect: Effect | None = None  # what it writes besides the state and the clock (models.effects)
    attachments: DocumentKind | None = None  # what the representative files with it (uploaded in its sources)
    renewed_entry: Event | None = None  # on a renewal: the event it applies to the entry being renewed
    summary: str = ""  # the API's description of its route (default: the label)
    done: str = ""  # what the page says once the action is accepted
    danger: bool = False  # a closing decision: a red button

    @property
    def payload_fields(self) -> tuple[str, ...]:
        return tuple(self.payload.model_fields) if self.payload is not None else ()


# ---- guards: pure, return the reason in Italian or None --------------------------------


def eligible(ctx: GuardContext) -> str | None:
    section = ctx.profile.section(ctx.section)
    problems: list[str] = []
    if ctx.enterprises < section.min_enterprises:
        problems.append(f"servono almeno {section.min_enterprises} imprese aderenti (presenti {ctx.enterprises})")
    if ctx.employees < section.min_employees:
        problems.append(f"servono almeno {section.min_employees} addetti (presenti {ctx.employees})")
    missing = [kind for kind in section.required_documents if kind not in ctx.documents]
    if missing:
        problems.append("mancano i documenti: " + ", ".join(DOCUMENT_LABELS[k] for k in missing))
    return "; ".join(problems) or None


def first_integration_request(ctx: GuardContext) -> str | None:
    # an integration deadline is set by the request and never cleared: it marks one even in a list's context
    if ctx.integration_requests or ctx.integration_deadline is not None:
        return "la sospensione per integrazione documentale è consentita una sola volta (L. 241/1990, art. 2 c. 7)"
    return None


def integration_deadline_passed(ctx: GuardContext) -> str | None:
    if ctx.integration_deadline is None or ctx.today <= ctx.integration_deadline:
        return f"il termine per l'integrazione ({ctx.integration_deadline}) non è ancora scaduto"
    return None


def within_integration_deadline(ctx: GuardContext) -> str | None:
    if ctx.integration_deadline is not None and ctx.today > ctx.integration_deadline:
        return f"il termine per l'integrazione è scaduto il {ctx.integration_deadline:%d/%m/%Y}"
    return None


def within_observations_deadline(ctx: GuardContext) -> str | None:
    if ctx.observations_deadline is not None and ctx.today > ctx.observations_deadline:
        return f"il termine per le osservazioni è scaduto il {ctx.observations_deadline:%d/%m/%Y}"
    return None


def _quorum(ctx: GuardContext) -> str | None:
    quorum = ctx.profile.committee.quorum
    if ctx.evaluations < quorum:
        return f"servono almeno {quorum} valutazioni del comitato (presenti {ctx.evaluations})"
    return None


def committee_positive(ctx: GuardContext) -> str | None:
    missing = _quorum(ctx)
    if missing:
        return missing
    assert ctx.average_score is not None
    if ctx.average_score < ctx.profile.committee.pass_score:
        return (
            f"punteggio medio {ctx.average_score:.1f} inferiore alla soglia "
            f"{ctx.profile.committee.pass_score:.0f}: occorre il preavviso di rigetto"
        )
    return None


def committee_negative(ctx: GuardContext) -> str | None:
    missing = _quorum(ctx)
    if missing:
        return missing
    assert ctx.average_score is not None
    if ctx.average_score >= ctx.profile.committee.pass_score:
        return f"punteggio medio {ctx.average_score:.1f} pari o superiore alla soglia: la domanda va accolta"
    return None


def after_rejection_notice(ctx: GuardContext) -> str | None:
    if not ctx.rejection_notices:
        return "prima del rigetto va comunicato il preavviso di rigetto (L. 241/1990, art. 10-bis)"
    return committee_negative(ctx)


def observations_period_over(ctx: GuardContext) -> str | None:
    if ctx.observations_deadline is not None and ctx.today <= ctx.observations_deadline:
        return f"il termine per le osservazioni scade il {ctx.observations_deadline:%d/%m/%Y}"
    return None


def before_expiry(ctx: GuardContext) -> str | None:
    if ctx.valid_until is not None and ctx.today > ctx.valid_until:
        return f"il riconoscimento è scaduto il {ctx.valid_until:%d/%m/%Y}: il rinnovo non è più possibile"
    return None


def validity_ended(ctx: GuardContext) -> str | None:
    if ctx.valid_until is None or ctx.today <= ctx.valid_until:
        return "il periodo di validità non è ancora terminato"
    return None


# ---- the table --------------------------------------------------------------------------

S = State
R = Role
K = ApplicationKind
OPEN_STATES = frozenset(
    {
        S.DRAFT,
        S.SUBMITTED,
        S.COMPLETENESS_CHECK,
        S.INTEGRATION_REQUESTED,
        S.COMMITTEE_EVALUATION,
        S.REJECTION_NOTICE,
    }
)
# an application that is (or was) a registry entry: its guards read the entry's validity
ENTRY_STATES = frozenset(
    {S.ACTIVE, S.RENEWAL_REQUESTED, S.REVOCATION_NOTICE, S.EXPIRED, S.REVOKED, S.REGISTERED, S.RENEWED}
)
OFFICE = frozenset({R.OFFICIAL, R.HEAD})
NOT_CENSUS = frozenset({K.RECOGNITION, K.RENEWAL})
SUBMISSION, COMPLETENESS, COMMITTEE, RECOGNITION = (
    Stage.SUBMISSION,
    Stage.COMPLETENESS,
    Stage.COMMITTEE,
    Stage.RECOGNITION,
)


def _t(
    event: Event, sources: Iterable[State], target: State, roles: Iterable[Role], label: str, **kw: object
) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(roles), label, **kw)  # type: ignore[arg-type]


# events with two rows: the second is the first with other sources (and guard or notices)
REJECT = _t(
    Event.REJECT,
    {S.COMMITTEE_EVALUATION},
    S.REJECTED,
    {R.HEAD},
    "Rigetta la domanda",
    payload=ReasonIn,
    summary="Rigetta la domanda (dopo il preavviso di rigetto)",
    done="Domanda rigettata.",
    danger=True,
    guard=after_rejection_notice,
    clock=ClockEffect.STOP,
    notify=(notices.DECISION,),
    stage=COMMITTEE,
    renewed_entry=Event.RENEWAL_REFUSED,
)
WITHDRAW = _t(
    Event.WITHDRAW,
    set(OPEN_STATES - {S.DRAFT}),
    S.WITHDRAWN,
    {R.REPRESENTATIVE},
    "Ritira la domanda",
    payload=ReasonIn,
    done="Domanda ritirata.",
    danger=True,
    clock=ClockEffect.STOP,
    notify=(notices.WITHDRAWN,),
    stage=COMPLETENESS,
    renewed_entry=Event.RENEWAL_REFUSED,
)

TRANSITIONS: tuple[Transition, ...] = (
    _t(
        Event.SUBMIT,
        {S.DRAFT},
        S.SUBMITTED,
        {R.REPRESENTATIVE},
        "Presenta la domanda",
        summary="Presenta la domanda (avvia il termine del procedimento)",
        done="Domanda presentata: il termine del procedimento decorre.",
        guard=eligible,
        clock=ClockEffect.START,
        notify=(notices.PROCEDURE_STARTED,),
        stage=SUBMISSION,
        effect=effects.protocol_submission,
        renewed_entry=Event.REQUEST_RENEWAL,
        document=DocumentSpec(DocumentKind.RECEIPT, "receipt", "Ricevuta di presentazione della domanda", False),
    ),
    _t(
        Event.START_REVIEW,
        {S.SUBMITTED},
        S.COMPLETENESS_CHECK,
        OFFICE,
        "Avvia l'istruttoria",
        summary="Avvia l'istruttoria (verifica di completezza)",
        done="Istruttoria avviata.",
        stage=COMPLETENESS,
        effect=effects.take_charge,
    ),
    _t(
        Event.REQUEST_INTEGRATION,
        {S.COMPLETENESS_CHECK},
        S.INTEGRATION_REQUESTED,
        OFFICE,
        "Richiedi integrazioni",
        payload=IntegrationRequestIn,
        check=integration_days_within_profile,
        summary="Esito: richiesta di integrazioni (sospende il termine)",
        done="Richiesta di integrazione inviata: il termine è sospeso.",
        guard=first_integration_request,
        clock=ClockEffect.SUSPEND_INTEGRATION,
        notify=(notices.INTEGRATION_REQUEST,),
        stage=COMPLETENESS,
        document=DocumentSpec(
            DocumentKind.INTEGRATION_REQUEST, "integration_request", "Richiesta di integrazione documentale", True
        ),
    ),
    _t(
        Event.ANSWER_INTEGRATION,
        {S.INTEGRATION_REQUESTED},
        S.COMPLETENESS_CHECK,
        {R.REPRESENTATIVE},
        "Invia le integrazioni",
        payload=NoteIn,
        summary="Invia le integrazioni richieste (riprende il termine)",
        done="Integrazioni inviate: il termine del procedimento riprende.",
        guard=within_integration_deadline,
        attachments=DocumentKind.INTEGRATION,
        clock=ClockEffect.RESUME,
        notify=(notices.INTEGRATION_RECEIVED,),
        stage=COMPLETENESS,
    ),
    _t(
        Event.INTEGRATION_LAPSED,
        {S.INTEGRATION_REQUESTED},
        S.INADMISSIBLE,
        {R.OFFICIAL, R.HEAD, R.SYSTEM},
        "Chiudi per mancata integrazione",
        summary="Chiude la domanda per mancata integrazione nei termini",
        done="Domanda chiusa per mancata integrazione.",
        danger=True,
        guard=integration_deadline_passed,
        clock=ClockEffect.STOP,
        notify=(notices.DECISION,),
        stage=COMPLETENESS,
        renewed_entry=Event.RENEWAL_REFUSED,
    ),
    _t(
        Event.DECLARE_COMPLETE,
        {S.COMPLETENESS_CHECK},
        S.COMMITTEE_EVALUATION,
        OFFICE,
        "Dichiara completa e trasmetti al comitato",
        payload=DeclareCompleteIn,
        check=committee_members_fit,
        summary="Esito: domanda completa, trasmessa al comitato",
        done="Domanda dichiarata completa e trasmessa al comitato.",
        kinds=NOT_CENSUS,
        stage=COMPLETENESS,
        effect=effects.assign_committee,
    ),
    _t(
        Event.DECLARE_INADMISSIBLE,
        {S.COMPLETENESS_CHECK},
        S.INADMISSIBLE,
        OFFICE,
        "Dichiara inammissibile",
        payload=ReasonIn,
        summary="Esito: domanda inammissibile",
        done="Domanda dichiarata inammissibile.",
        danger=True,
        clock=ClockEffect.STOP,
        notify=(notices.DECISION,),
        stage=COMPLETENESS,
        renewed_entry=Event.RENEWAL_REFUSED,
    ),
    _t(
        Event.REGISTER,
        {S.COMPLETENESS_CHECK},
        S.REGISTERED,
        OFFICE,
        "Iscrivi nel censimento",
        summary="Censimento (sezione informativa): iscrivi",
        done="Distretto iscritto nel censimento.",
        kinds=frozenset({K.CENSUS}),
        clock=ClockEffect.STOP,
        notify=(notices.DECISION,),
        stage=COMPLETENESS,
        effect=effects.register_in_census,
    ),
    _t(
        Event.REFUSE_REGISTRATION,
        {S.COMPLETENESS_CHECK},
        S.NOT_REGISTERED,
        OFFICE,
        "Non iscrivere",
        payload=ReasonIn,
        summary="Censimento (sezione informativa): non iscrivere",
        done="Iscrizione nel censimento negata.",
        danger=True,
        kinds=frozenset({K.CENSUS}),
        clock=ClockEffect.STOP,
        notify=(notices.DECISION,),
        stage=COMPLETENESS,
    ),
    _t(
        Event.APPROVE,
        {S.COMMITTEE_EVALUATION},
        S.RECOGNISED,
        {R.OFFICIAL, R.HEAD, R.COMMITTEE},
        "Registra l'esito positivo del comitato",
        done="Esito positivo del comitato registrato.",
        guard=committee_positive,
        clock=ClockEffect.STOP,
        stage=COMMITTEE,
        effect=effects.record_positive_outcome,
    ),
    _t(
        Event.APPROVE_RENEWAL,
        {S.COMPLETENESS_CHECK},
        S.RECOGNISED,
        OFFICE,
        "Conferma il riconoscimento (rinnovo, senza nuova valutazione del comitato)",
        summary="Rinnovo: conferma il riconoscimento dopo la verifica (controlli ridotti)",
        done="Rinnovo confermato.",
        guard=eligible,
        kinds=frozenset({K.RENEWAL}),
        clock=ClockEffect.STOP,
        stage=COMPLETENESS,
    ),
    _t(
        Event.NOTIFY_REJECTION_INTENT,
        {S.COMMITTEE_EVALUATION},
        S.REJECTION_NOTICE,
        OFFICE,
        "Invia il preavviso di rigetto",
        payload=ReasonIn,
        summary="Invia il preavviso di rigetto (10 giorni)",
        done="Preavviso di rigetto inviato: il termine è sospeso.",
        danger=True,
        guard=committee_negative,
        clock=ClockEffect.SUSPEND_REJECTION_NOTICE,
        notify=(notices.REJECTION_NOTICE,),
        stage=COMMITTEE,
        effect=effects.record_negative_outcome,
        document=DocumentSpec(
            DocumentKind.REJECTION_NOTICE,
            "rejection_notice",
            "Comunicazione dei motivi ostativi (preavviso di rigetto)",
            True,
        ),
    ),
    _t(
        Event.SUBMIT_OBSERVATIONS,
        {S.REJECTION_NOTICE},
        S.COMMITTEE_EVALUATION,
        {R.REPRESENTATIVE},
        "Invia le osservazioni",
        payload=ObservationsIn,
        summary="Invia le osservazioni al preavviso di rigetto",
        done="Osservazioni inviate: la domanda torna al comitato.",
        guard=within_observations_deadline,
        attachments=DocumentKind.OBSERVATIONS,
        clock=ClockEffect.RESUME,
        notify=(notices.OBSERVATIONS_RECEIVED,),
        stage=COMMITTEE,
        effect=effects.count_observations,
    ),
    REJECT,
    # after the observations period, without a new evaluation
    replace(REJECT, sources=frozenset({S.REJECTION_NOTICE}), guard=observations_period_over),
    _t(
        Event.ISSUE_ACT,
        {S.RECOGNISED},
        S.ACTIVE,
        {R.HEAD},
        "Emetti l'atto di riconoscimento",
        payload=IssueActIn,
        summary="Emetti l'atto di riconoscimento (iscrizione nel registro)",
        done="Atto di riconoscimento emesso: il distretto è iscritto nel registro.",
        notify=(notices.DECISION,),
        stage=RECOGNITION,
        effect=effects.issue_act,
        renewed_entry=Event.CONFIRM_RENEWAL,
        document=DocumentSpec(
            DocumentKind.RECOGNITION_ACT, "recognition_act", "Atto di riconoscimento", True, numbered_act=True
        ),
    ),
    WITHDRAW,
    # a draft was never submitted: the office never knew of it, and is not told (models.access)
    # nor is the entry it would renew, which never left the active state
    replace(WITHDRAW, sources=frozenset({S.DRAFT}), notify=(), renewed_entry=None),
    # the life of a registry entry (driven by renewal applications and the sweeps)
    _t(
        Event.REQUEST_RENEWAL,
        {S.ACTIVE},
        S.RENEWAL_REQUESTED,
        {R.SYSTEM},
        "Rinnovo richiesto",
        guard=before_expiry,
    ),
    _t(Event.CONFIRM_RENEWAL, {S.RENEWAL_REQUESTED}, S.RENEWED, {R.SYSTEM}, "Rinnovo confermato"),
    _t(Event.RENEWAL_REFUSED, {S.RENEWAL_REQUESTED}, S.ACTIVE, {R.SYSTEM}, "Rinnovo non concesso"),
    _t(
        Event.EXPIRE,
        {S.ACTIVE, S.REVOCATION_NOTICE},
        S.EXPIRED,
        {R.SYSTEM},
        "Scadenza del riconoscimento",
        guard=validity_ended,
        notify=(notices.EXPIRED,),
    ),
    # revocation (L. 241/1990, artt. 7 e 21-quinquies): notice, 10 days for observations, numbered act
    _t(
        Event.NOTIFY_REVOCATION_INTENT,
        {S.ACTIVE},
        S.REVOCATION_NOTICE,
        {R.HEAD},
        "Avvia il procedimento di revoca",
        payload=ReasonIn,
        summary="Avvia il procedimento di revoca del riconoscimento (osservazioni entro 10 giorni)",
        done="Avvio del procedimento di revoca comunicato al distretto.",
        danger=True,
        notify=(notices.REVOCATION_NOTICE,),
        stage=RECOGNITION,
        effect=effects.open_observations,
        document=DocumentSpec(
            DocumentKind.REVOCATION_NOTICE,
            "revocation_notice",
            "Comunicazione di avvio del procedimento di revoca del riconoscimento",
            True,
        ),
    ),
    _t(
        Event.SUBMIT_REVOCATION_OBSERVATIONS,
        {S.REVOCATION_NOTICE},
        S.REVOCATION_NOTICE,
        {R.REPRESENTATIVE},
        "Invia le osservazioni sulla revoca",
        payload=ObservationsIn,
        summary="Invia le osservazioni sul procedimento di revoca",
        done="Osservazioni inviate all'ufficio.",
        guard=within_observations_deadline,
        attachments=DocumentKind.OBSERVATIONS,
        notify=(notices.REVOCATION_OBSERVATIONS,),
        stage=RECOGNITION,
    ),
    _t(
        Event.DROP_REVOCATION,
        {S.REVOCATION_NOTICE},
        S.ACTIVE,
        {R.HEAD},
        "Archivia il procedimento di revoca",
        payload=ReasonIn,
        summary="Archivia il procedimento di revoca: il riconoscimento resta in vigore",
        done="Procedimento di revoca archiviato: il riconoscimento resta in vigore.",
        notify=(notices.REVOCATION_DROPPED,),
        stage=RECOGNITION,
    ),
    _t(
        Event.REVOKE,
        {S.REVOCATION_NOTICE},
        S.REVOKED,
        {R.HEAD},
        "Revoca il riconoscimento",
        payload=ReasonIn,
        summary="Revoca il riconoscimento (atto numerato, dopo il termine per le osservazioni)",
        done="Atto di revoca emesso: il riconoscimento è revocato.",
        danger=True,
        guard=observations_period_over,
        notify=(notices.REVOKED,),
        stage=RECOGNITION,
        effect=effects.issue_revocation_act,
        document=DocumentSpec(
            DocumentKind.REVOCATION_ACT, "revocation_act", "Atto di revoca del riconoscimento", True, numbered_act=True
        ),
    ),
    # annual report
    _t(
        Event.FILE_REPORT,
        {S.REPORT_OPEN},
        S.REPORT_FILED,
        {R.REPRESENTATIVE},
        "Trasmetti la relazione annuale",
        subject=Subject.REPORT,
        notify=(notices.REPORT_FILED,),
        effect=effects.file_report,
    ),
    _t(
        Event.ACCEPT_REPORT,
        {S.REPORT_FILED},
        S.REPORT_ACCEPTED,
        OFFICE,
        "Accetta la relazione",
        subject=Subject.REPORT,
        effect=effects.review_report,
    ),
    _t(
        Event.RETURN_REPORT,
        {S.REPORT_FILED},
        S.REPORT_OPEN,
        OFFICE,
        "Restituisci con osservazioni",
        subject=Subject.REPORT,
        notify=(notices.REPORT_RETURNED,),
        effect=effects.review_report,
    ),
)

# which timestamp column each target state stamps (time-in-stage reports are plain SQL)
STAGE_TIMESTAMPS: dict[State, str] = {
    S.SUBMITTED: "submitted_at",
    S.COMPLETENESS_CHECK: "review_started_at",
    S.INTEGRATION_REQUESTED: "integration_requested_at",
    S.COMMITTEE_EVALUATION: "completed_at",
    S.REJECTION_NOTICE: "rejection_notice_at",
    S.RECOGNISED: "decided_at",
    S.REJECTED: "decided_at",
    S.INADMISSIBLE: "decided_at",
    S.REGISTERED: "decided_at",
    S.NOT_REGISTERED: "decided_at",
    S.ACTIVE: "activated_at",
    S.WITHDRAWN: "closed_at",
    S.EXPIRED: "closed_at",
    S.REVOKED: "closed_at",
    S.RENEWED: "closed_at",
}


def _declared(column: str) -> dict[Event, Any]:
    """One value per event from the rows that declare it (every row of an event must agree: tested)."""
    return {t.event: getattr(t, column) for t in TRANSITIONS if getattr(t, column) is not None}


STAGE_OF_EVENT: dict[Event, Stage] = _declared("stage")
DOCUMENT_OF_EVENT: dict[Event, DocumentSpec] = _declared("document")
# documents the procedure issues: never uploaded by an applicant
ISSUED_DOCUMENTS: frozenset[DocumentKind] = frozenset(spec.kind for spec in DOCUMENT_OF_EVENT.values())
# where the representative may upload documents, and what they are by default: the draft (any kind)
# and the sources of the rows that declare attachments
UPLOADS_IN: dict[State, DocumentKind] = {State.DRAFT: DocumentKind.OTHER} | {
    source: t.attachments for t in TRANSITIONS if t.attachments is not None for source in t.sources
}


EVENT_LABELS: dict[Event, str] = {}
for _row in TRANSITIONS:
    EVENT_LABELS.setdefault(_row.event, _row.label)


def labels_of(events: Iterable[Event]) -> str:
    """«Avvia l'istruttoria», «Ritira la domanda» — or «nessuna»: for the messages that list actions."""
    return ", ".join(f"«{EVENT_LABELS[e]}»" for e in events) or "nessuna"


def stage_of(event: Event) -> Stage | None:
    return STAGE_OF_EVENT.get(event)


def document_of(event: Event) -> DocumentSpec | None:
    return DOCUMENT_OF_EVENT.get(event)


def sources_of(event: Event) -> frozenset[State]:
    """Every state ``event`` may start from (the sweeps select their files by it)."""
    return frozenset().union(*(t.sources for t in TRANSITIONS if t.event == event))


def transitions_from(state: State, kind: ApplicationKind | None = None) -> list[Transition]:
    return [t for t in TRANSITIONS if state in t.sources and (kind is None or t.kinds is None or kind in t.kinds)]


def find_transition(state: State, event: Event, kind: ApplicationKind | None = None) -> Transition | None:
    for transition in transitions_from(state, kind):
        if transition.event == event:
            return transition
    return None


def allowed_events(state: State, kind: ApplicationKind | None = None, role: Role | None = None) -> list[Event]:
    events: list[Event] = []
    for t in transitions_from(state, kind):
        if (role is None or role in t.roles) and t.event not in events:
            events.append(t.event)
    return events


# Guards that read nothing but the file's own deadlines and today's date: cheap enough to run for every
# file of a list, so the actions offered leave out what they refuse today (closing for a missing
# integration before its deadline, a second integration request, say). The other guards run when the
# action is requested (422).
DEADLINE_GUARDS: frozenset[Guard] = frozenset(
    {
        integration_deadline_passed,
        within_integration_deadline,
        within_observations_deadline,
        observations_period_over,
        first_integration_request,
    }
)


def offered_events(state: State, kind: ApplicationKind, role: Role, deadlines: GuardContext) -> list[Event]:
    """``allowed_events`` without those a deadline guard refuses today (``deadlines``: the file's dates)."""
    offered = []
    for event in allowed_events(state, kind, role):
        transition = find_transition(state, event, kind)
        guard = transition.guard if transition is not None else None
        if guard is None or guard not in DEADLINE_GUARDS or guard(deadlines) is None:
            offered.append(event)
    return offered


def not_in_state(application: Application, role: Role, what: str) -> TransitionNotAllowed:
    """The 409 for something (``what``) the file's state does not allow, naming the actions it does."""
    allowed = allowed_events(application.state, application.kind, role)
    return TransitionNotAllowed(
        f"{what} non consentito nello stato «{STATE_LABELS[application.state]}»; "
        f"azioni consentite: {labels_of(allowed)}",
        state=application.state,
        allowed=allowed,
    )
