"""Builders of realistic records for tests (real rows, valid tax codes, real hashes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from sqlmodel import Session

from models.application import Application, Document
from models.district import District, MemberEnterprise
from models.enums import ApplicationKind, DocumentKind, Role
from models.people import User
from models.profiles import RegionProfile
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
        from registro.fake_enterprises import make_roster

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
        for i, row in enumerate(make_roster(enterprises, seed=application.id or 0, employees_each=employees_each), 1):
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
