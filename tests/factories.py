"""Builders of realistic records for tests (real rows, valid tax codes, real hashes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from sqlmodel import Session

from models.application import Application, Document
from models.district import District, MemberEnterprise
from models.enums import ApplicationKind, DocumentKind, Event, Role
from models.people import User
from models.procedure import AuditEvent, Evaluation
from models.profiles import RegionProfile
from models.service import evaluation_round
from notifications.outbox import apply_and_notify
from registro.passwords import hash_password

PASSWORD = "password-di-prova-1"
_serial = count(1)


@dataclass
class Factory:
    session: Session
    profile: RegionProfile
    now: datetime
    _password_hash: str = field(default="", init=False)

    def user(self, role: Role, *, office: str | None = None, district: District | None = None, name: str = "") -> User:
        if not self._password_hash:
            self._password_hash = hash_password(PASSWORD)
        n = next(_serial)
        username = name or f"{role.value}{n}"
        user = User(
            username=username,
            full_name=f"Utente {username}",
            email=f"{username}@example.it",
            role=role,
            office=office,
            district_id=district.id if district else None,
            password_hash=self._password_hash,
            created_at=self.now,
        )
        self.session.add(user)
        self.session.commit()
        return user

    def district(self, *, section: int = 1, name: str = "") -> District:
        n = next(_serial)
        district = District(
            name=name or f"Distretto della meccanica {n}",
            section=section,
            supply_chain="meccanica di precisione",
            territory="Bari",
            representative_org=f"Consorzio Meccanica {n}",
            pec_email=f"distretto{n}@pec.example.it",
            created_at=self.now,
        )
        self.session.add(district)
        self.session.commit()
        return district

    def application(
        self,
        district: District,
        *,
        kind: ApplicationKind = ApplicationKind.RECOGNITION,
        enterprises: int = 50,
        employees_each: int = 3,
        documents: list[DocumentKind] | None = None,
    ) -> Application:
        from registro.fake_enterprises import MAX_SEED, make_roster

        application = Application(
            district_id=district.id,  # type: ignore[arg-type]
            kind=kind,
            section=district.section,
            programme_summary="Programma di sviluppo triennale della filiera.",
            specificity="Unico distretto regionale della meccanica di precisione.",
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(application)
        self.session.flush()
        for i, row in enumerate(
            make_roster(enterprises, seed=(application.id or 0) % MAX_SEED, employees_each=employees_each), 1
        ):
            self.session.add(MemberEnterprise(application_id=application.id, row_no=i, **row))  # type: ignore[arg-type]
        kinds = documents if documents is not None else self.profile.section(district.section).required_documents
        for kind_ in kinds:
            content = f"{kind_} {application.id}".encode()
            self.session.add(
                Document(
                    application_id=application.id,  # type: ignore[arg-type]
                    kind=kind_,
                    filename=f"{kind_}.pdf",
                    content_type="application/pdf",
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    uploaded_at=self.now,
                )
            )
        self.session.commit()
        return application


class Journey:
    """Drives one application through the service with the right actor for each event."""

    def __init__(self, factory: Factory, *, section: int = 1, **app_kwargs: object) -> None:
        self.f = factory
        self.district = factory.district(section=section)
        self.app = factory.application(self.district, **app_kwargs)  # type: ignore[arg-type]
        office = factory.profile.office_of(section).code
        self.rep = factory.user(Role.REPRESENTATIVE, district=self.district)
        self.official = factory.user(Role.OFFICIAL, office=office)
        self.head = factory.user(Role.HEAD, office=office)
        self.members = [factory.user(Role.COMMITTEE, office=office) for _ in range(factory.profile.committee.quorum)]
        self.day = factory.now

    def actor_for(self, event: Event) -> User:
        """Who asks for ``event``: its rows' roles, the representative first, then the official, then the head."""
        from models.lifecycle import TRANSITIONS

        roles = {role for t in TRANSITIONS if t.event == event for role in t.roles}
        if Role.REPRESENTATIVE in roles:
            return self.rep
        return self.official if Role.OFFICIAL in roles else self.head

    def do(self, event: Event, *, days_later: int = 1, **payload: object) -> AuditEvent:
        self.day += timedelta(days=days_later)
        return apply_and_notify(
            self.f.session,
            application=self.app,
            event=event,
            actor=self.actor_for(event),
            profile=self.f.profile,
            now=self.day,
            payload=payload,
        )

    def score(self, total: float) -> None:
        for member in self.members:
            self.f.session.add(
                Evaluation(
                    application_id=self.app.id,
                    member_id=member.id,
                    total=total,
                    scores={},
                    round=evaluation_round(self.app),
                    created_at=self.day,
                )
            )
        self.f.session.commit()

    def to_active(self) -> None:
        """Draft → registry entry, one day per step (committee score above the pass mark)."""
        for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
            self.do(event)
        self.score(80)
        self.do(Event.APPROVE)
        self.do(Event.ISSUE_ACT, publication_ref="BURP n. 1")


def pdf_text(content: bytes) -> str:
    """The text of an issued PDF (a real parse: the file must open), white space folded."""
    from io import BytesIO

    from pypdf import PdfReader

    assert content.startswith(b"%PDF-"), content[:20]
    return " ".join("".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages).split())
