"""Domain errors: each carries an Italian message; the API maps them to HTTP statuses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "errore"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = 404
    code = "non_trovato"


class Forbidden(DomainError):
    status_code = 403
    code = "non_autorizzato"


class TransitionNotAllowed(DomainError):
    status_code = 409
    code = "azione_non_consentita"


class ConcurrentChange(DomainError):
    status_code = 409
    code = "modifica_concorrente"


class Conflict(DomainError):
    """The request collides with what is on file (a second open application, a score already given...)."""

    status_code = 409
    code = "conflitto"


class RuleViolation(DomainError):
    """A guard of the lifecycle refused the move (thresholds, terms, quorum...)."""

    status_code = 422
    code = "requisito_non_soddisfatto"


class InvalidInput(DomainError):
    status_code = 422
    code = "dati_non_validi"
