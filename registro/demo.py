"""Demonstration data: users of every role and districts in every stage of the procedure.

Every state change goes through ``models.service.apply_event``, like production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from models.application import Application, Document
from models.district import District, MemberEnterprise
from models.enums import DocumentKind, Event, Role
from models.people import User
from models.procedure import CommitteeAssignment, Evaluation
from models.profiles import RegionProfile
from models.protocol import sha256_hex
from models.service import evaluation_round
from notifications.outbox import apply_and_notify
from registro.fake_enterprises import make_roster
from registro.passwords import hash_password

DEMO_PASSWORD = "demo-registro-2026"

# district name, section, the events it goes through (who acts is decided by the event)
DEMO_DISTRICTS: list[tuple[str, int, list[Event]]] = [
    (
        "Distretto della Meccanica Pugliese",
        1,
        [Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE, Event.APPROVE, Event.ISSUE_ACT],
    ),
    ("Distretto Tecnologico Aerospaziale", 2, [Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE]),
    ("Distretto del Mobile Imbottito", 1, [Event.SUBMIT, Event.START_REVIEW, Event.REQUEST_INTEGRATION]),
    ("Distretto della Moda Adriatica", 1, [Event.SUBMIT]),
    ("Distretto Nautico del Levante", 3, []),
    ("Rete delle Imprese Creative", 5, [Event.SUBMIT, Event.START_REVIEW, Event.REGISTER]),
    (
        "Distretto del Cibo della Daunia",
        6,
        [Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE, Event.APPROVE, Event.ISSUE_ACT],
    ),
    ("Distretto Biologico del Salento", 7, [Event.SUBMIT, Event.START_REVIEW]),
]


def load_demo(session: Session, *, profile: RegionProfile, now: datetime, log: Callable[[str], None] = print) -> None:
    if session.exec(select(District)).first() is not None:
        log("Dati dimostrativi già presenti: nulla da fare.")
        return
    password_hash = hash_password(DEMO_PASSWORD)
    staff = _staff(session, profile=profile, password_hash=password_hash, now=now)
    for index, (name, section, events) in enumerate(DEMO_DISTRICTS, 1):
        district, representative = _district(
            session, name=name, section=section, index=index, password_hash=password_hash, now=now
        )
        application = _application(session, district=district, profile=profile, now=now, seed=index)
        office = profile.office_of(section).code
        moment = now - timedelta(days=40)
        for event in events:
            moment += timedelta(days=3)
            actor = representative if event == Event.SUBMIT else staff[(office, _role_for(event))][0]
            payload = _prepare(session, application, event, staff=staff[(office, Role.COMMITTEE)], now=moment)
            apply_and_notify(
                session,
                application=application,
                event=event,
                actor=actor,
                profile=profile,
                now=moment,
                payload=payload,
                reason="dati dimostrativi",
            )
        log(f"  {district.name}: {application.state}")
    log(f"Utenti dimostrativi (password «{DEMO_PASSWORD}»):")
    for user in session.exec(select(User).where(User.role != Role.SYSTEM).order_by(User.username)).all():
        log(f"  {user.username:28} {user.role}{' – ' + user.office if user.office else ''}")


def _role_for(event: Event) -> Role:
    return Role.HEAD if event == Event.ISSUE_ACT else Role.OFFICIAL


def _staff(
    session: Session, *, profile: RegionProfile, password_hash: str, now: datetime
) -> dict[tuple[str, Role], list[User]]:
    staff: dict[tuple[str, Role], list[User]] = {}
    for office in profile.offices:
        for role, count in ((Role.OFFICIAL, 1), (Role.HEAD, 1), (Role.COMMITTEE, profile.committee.quorum)):
            for n in range(1, count + 1):
                suffix = f"{n}" if count > 1 else ""
                username = f"{_ROLE_NAMES[role]}{suffix}.{office.code}"
                user = User(
                    username=username,
                    full_name=f"{_ROLE_NAMES[role].title()} {suffix} {office.name}",
                    email=f"{username}@regione.example",
                    role=role,
                    office=office.code,
                    password_hash=password_hash,
                    created_at=now,
                )
                session.add(user)
                staff.setdefault((office.code, role), []).append(user)
    session.commit()
    return staff


_ROLE_NAMES = {Role.OFFICIAL: "funzionario", Role.HEAD: "dirigente", Role.COMMITTEE: "valutatore"}


def _district(
    session: Session, *, name: str, section: int, index: int, password_hash: str, now: datetime
) -> tuple[District, User]:
    district = District(
        name=name,
        section=section,
        supply_chain="filiera regionale",
        territory="Puglia",
        representative_org=f"Consorzio {name.split(' ', 2)[-1]}",
        pec_email=f"distretto{index}@pec.demo.example",
        created_at=now,
    )
    session.add(district)
    session.flush()
    representative = User(
        username=f"rappresentante{index}",
        full_name=f"Rappresentante {name}",
        email=f"rappresentante{index}@demo.example",
        role=Role.REPRESENTATIVE,
        district_id=district.id,
        password_hash=password_hash,
        created_at=now,
    )
    session.add(representative)
    session.commit()
    return district, representative


def _application(
    session: Session, *, district: District, profile: RegionProfile, now: datetime, seed: int
) -> Application:
    application = Application(
        district_id=district.id,  # type: ignore[arg-type]
        section=district.section,
        created_at=now,
        updated_at=now,
        programme_summary="Programma di Sviluppo 2026–2028: internazionalizzazione, ricerca applicata, formazione.",
        specificity="Unico distretto regionale di questa filiera.",
    )
    section = profile.section(district.section)
    if section.census:
        from models.enums import ApplicationKind

        application.kind = ApplicationKind.CENSUS
    session.add(application)
    session.flush()
    for row_no, row in enumerate(make_roster(60, seed=seed), 1):
        session.add(MemberEnterprise(application_id=application.id, row_no=row_no, **row))  # type: ignore[arg-type]
    for kind in section.required_documents:
        _demo_document(session, application, kind, now)
    session.commit()
    return application


def _demo_document(session: Session, application: Application, kind: DocumentKind, now: datetime) -> None:
    from registro.settings import get_settings

    content = f"Documento dimostrativo: {kind} della domanda {application.id}\n".encode()
    digest = sha256_hex(content)
    path = get_settings().files_dir / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    session.add(
        Document(
            application_id=application.id,  # type: ignore[arg-type]
            kind=kind,
            filename=f"{kind}.txt",
            content_type="text/plain",
            size=len(content),
            sha256=digest,
            uploaded_at=now,
        )
    )


def _prepare(
    session: Session, application: Application, event: Event, *, staff: list[User], now: datetime
) -> dict[str, Any]:
    if event == Event.REQUEST_INTEGRATION:
        return {"missing_items": ["Programma di Sviluppo sottoscritto da tutte le imprese"], "deadline_days": 30}
    if event == Event.DECLARE_COMPLETE:
        for member in staff:
            session.add(CommitteeAssignment(application_id=application.id, user_id=member.id))  # type: ignore[arg-type]
    if event == Event.APPROVE:
        for member, total in zip(staff, (78.0, 72.5, 81.0), strict=False):
            session.add(
                Evaluation(
                    application_id=application.id,  # type: ignore[arg-type]
                    member_id=member.id,  # type: ignore[arg-type]
                    scores={},
                    round=evaluation_round(application),
                    total=total,
                    created_at=now,
                )
            )
        session.commit()
    if event == Event.ISSUE_ACT:
        return {"publication_ref": "BURP n. 12 del 2026"}
    return {}
