"""Districts and their member enterprises (the roster belongs to an application)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, UniqueConstraint, col, select

from models.base import ts_field


class DistrictBase(SQLModel):
    name: str = Field(min_length=3, max_length=200)
    section: int = Field(ge=1, le=20)
    supply_chain: str = Field(default="", max_length=500)
    territory: str = Field(default="", max_length=500)
    representative_org: str = Field(default="", max_length=200)
    pec_email: str = Field(default="", max_length=254)


class District(DistrictBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = ts_field(nullable=False)


class DistrictRead(DistrictBase):
    id: int


class MemberEnterprise(SQLModel, table=True):
    __tablename__ = "member_enterprise"
    __table_args__ = (UniqueConstraint("application_id", "vat_number"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    row_no: int
    name: str = Field(max_length=300)
    tax_code: str = Field(max_length=16)
    vat_number: str = Field(max_length=11)
    ateco: str = Field(max_length=16)
    employees: int = Field(ge=0)
    region: str = Field(max_length=64)


def member_totals(session: Session, application_id: int | None) -> tuple[int, int]:
    """(enterprises, employees) of an application's roster."""
    count, employees = session.exec(
        select(func.count(col(MemberEnterprise.id)), func.coalesce(func.sum(MemberEnterprise.employees), 0)).where(
            MemberEnterprise.application_id == application_id
        )
    ).one()
    return int(count), int(employees)
