"""The Relazione Annuale as the API takes and returns it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.enums import State
from models.text import MultiLine, SingleLine


class ActivityIn(BaseModel):
    title: SingleLine = Field(min_length=1, max_length=300, description="Attività svolta")
    programme_objective: SingleLine = Field(
        min_length=1, max_length=300, description="Obiettivo del Programma di Sviluppo a cui si riferisce"
    )
    description: MultiLine = Field(default="", max_length=5000)
    status: Literal["completata", "in_corso", "non_avviata"] = "completata"
    spending_eur: float | None = Field(default=None, ge=0, le=1e10, description="Spesa sostenuta (euro)")


class RosterChangesIn(BaseModel):
    joined: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=5000,
        description="Imprese entrate (stessi campi dell'elenco: name, tax_code, vat_number, ateco, employees, region)",
    )
    left: list[SingleLine] = Field(
        default_factory=list, max_length=5000, description="Codici fiscali delle imprese uscite"
    )


class KpiIn(BaseModel):
    code: SingleLine = Field(min_length=1, max_length=50)
    label: SingleLine = Field(min_length=1, max_length=200)
    value: float = Field(ge=-1e12, le=1e12)
    target: float | None = Field(default=None, ge=-1e12, le=1e12)
    unit: SingleLine = Field(default="", max_length=30)


class ReportIn(BaseModel):
    activities: list[ActivityIn] = Field(min_length=1, max_length=500)
    roster_changes: RosterChangesIn = Field(default_factory=RosterChangesIn)
    kpis: list[KpiIn] = Field(default_factory=list, max_length=200)
    notes: MultiLine = Field(default="", max_length=20000)


class RemarksIn(BaseModel):
    remarks: MultiLine = Field(min_length=1, max_length=5000, description="Osservazioni per il distretto")


class ReportFile(BaseModel):
    document_id: int
    filename: str
    sha256: str
    size: int


class ReportRead(BaseModel):
    id: int
    district_id: int
    district_name: str
    application_id: int
    section: int
    year: int
    state: State
    state_label: str
    opened_on: date
    due_on: date
    overdue: bool
    filed_at: datetime | None
    reviewed_at: datetime | None
    remarks: str
    content: dict[str, Any]
    files: list[ReportFile]
