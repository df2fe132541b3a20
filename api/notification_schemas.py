"""Read models of the outbox view: what was sent to whom and when (labels in Italian)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.enums import NotificationStatus
from models.notices import NOTICES
from tasks.audit_heads import KIND as AUDIT_HEADS

KIND_LABELS: dict[str, str] = {
    **{kind: message.label for kind, message in NOTICES.items()},
    AUDIT_HEADS: "Impronte giornaliere dell'audit (conservazione)",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


class NotificationRead(BaseModel):
    id: int
    application_id: int | None
    district_name: str | None = Field(description="Distretto della pratica (assente per i messaggi senza pratica)")
    kind: str
    kind_label: str
    recipient: str
    subject: str
    status: NotificationStatus
    attempts: int = Field(description="Tentativi di invio già effettuati")
    last_error: str | None = Field(
        description="Perché non è stata inviata: per una non recapitata (failed) il motivo, per una in coda l'ultimo "
        "errore (rifiuto o irraggiungibilità del server di posta, indirizzo o oggetto non validi)"
    )
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = Field(description="Prossimo tentativo di invio (solo per i messaggi in coda)")


class NotificationDetail(NotificationRead):
    body_text: str
