"""Every error becomes a JSON answer in Italian: {"detail": ..., "code": ..., plus details}.

Domain errors carry their own status; request validation gives 422 with field and reason;
database conflicts give 409, an unreachable database 503; anything else a 500 without a trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from models.errors import DomainError

log = logging.getLogger("registro.api")


class FieldError(BaseModel):
    """One wrong field: of the request (``location``, ``reason``) or of a roster row (``row_no``, ``message``)."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(description="Il campo (es. rows.3.name, tax_code)")
    location: str | None = Field(default=None, description="Dove: body, query, path, header")
    reason: str | None = Field(default=None, description="Il motivo, in italiano")
    row_no: int | None = Field(default=None, description="Per l'elenco delle imprese: la riga del file")
    message: str | None = Field(default=None, description="Per l'elenco delle imprese: il motivo, in italiano")


class ErrorBody(BaseModel):
    """Every error answer: the Italian reason, a stable code, and what else the error says."""

    model_config = ConfigDict(extra="allow")
    detail: str = Field(description="Il motivo, in italiano")
    code: str = Field(description="Codice stabile dell'errore (es. dati_non_validi, azione_non_consentita)")
    errors: list[FieldError] | None = Field(default=None, description="Per i dati non validi: ogni campo e il motivo")


def _answer(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# the answers any operation of the JSON API may give besides its own (documented once, on its router)
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _answer("Corpo della richiesta non leggibile (non è il formato dichiarato)"),
    401: _answer("Accesso non effettuato o sessione scaduta"),
    403: _answer("Fuori dalla competenza dell'utente"),
    404: _answer("Oggetto non trovato (o non visibile all'utente)"),
    409: _answer("In conflitto con lo stato attuale (indica lo stato e le azioni consentite)"),
    413: _answer("Richiesta troppo grande"),
    422: _answer("Dati non validi o requisito non soddisfatto (indica il campo e il motivo)"),
    429: _answer("Troppe richieste: riprovare più tardi (Retry-After)"),
    503: _answer("Servizio momentaneamente non disponibile: riprovare tra poco"),
}


class Unauthorized(DomainError):
    status_code = 401
    code = "non_autenticato"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "file_troppo_grande"


class TooManyAttempts(DomainError):
    status_code = 429
    code = "troppi_tentativi"


class Unavailable(DomainError):
    status_code = 503
    code = "servizio_non_disponibile"


HTTP_MESSAGES = {
    400: ("richiesta non valida", "richiesta_non_valida"),
    401: ("autenticazione richiesta", "non_autenticato"),
    403: ("operazione non consentita", "non_autorizzato"),
    404: ("risorsa non trovata", "non_trovato"),
    405: ("metodo non consentito per questo indirizzo", "metodo_non_consentito"),
    413: ("richiesta troppo grande", "file_troppo_grande"),
}

# what FastAPI and Starlette themselves raise, in English
FRAMEWORK_MESSAGES = {
    "There was an error parsing the body": "il corpo della richiesta non è leggibile (JSON o modulo non valido)",
    "Not Found": "risorsa non trovata",
    "Method Not Allowed": "metodo non consentito per questo indirizzo",
}

# pydantic error type -> Italian reason (ctx values are formatted in)
REASONS = {
    "missing": "campo obbligatorio",
    "string_too_short": "testo troppo corto (minimo {min_length} caratteri)",
    "string_too_long": "testo troppo lungo (massimo {max_length} caratteri)",
    "string_type": "deve essere un testo",
    "greater_than_equal": "deve essere maggiore o uguale a {ge}",
    "less_than_equal": "deve essere minore o uguale a {le}",
    "greater_than": "deve essere maggiore di {gt}",
    "less_than": "deve essere minore di {lt}",
    "int_parsing": "deve essere un numero intero",
    "int_type": "deve essere un numero intero",
    "int_from_float": "deve essere un numero intero",
    "float_parsing": "deve essere un numero",
    "float_type": "deve essere un numero",
    "bool_parsing": "deve essere vero o falso",
    "bool_type": "deve essere vero o falso",
    "enum": "valore non ammesso (ammessi: {expected})",
    "literal_error": "valore non ammesso (ammessi: {expected})",
    "date_parsing": "data non valida (formato AAAA-MM-GG)",
    "date_from_datetime_parsing": "data non valida (formato AAAA-MM-GG)",
    "datetime_parsing": "data e ora non valide",
    "list_type": "deve essere un elenco",
    "dict_type": "deve essere un oggetto",
    "model_attributes_type": "deve essere un oggetto",
    "model_type": "deve essere un oggetto",
    "json_invalid": "il corpo della richiesta non è JSON valido",
    "json_type": "JSON non valido",
    "extra_forbidden": "campo non previsto",
    "url_parsing": "indirizzo non valido",
}


def reason_of(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = {k: _fmt(v) for k, v in (error.get("ctx") or {}).items()}
    if kind == "value_error":
        return str(ctx.get("error") or "valore non valido")
    if kind in ("too_short", "too_long"):  # a list, or a text whose constraint sits on an optional type
        return _count_reason(kind, ctx)
    template = REASONS.get(kind)
    if template is None:
        return "valore non valido"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def _count_reason(kind: str, ctx: dict[str, str]) -> str:
    """«servono almeno 1 elemento», «al massimo 5000 caratteri»: the unit by what was measured."""
    limit = ctx.get("min_length" if kind == "too_short" else "max_length", "")
    text = ctx.get("field_type") not in ("List", "Tuple", "Set", "Dictionary")
    unit = ("carattere" if limit == "1" else "caratteri") if text else ("elemento" if limit == "1" else "elementi")
    return f"servono almeno {limit} {unit}" if kind == "too_short" else f"al massimo {limit} {unit}"


def _fmt(value: Any) -> str:
    text = str(value)
    return text.replace("'", "").replace(" or ", " o ")


def field_of(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    """('body', 'rows', 3, 'name') -> ('rows.3.name', 'body')."""
    parts = list(loc)
    where = str(parts.pop(0)) if parts and parts[0] in ("body", "query", "path", "header", "cookie") else "body"
    return ".".join(str(p) for p in parts) or where, where


def error_response(status: int, detail: str, code: str, **details: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"detail": detail, "code": code, **jsonable_encoder(details)}
    return JSONResponse(body, status_code=status, headers=headers)


async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = exc.details.pop("headers", None)
    response = error_response(exc.status_code, exc.message, exc.code, **exc.details)
    if headers:
        response.headers.update(headers)
    return response


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        field, where = field_of(error.get("loc", ()))
        if error.get("type") == "json_invalid":  # its location is a byte offset, not a field
            field, error = where, {**error, "ctx": {}}
        errors.append({"field": field, "location": where, "reason": reason_of(error)})
    first = errors[0] if errors else {"field": "", "reason": "dati non validi"}
    detail = f"dati non validi: {first['field']}: {first['reason']}"
    return error_response(422, detail, "dati_non_validi", errors=errors)


def allowed_methods(request: Request) -> str:
    """Every method some route answers at this path (Starlette's 405 names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    default, code = HTTP_MESSAGES.get(exc.status_code, ("errore nella richiesta", "errore"))
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else ""
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("", phrase) else default
    detail = FRAMEWORK_MESSAGES.get(detail, detail)
    response = error_response(exc.status_code, detail, code)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:  # nothing matched by method: a mounted app (static files: GET and HEAD)
        response.headers["Allow"] = allowed_methods(request) or "GET, HEAD"
    return response


async def on_integrity_error(_: Request, exc: Exception) -> JSONResponse:
    log.info("conflitto di integrità: %s", exc)
    return error_response(409, "i dati sono in conflitto con quelli già registrati: nulla è stato salvato", "conflitto")


async def on_operational_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("database non raggiungibile: %s", exc)
    return error_response(
        503, "la banca dati non è al momento raggiungibile: riprovare tra poco", "servizio_non_disponibile"
    )


async def on_out_of_range(_: Request, exc: Exception) -> JSONResponse:
    log.info("valore non memorizzabile: %s", exc)
    return error_response(
        422, "un valore non è ammesso (numero fuori dall'intervallo o carattere non valido): nulla è stato salvato",
        "valore_non_valido",
    )  # fmt: skip


async def on_pool_timeout(_: Request, exc: Exception) -> JSONResponse:
    log.error("nessuna connessione libera al database: %s", exc)
    return error_response(503, "il sistema è molto carico: riprovare tra poco", "servizio_non_disponibile")


async def on_unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("errore imprevisto", exc_info=exc)
    return error_response(500, "errore interno imprevisto: l'operazione non è stata eseguita", "errore_interno")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(IntegrityError, on_integrity_error)
    app.add_exception_handler(OperationalError, on_operational_error)
    app.add_exception_handler(DataError, on_out_of_range)
    app.add_exception_handler(OverflowError, on_out_of_range)
    app.add_exception_handler(PoolTimeout, on_pool_timeout)
    app.add_exception_handler(Exception, on_unexpected_error)
