"""What each transition writes besides the state: clock ledger, protocol, act, registry entry.

Each event's effect is a function of a ``Move``, named on its row of ``models.lifecycle`` (``effect=``);
``models.service.apply_event`` calls it, inside its transaction, after the clock effect of the row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.application import Application, Document
from models.base import local_date
from models.district import District, MemberEnterprise, member_totals
from models.enums import ApplicationKind, ClockEffect, DocumentKind, ProtocolDirection, Role
from models.labels import kind_phrase
from models.people import User
from models.procedure import ClockSuspension, CommitteeAssignment
from models.profiles import RegionProfile
from models.protocol import register_protocol, sha256_hex
from models.registry import AnnualReport, RecognitionAct, RegistryEntry

INTEGRATION = "integrazione documentale"
REJECTION_NOTICE = "preavviso di rigetto"
LEGAL_BASIS = {
    INTEGRATION: "L. 241/1990, art. 2 c. 7",
    REJECTION_NOTICE: "L. 241/1990, art. 10-bis",
}


@dataclass(frozen=True)
class Move:
    """One event being applied, as the effects see it (built by ``models.service.apply_event``)."""

    session: Session
    application: Application
    actor: User
    profile: RegionProfile
    now: datetime
    payload: dict[str, Any]
    report: AnnualReport | None = None

    @property
    def today(self) -> date:
        return local_date(self.now)


Effect = Callable[[Move], None]


# ---- the effect of each event (declared on its row of models.lifecycle) --------------------------


def protocol_submission(move: Move) -> None:
    """The inbound protocol entry of the file as submitted."""
    _protocol_submission(move.session, application=move.application, now=move.now)


def take_charge(move: Move) -> None:
    """The official who starts the review is the one responsible for the file."""
    move.application.responsible_official_id = move.actor.id


def assign_committee(move: Move) -> None:
    _assign_committee(
        move.session, application=move.application, profile=move.profile, member_ids=move.payload.get("member_ids")
    )


def record_positive_outcome(move: Move) -> None:
    move.application.committee_outcome = "positivo"


def record_negative_outcome(move: Move) -> None:
    move.application.committee_outcome = "negativo"


def count_observations(move: Move) -> None:
    move.application.observation_rounds += 1


def issue_act(move: Move) -> None:
    """The numbered act and the registry entry (a renewal's: the entry it renews, with the new validity)."""
    _issue_act(
        move.session,
        application=move.application,
        actor=move.actor,
        profile=move.profile,
        today=move.today,
        payload=move.payload,
    )


def open_observations(move: Move) -> None:
    """The representative's term for observations (the profile's days; a holiday moves it on)."""
    move.application.observations_deadline = _deadline(move.today, move.profile.observations_days, move.profile)


def issue_revocation_act(move: Move) -> None:
    """The numbered act that revokes the entry's recognition: next in the year's series, citing the
    validity it ends (from the recognition to the day of revocation)."""
    session, application = move.session, move.application
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == application.id)).one()
    session.add(
        RecognitionAct(
            application_id=application.id,  # type: ignore[arg-type]
            kind=DocumentKind.REVOCATION_ACT,
            act_type=move.profile.act_type,
            year=move.today.year,
            number=_next_act_number(session, move.today.year),
            issued_on=move.today,
            section=application.section,
            valid_from=entry.valid_from,
            valid_until=move.today,
            signed_by_id=move.actor.id,
        )
    )
    session.flush()


def register_in_census(move: Move) -> None:
    _registry_entry(move.session, application=move.application, act=None, valid_from=move.today, valid_until=None)


def file_report(move: Move) -> None:
    assert move.report is not None
    move.report.filed_at = move.now
    move.report.content = dict(move.payload.get("content") or {})


def review_report(move: Move) -> None:
    assert move.report is not None
    move.report.reviewed_at = move.now
    move.report.remarks = str(move.payload.get("remarks") or "")


def clock(move: Move, effect: ClockEffect) -> None:
    _clock(
        move.session, effect, application=move.application, profile=move.profile, today=move.today, payload=move.payload
    )


def _assign_committee(
    session: Session, *, application: Application, profile: RegionProfile, member_ids: object
) -> None:
    """The members named by the official, or else every active member of the office's committee."""
    if session.exec(select(CommitteeAssignment).where(CommitteeAssignment.application_id == application.id)).first():
        return
    office = profile.office_of(application.section).code
    query = select(User.id).where(User.role == Role.COMMITTEE, User.office == office, col(User.active))
    if isinstance(member_ids, list) and member_ids:
        query = query.where(col(User.id).in_([int(m) for m in member_ids]))
    for user_id in session.exec(query).all():
        session.add(CommitteeAssignment(application_id=application.id, user_id=user_id))  # type: ignore[arg-type]


def _clock(
    session: Session,
    effect: ClockEffect,
    *,
    application: Application,
    profile: RegionProfile,
    today: date,
    payload: dict[str, Any],
) -> None:
    if effect == ClockEffect.START:
        application.term_start = today
        application.term_days = profile.procedure_term_days
        return
    open_suspension = session.exec(
        select(ClockSuspension).where(
            ClockSuspension.application_id == application.id, col(ClockSuspension.ended_on).is_(None)
        )
    ).first()
    if effect == ClockEffect.SUSPEND_INTEGRATION:
        days = int(payload.get("deadline_days") or profile.integration_max_days)  # within it: Transition.check
        application.integration_deadline = _deadline(today, days, profile)
        _suspend(session, application, INTEGRATION, today, application.integration_deadline)
    elif effect == ClockEffect.SUSPEND_REJECTION_NOTICE:
        application.observations_deadline = _deadline(today, profile.observations_days, profile)
        _suspend(session, application, REJECTION_NOTICE, today, application.observations_deadline)
    elif open_suspension is not None and effect == ClockEffect.RESUME:
        # art. 10-bis: the term restarts ten days after the observations arrive
        extra = profile.observations_days if open_suspension.reason == REJECTION_NOTICE else 0
        open_suspension.ended_on = today + timedelta(days=extra)
        session.add(open_suspension)
    elif effect == ClockEffect.STOP:
        application.closed_on = today
        if open_suspension is not None:
            open_suspension.ended_on = min(today, open_suspension.ends_by)
            session.add(open_suspension)


def _deadline(today: date, days: int, profile: RegionProfile) -> date:
    from models.clock import deadline_after

    return deadline_after(today, days, profile.holiday_shift)


def _suspend(session: Session, application: Application, reason: str, today: date, ends_by: date) -> None:
    session.add(
        ClockSuspension(
            application_id=application.id,  # type: ignore[arg-type]
            reason=reason,
            legal_basis=LEGAL_BASIS[reason],
            started_on=today,
            ends_by=ends_by,
        )
    )


def _protocol_submission(session: Session, *, application: Application, now: datetime) -> None:
    district = session.get(District, application.district_id)
    assert district is not None
    roster = session.exec(
        select(MemberEnterprise.vat_number, MemberEnterprise.employees)
        .where(MemberEnterprise.application_id == application.id)
        .order_by(col(MemberEnterprise.row_no))
    ).all()
    hashes = session.exec(
        select(Document.kind, Document.sha256)
        .where(Document.application_id == application.id)
        .order_by(col(Document.id))
    ).all()
    snapshot = json.dumps(
        {
            "application": application.id,
            "district": district.name,
            "programme": application.programme_summary,
            "specificity": application.specificity,
            "roster": [list(r) for r in roster],
            "documents": [list(h) for h in hashes],
        },
        sort_keys=True,
    ).encode()
    entry = register_protocol(
        session,
        direction=ProtocolDirection.INBOUND,
        correspondent=district.representative_org or district.name,
        subject=f"Domanda di {kind_phrase(application.kind)} – {district.name}",
        sha256=sha256_hex(snapshot),
        application_id=application.id,
        now=now,
    )
    application.protocol_id = entry.id


def _issue_act(
    session: Session,
    *,
    application: Application,
    actor: User,
    profile: RegionProfile,
    today: date,
    payload: dict[str, Any],
) -> None:
    previous_entry = None
    if application.kind == ApplicationKind.RENEWAL and application.renewal_of_id:
        previous_entry = session.exec(
            select(RegistryEntry).where(RegistryEntry.application_id == application.renewal_of_id)
        ).first()
    valid_from = today
    if previous_entry is not None and previous_entry.valid_until is not None:
        valid_from = previous_entry.valid_until + timedelta(days=1)  # runs on from the old end date
    valid_until = _add_years(valid_from, profile.validity_years) - timedelta(days=1)
    act = RecognitionAct(
        application_id=application.id,  # type: ignore[arg-type]
        act_type=profile.act_type,
        year=today.year,
        number=_next_act_number(session, today.year),
        issued_on=today,
        section=application.section,
        valid_from=valid_from,
        valid_until=valid_until,
        publication_ref=str(payload.get("publication_ref") or "")[:200],
        signed_by_id=actor.id,
    )
    session.add(act)
    session.flush()
    if previous_entry is not None:
        previous_entry.application_id = application.id  # type: ignore[assignment]
        previous_entry.act_id = act.id
        previous_entry.valid_from = valid_from
        previous_entry.valid_until = valid_until
        _count_members(session, previous_entry, application)
        session.add(previous_entry)
    else:
        _registry_entry(session, application=application, act=act, valid_from=valid_from, valid_until=valid_until)


def _next_act_number(session: Session, year: int) -> int:
    """The next number of the year's series of acts (every kind; unique with the year in the table)."""
    last = session.exec(select(func.max(RecognitionAct.number)).where(RecognitionAct.year == year)).one()
    return (last or 0) + 1


def _registry_entry(
    session: Session,
    *,
    application: Application,
    act: RecognitionAct | None,
    valid_from: date,
    valid_until: date | None,
) -> None:
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == application.district_id)).first()
    entry = entry or RegistryEntry(
        district_id=application.district_id,
        application_id=application.id,  # type: ignore[arg-type]
        section=application.section,
        registered_on=valid_from,
        valid_from=valid_from,
    )
    entry.application_id = application.id  # type: ignore[assignment]
    entry.section = application.section
    entry.act_id = act.id if act else None
    entry.valid_from = valid_from
    entry.valid_until = valid_until
    _count_members(session, entry, application)
    session.add(entry)


def _count_members(session: Session, entry: RegistryEntry, application: Application) -> None:
    entry.enterprises, entry.employees = member_totals(session, application.id)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
