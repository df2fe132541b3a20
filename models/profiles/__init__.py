"""Region profiles are data: a TOML file per region, validated into ``RegionProfile``."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from models.enums import DocumentKind

PROFILES_DIR = Path(__file__).parent


class Office(BaseModel):
    code: str
    name: str
    sections: list[int]


class Section(BaseModel):
    number: int
    name: str
    census: bool = False
    min_enterprises: int = Field(ge=0)
    min_employees: int = Field(ge=0)
    required_documents: list[DocumentKind]


class Criterion(BaseModel):
    code: str
    label: str
    max_score: int = Field(gt=0)


class Committee(BaseModel):
    name: str
    quorum: int = Field(ge=1)
    pass_score: float = Field(ge=0, le=100)
    criteria: list[Criterion]


class ReportCycle(BaseModel):
    opens: str = "01-01"  # MM-DD
    due: str = "03-31"
    reminders_before_days: list[int] = [30, 7, 0]
    overdue_every_days: int = 7
    escalate_after_days: int = 60


class RegionProfile(BaseModel):
    code: str
    region: str
    registry_name: str
    act_type: str
    validity_years: int = Field(ge=1, le=20)
    procedure_term_days: int = Field(ge=1, le=365)
    integration_max_days: int = Field(ge=1, le=90)
    observations_days: int = Field(ge=1, le=60)
    holiday_shift: bool = True
    renewal_reminders_days: list[int]
    renewal_keeps_valid: bool = True
    # reminders to the representative before an integration answer or observations are due
    answer_reminders_days: list[int] = [7, 2]
    # warnings to the official before the procedure term lapses
    term_warning_days: list[int] = [10, 3]
    offices: list[Office]
    sections: list[Section]
    committee: Committee
    report: ReportCycle = ReportCycle()

    @model_validator(mode="after")
    def _every_section_has_one_office(self) -> RegionProfile:
        numbers = [s.number for s in self.sections]
        owned = [n for office in self.offices for n in office.sections]
        if sorted(numbers) != sorted(owned) or len(set(owned)) != len(owned):
            raise ValueError("ogni sezione deve appartenere a un solo ufficio")
        return self

    def section(self, number: int) -> Section:
        for section in self.sections:
            if section.number == number:
                return section
        raise KeyError(number)

    def has_section(self, number: int) -> bool:
        return any(s.number == number for s in self.sections)

    def office_of(self, section: int) -> Office:
        for office in self.offices:
            if section in office.sections:
                return office
        raise KeyError(section)

    def office(self, code: str) -> Office:
        for office in self.offices:
            if office.code == code:
                return office
        raise KeyError(code)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


@lru_cache
def load_profile(code: str) -> RegionProfile:
    path = PROFILES_DIR / f"{code}.toml"
    if not path.is_file():
        raise ValueError(f"profilo regionale sconosciuto: {code!r} (disponibili: {available_profiles()})")
    with path.open("rb") as handle:
        return RegionProfile.model_validate(tomllib.load(handle))
