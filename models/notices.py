"""The notices of the procedure: what each message is called, its mail template and who receives it.

A transition names the notices it sends (``models.lifecycle``: ``notify=``); the sweeps' reminders
name theirs by kind (``tasks/reminders.py``, ``tasks/report_cycle.py``). ``notifications.outbox``
renders and queues them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    kind: str
    to_office: bool  # True: the responsible official (or the office); False: the district
    label: str  # what the outbox pages call it

    @property
    def template(self) -> str:
        """Under notifications/templates: subject, text and HTML blocks."""
        return f"mail/{self.kind}.txt.j2"


# sent by the transitions
PROCEDURE_STARTED = Notice("procedure_started", to_office=False, label="Avvio del procedimento")
INTEGRATION_REQUEST = Notice("integration_request", to_office=False, label="Richiesta di integrazione documentale")
INTEGRATION_RECEIVED = Notice("integration_received", to_office=True, label="Integrazioni ricevute")
REJECTION_NOTICE = Notice("rejection_notice", to_office=False, label="Preavviso di rigetto")
OBSERVATIONS_RECEIVED = Notice("observations_received", to_office=True, label="Osservazioni ricevute")
DECISION = Notice("decision", to_office=False, label="Esito del procedimento")
WITHDRAWN = Notice("withdrawn", to_office=True, label="Domanda ritirata")
EXPIRED = Notice("expired", to_office=False, label="Riconoscimento scaduto")
REVOCATION_NOTICE = Notice("revocation_notice", to_office=False, label="Avvio del procedimento di revoca")
REVOCATION_OBSERVATIONS = Notice(
    "revocation_observations", to_office=True, label="Osservazioni sul procedimento di revoca"
)
REVOCATION_DROPPED = Notice("revocation_dropped", to_office=False, label="Procedimento di revoca archiviato")
REVOKED = Notice("revoked", to_office=False, label="Revoca del riconoscimento")
REPORT_FILED = Notice("report_filed", to_office=True, label="Relazione annuale presentata")
REPORT_RETURNED = Notice("report_returned", to_office=False, label="Relazione annuale restituita")
# reminders and escalations, queued by the scheduled sweeps
INTEGRATION_DUE = Notice("integration_due", to_office=False, label="Promemoria: scadenza delle integrazioni")
OBSERVATIONS_DUE = Notice("observations_due", to_office=False, label="Promemoria: scadenza delle osservazioni")
TERM_LAPSING = Notice("term_lapsing", to_office=True, label="Termine del procedimento in scadenza")
REPORT_DUE = Notice("report_due", to_office=False, label="Promemoria: relazione annuale")
REPORT_ESCALATION = Notice("report_escalation", to_office=True, label="Relazione annuale non pervenuta")
VALIDITY_ENDING = Notice("validity_ending", to_office=False, label="Riconoscimento in scadenza")

NOTICES: dict[str, Notice] = {
    notice.kind: notice
    for notice in (
        PROCEDURE_STARTED,
        INTEGRATION_REQUEST,
        INTEGRATION_RECEIVED,
        REJECTION_NOTICE,
        OBSERVATIONS_RECEIVED,
        DECISION,
        WITHDRAWN,
        EXPIRED,
        REVOCATION_NOTICE,
        REVOCATION_OBSERVATIONS,
        REVOCATION_DROPPED,
        REVOKED,
        REPORT_FILED,
        REPORT_RETURNED,
        INTEGRATION_DUE,
        OBSERVATIONS_DUE,
        TERM_LAPSING,
        REPORT_DUE,
        REPORT_ESCALATION,
        VALIDITY_ENDING,
    )
}
