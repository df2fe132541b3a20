"""What the representative's pages share: the role check, their own district and applications, and
the API's errors turned into messages next to the form fields (or a table of bad rows)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from pydantic import ValidationError

from api.deps import Context, get_current_application
from api.errors import reason_of
from api.pages.web import PageCtx, PageForbidden
from models.application import Application
from models.district import District
from models.enums import DocumentKind, Role
from models.errors import DomainError
from models.labels import DOCUMENT_LABELS
from models.roster import FIELD_LABELS

ROW_FIELD_LABELS = {**FIELD_LABELS, "row": "riga", "header": "intestazione", "file": "file", "rows": "elenco"}
ROW_GROUPS = {"roster_changes.joined": "Imprese entrate", "roster_changes.left": "Imprese uscite"}


def rep_context(ctx: PageCtx) -> Context:
    if ctx.user.role != Role.REPRESENTATIVE:
        raise PageForbidden("queste pagine sono riservate ai rappresentanti dei distretti")
    return ctx


RepCtx = Annotated[Context, Depends(rep_context)]


def own_district(ctx: Context) -> District:
    district = ctx.session.get(District, ctx.user.district_id) if ctx.user.district_id is not None else None
    if district is None:
        raise PageForbidden("il suo profilo non è collegato a un distretto: rivolgersi all'amministratore")
    return district


def own_application(ctx: Context, application_id: int) -> Application:
    """The API's own check (``models.access``): another district's draft 404, its submitted file 403."""
    return get_current_application(ctx.session, ctx.user, ctx.profile, application_id)


def doc_label(kind: DocumentKind | str) -> str:
    text = DOCUMENT_LABELS.get(DocumentKind(kind), str(kind))
    return text[:1].upper() + text[1:]


# ---- errors as the form shows them -------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # 0: the file as a whole
    field: str
    value: str
    message: str
    group: str = ""  # which list, when a form has several (the report's roster changes)


@dataclass
class FormErrors:
    status: int = 200
    summary: list[str] = field(default_factory=list)  # every problem, for the alert above the form
    fields: dict[str, list[str]] = field(default_factory=dict)  # next to each input
    rows: list[RowError] = field(default_factory=list)  # a table of bad rows (roster, roster changes)

    def __bool__(self) -> bool:
        return bool(self.summary or self.fields or self.rows)

    def add(self, name: str, label: str, reason: str) -> None:
        self.fields.setdefault(name, []).append(reason)
        self.summary.append(f"{label}: {reason}" if label else reason)


Labels = Mapping[str, str] | Callable[[str], str]


def _label(labels: Labels, name: str) -> str:
    return labels(name) if callable(labels) else labels.get(name, name)


def form_errors(exc: DomainError | ValidationError, labels: Labels) -> FormErrors:
    """The API's answer as the page shows it: field errors by input name, row errors as a table."""
    if isinstance(exc, ValidationError):
        errors = FormErrors(status=422)
        for error in exc.errors():
            name = ".".join(str(part) for part in error.get("loc", ()))
            empty = error["type"] == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1
            errors.add(name, _label(labels, name), "campo obbligatorio" if empty else reason_of(dict(error)))
        return errors
    errors = FormErrors(status=exc.status_code)
    field_name = exc.details.get("field")
    if isinstance(field_name, str) and (callable(labels) or field_name in labels):
        errors.add(field_name, _label(labels, field_name), exc.message)
    else:
        errors.summary.append(_capital(exc.message))
    errors.rows = row_errors(exc.details.get("errors") or [])
    return errors


def message_error(message: str, status: int = 422, name: str | None = None, label: str = "") -> FormErrors:
    errors = FormErrors(status=status)
    if name:
        errors.add(name, label, message)
    else:
        errors.summary.append(_capital(message))
    return errors


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def row_errors(items: list[dict[str, Any]]) -> list[RowError]:
    """The roster's errors ({row_no, field, value, message}) with Italian field names, 'Riga N:' dropped."""
    rows = []
    for item in items:
        if not isinstance(item, dict) or "row_no" not in item:
            continue
        name = str(item.get("field", ""))
        short = name.rsplit(".", 1)[-1]
        message = re.sub(r"^Riga \d+:\s*", "", str(item.get("message", "")))
        rows.append(
            RowError(
                row=int(item["row_no"]),
                field=ROW_FIELD_LABELS.get(short, short) if name != "roster_changes.left" else "codice fiscale",
                value=str(item.get("value") or ""),
                message=_capital(message),
                group=next((g for prefix, g in ROW_GROUPS.items() if name.startswith(prefix)), ""),
            )
        )
    return rows
