"""Read models of the monitoring of procedure times (field names in English, labels in Italian)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

FIGURE_LABELS: dict[str, str] = {
    "open_within": "Aperti nei termini",
    "open_over": "Aperti oltre il termine",
    "closed_within": "Conclusi nei termini",
    "closed_over": "Conclusi oltre il termine",
    "total": "Totale procedimenti",
    "average_days_used": "Giorni medi impiegati dai conclusi (al netto delle sospensioni)",
}


class TimesFigures(BaseModel):
    open_within: int = Field(title=FIGURE_LABELS["open_within"])
    open_over: int = Field(title=FIGURE_LABELS["open_over"], description="Aperti con il termine già scaduto")
    closed_within: int = Field(title=FIGURE_LABELS["closed_within"])
    closed_over: int = Field(title=FIGURE_LABELS["closed_over"])
    total: int = Field(title=FIGURE_LABELS["total"])
    average_days_used: float | None = Field(
        title=FIGURE_LABELS["average_days_used"], description="Vuoto se nessun procedimento è concluso"
    )


class OfficeTimes(TimesFigures):
    office: str = Field(title="Codice dell'ufficio")
    office_name: str = Field(title="Ufficio")


class SectionTimes(TimesFigures):
    section: int = Field(title="Numero della sezione")
    section_name: str = Field(title="Sezione")
    office: str = Field(title="Codice dell'ufficio")


class YearTimes(TimesFigures):
    year: int = Field(title="Anno della data di protocollo")


class TimesRow(SectionTimes):
    office_name: str = Field(title="Ufficio")
    year: int = Field(title="Anno della data di protocollo")


class ProcedureTimesRead(BaseModel):
    as_of: date = Field(title="Data della rilevazione")
    labels: dict[str, str] = Field(title="Etichette dei dati", default_factory=lambda: dict(FIGURE_LABELS))
    rows: list[TimesRow] = Field(title="Per ufficio, sezione e anno")
    by_office: list[OfficeTimes] = Field(title="Totali per ufficio")
    by_section: list[SectionTimes] = Field(title="Totali per sezione")
    by_year: list[YearTimes] = Field(title="Totali per anno")
    total: TimesFigures = Field(title="Totale generale")
