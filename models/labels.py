"""The Italian label of each value of the domain's enumerations, defined once: pages, mails, documents
and API messages all read them here."""

from __future__ import annotations

from models.enums import ApplicationKind, DocumentKind, Role, State

STATE_LABELS: dict[State, str] = {
    State.DRAFT: "Bozza",
    State.SUBMITTED: "Presentata",
    State.COMPLETENESS_CHECK: "Verifica di completezza",
    State.INTEGRATION_REQUESTED: "Integrazione richiesta",
    State.COMMITTEE_EVALUATION: "Valutazione del comitato",
    State.REJECTION_NOTICE: "Preavviso di rigetto",
    State.RECOGNISED: "Riconoscimento deliberato",
    State.REJECTED: "Rigettata",
    State.INADMISSIBLE: "Inammissibile",
    State.WITHDRAWN: "Ritirata",
    State.ACTIVE: "Attivo nel registro",
    State.RENEWAL_REQUESTED: "Rinnovo in corso",
    State.RENEWED: "Rinnovato",
    State.EXPIRED: "Scaduto",
    State.REVOCATION_NOTICE: "Procedimento di revoca avviato",
    State.REVOKED: "Revocato",
    State.REGISTERED: "Censito",
    State.NOT_REGISTERED: "Non censito",
    State.REPORT_OPEN: "Relazione da presentare",
    State.REPORT_FILED: "Relazione presentata",
    State.REPORT_ACCEPTED: "Relazione accettata",
}

DOCUMENT_LABELS: dict[DocumentKind, str] = {
    DocumentKind.PACT: "patto di distretto",
    DocumentKind.DEVELOPMENT_PROGRAMME: "Programma di Sviluppo",
    DocumentKind.REPRESENTATIVE_APPOINTMENT: "nomina del rappresentante",
    DocumentKind.STRATEGIC_PLAN: "Piano strategico-operativo",
    DocumentKind.ROSTER: "elenco delle imprese aderenti",
    DocumentKind.INTEGRATION: "documentazione integrativa",
    DocumentKind.OBSERVATIONS: "osservazioni",
    DocumentKind.RECEIPT: "ricevuta di presentazione",
    DocumentKind.INTEGRATION_REQUEST: "richiesta di integrazione",
    DocumentKind.REJECTION_NOTICE: "preavviso di rigetto",
    DocumentKind.RECOGNITION_ACT: "atto di riconoscimento",
    DocumentKind.REVOCATION_NOTICE: "comunicazione di avvio del procedimento di revoca",
    DocumentKind.REVOCATION_ACT: "atto di revoca",
    DocumentKind.ANNUAL_REPORT: "relazione annuale",
    DocumentKind.OTHER: "altro documento",
}

KIND_LABELS: dict[ApplicationKind, str] = {
    ApplicationKind.RECOGNITION: "Riconoscimento",
    ApplicationKind.RENEWAL: "Rinnovo del riconoscimento",
    ApplicationKind.CENSUS: "Iscrizione nel censimento",
}

ROLE_LABELS: dict[Role, str] = {
    Role.REPRESENTATIVE: "rappresentante del distretto",
    Role.OFFICIAL: "funzionario",
    Role.COMMITTEE: "comitato tecnico",
    Role.HEAD: "dirigente",
    Role.ADMIN: "amministratore",
    Role.SYSTEM: "sistema",
}


def kind_phrase(kind: ApplicationKind) -> str:
    """The kind within a sentence ("Domanda di rinnovo del riconoscimento")."""
    label = KIND_LABELS[kind]
    return label[:1].lower() + label[1:]
