"""A new application: who may open it, and which kind the district may ask for now.

``check_new_application`` is every rule, without writing (the district page asks it to say why a
button is missing); ``open_draft`` checks them and stores the draft.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.application import Application
from models.district import District
from models.enums import ApplicationKind, Role, State
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.lifecycle import OPEN_STATES
from models.people import User
from models.profiles import RegionProfile
from models.registry import RegistryEntry


def check_new_application(
    session: Session, *, district: District, kind: ApplicationKind, renewal_of_id: int | None, profile: RegionProfile
) -> None:
    census = profile.section(district.section).census
    if census != (kind == ApplicationKind.CENSUS):
        reason = (
            "la sezione prevede solo l'iscrizione nel censimento"
            if census
            else "il censimento vale solo per la sezione informativa"
        )
        raise InvalidInput(reason, field="kind")
    open_app = session.exec(
        select(Application.id).where(Application.district_id == district.id, col(Application.state).in_(OPEN_STATES))
    ).first()
    if open_app is not None:
        raise Conflict(f"il distretto ha già una domanda in corso (n. {open_app})", application_id=open_app)
    active = session.exec(
        select(Application.id).where(Application.district_id == district.id, Application.state == State.ACTIVE)
    ).first()
    if kind == ApplicationKind.RENEWAL and active is None:
        _no_renewal_after_expiry(session, district)
    if kind == ApplicationKind.RENEWAL and (active is None or renewal_of_id != active):
        raise InvalidInput(
            "il rinnovo va riferito alla domanda attiva del distretto"
            + (f" (n. {active})" if active else ": non ce n'è"),
            field="renewal_of_id",
        )
    if kind == ApplicationKind.RECOGNITION and active is not None:
        raise Conflict("il distretto è già riconosciuto: presentare una domanda di rinnovo", application_id=active)
    if kind != ApplicationKind.RENEWAL and renewal_of_id is not None:
        raise InvalidInput("si indica solo per le domande di rinnovo", field="renewal_of_id")


def _no_renewal_after_expiry(session: Session, district: District) -> None:
    entry = session.exec(
        select(RegistryEntry)
        .join(Application, col(Application.id) == col(RegistryEntry.application_id))
        .where(RegistryEntry.district_id == district.id, Application.state == State.EXPIRED)
    ).first()
    if entry is not None and entry.valid_until is not None:
        raise Conflict(
            f"il riconoscimento è scaduto il {entry.valid_until:%d/%m/%Y}: il rinnovo non è più possibile, "
            "occorre presentare una nuova domanda di riconoscimento",
            state=State.EXPIRED,
        )


def open_draft(
    session: Session,
    *,
    actor: User,
    district_id: int | None,
    kind: ApplicationKind,
    renewal_of_id: int | None,
    programme_summary: str,
    specificity: str,
    profile: RegionProfile,
    now: datetime,
) -> Application:
    """The representative's new draft for their own district (committed)."""
    district_id = district_id or actor.district_id
    if actor.role != Role.REPRESENTATIVE or district_id is None or district_id != actor.district_id:
        raise Forbidden("solo il rappresentante del distretto può presentare domande per esso")
    district = session.get(District, district_id)
    if district is None:
        raise NotFound(f"distretto {district_id} non trovato")
    check_new_application(session, district=district, kind=kind, renewal_of_id=renewal_of_id, profile=profile)
    application = Application(
        kind=kind,
        renewal_of_id=renewal_of_id,
        programme_summary=programme_summary,
        specificity=specificity,
        district_id=district_id,
        section=district.section,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.commit()
    return application
