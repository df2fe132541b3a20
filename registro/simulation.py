"""Years of the procedure in seconds: N districts recognised, then the daily sweeps with ``as_of``
advancing one day at a time, while simulated people act — representatives file their annual reports
(most on time, some late, a few never) and apply for renewal (most) or let the recognition lapse,
officials review reports and confirm renewals.

Every move goes through ``models.service.apply_event`` and every day through ``sweep_day`` — the same
code the stage flows and the scheduled sweeps run; Prefect itself is left out (a flow run per
simulated day would cost more than the day's work). Run it on a database of its own.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.application import Application, Document
from models.district import District, MemberEnterprise
from models.enums import ApplicationKind, Event, Role, State
from models.people import User
from models.procedure import Evaluation
from models.profiles import RegionProfile
from models.protocol import sha256_hex
from models.registry import AnnualReport, RegistryEntry
from models.service import evaluation_round
from notifications.outbox import apply_and_notify
from registro.fake_enterprises import make_roster
from registro.passwords import hash_password
from registro.simulated_days import sweep_day

Log = Callable[[str], None]


@dataclass
class YearFigures:
    reports_opened: int = 0
    reports_filed_on_time: int = 0
    reports_filed_late: int = 0
    reports_overdue_at_due_date: int = 0
    reports_never_filed: int = 0
    mails: Counter[str] = field(default_factory=Counter)
    renewals_filed: int = 0
    renewals_confirmed: int = 0
    expired: int = 0


@dataclass
class Simulation:
    session: Session
    profile: RegionProfile
    seed: int = 1
    log: Log = print
    rng: random.Random = field(init=False)
    staff: dict[str, User] = field(default_factory=dict)
    committee: dict[str, list[User]] = field(default_factory=dict)
    years: dict[int, YearFigures] = field(default_factory=dict)
    reps: dict[int, User] = field(default_factory=dict)  # the representative of each district, by district id
    _password: str = field(init=False, default="")
    _plans: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _password_hash(self) -> str:
        """One hash for every simulated user (hashing is deliberately slow: once, not once a call)."""
        if not self._password:
            self._password = hash_password("simulazione-non-usare")
        return self._password

    def _plan(self, name: str) -> float:
        """The draw of a named plan: the same for the same name (it is asked again every simulated day)."""
        plan = self._plans.get(name)
        if plan is None:
            plan = self._plans[name] = random.Random(name).random()
        return plan

    # ---- set-up: staff and recognised districts ------------------------------------------------

    def create_staff(self, now: datetime) -> None:
        password = self._password_hash()
        for office in self.profile.offices:
            for role in (Role.OFFICIAL, Role.HEAD):
                self.staff[f"{role}:{office.code}"] = self._user(
                    f"{role}.{office.code}", role, now, password, office.code
                )
            self.committee[office.code] = [
                self._user(f"valutatore{n}.{office.code}", Role.COMMITTEE, now, password, office.code)
                for n in range(1, self.profile.committee.quorum + 1)
            ]
        self.session.commit()

    def _user(
        self,
        name: str,
        role: Role,
        now: datetime,
        password: str,
        office: str | None = None,
        district_id: int | None = None,
        flush: bool = True,
    ) -> User:
        user = User(username=name, full_name=name, email=f"{name}@sim.example.it", role=role, office=office,
                    password_hash=password, created_at=now, district_id=district_id)  # fmt: skip
        self.session.add(user)
        if flush:
            self.session.flush()
        if district_id is not None:
            self.reps[district_id] = user
        return user

    def recognise_districts(self, count: int, start: date) -> None:
        """The districts, their representatives and files are inserted together (a few statements in all);
        then each file moves through the service to its act, in the districts' order, one commit per 50."""
        sections = [s.number for s in self.profile.sections if not s.census]
        password = self._password_hash()
        days = [start + timedelta(days=self.rng.randrange(0, 300)) for _ in range(count)]
        districts = [
            District(
                name=f"Distretto simulato {n:04d}",
                section=sections[n % len(sections)],
                supply_chain="filiera simulata",
                territory="Puglia",
                representative_org=f"Consorzio simulato {n}",
                pec_email=f"d{n}@pec.sim.example.it",
                created_at=_at(day),
            )
            for n, day in enumerate(days, 1)
        ]
        self.session.add_all(districts)
        self.session.flush()
        reps = [
            self._user(f"rapp{n:04d}", Role.REPRESENTATIVE, _at(day), password, district_id=district.id, flush=False)
            for n, (district, day) in enumerate(zip(districts, days, strict=True), 1)
        ]
        self.session.flush()
        applications = self._applications(
            [(district, _at(day), n, None) for n, (district, day) in enumerate(zip(districts, days, strict=True), 1)],
            ApplicationKind.RECOGNITION,
        )
        for n, (district, rep, application, day) in enumerate(zip(districts, reps, applications, days, strict=True), 1):
            now = _at(day)
            office = self.profile.office_of(district.section).code
            for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
                self._apply(application, event, rep if event == Event.SUBMIT else self._official(office), now)
                now += timedelta(days=1)
            self._scores(application, office, now)
            self._apply(application, Event.APPROVE, self._official(office), now)
            self._apply(application, Event.ISSUE_ACT, self.staff[f"{Role.HEAD}:{office}"], now + timedelta(days=1),
                        publication_ref=f"BURP simulato n. {n}")  # fmt: skip
            if n % 50 == 0 or n == count:
                self.session.commit()
                self.log(f"  distretti riconosciuti: {n}/{count}")

    def _rep(self, district_id: int) -> User:
        rep = self.reps.get(district_id)
        if rep is None:
            rep = self.session.exec(select(User).where(User.district_id == district_id)).first()
            assert rep is not None
            self.reps[district_id] = rep
        return rep

    def _applications(
        self, files: list[tuple[District, datetime, int, int | None]], kind: ApplicationKind
    ) -> list[Application]:
        """One application per (district, now, roster seed, renewal of), with its roster and documents."""
        applications = [
            Application(
                district_id=district.id or 0,
                kind=kind,
                section=district.section,
                renewal_of_id=renewal_of,
                programme_summary="Programma di Sviluppo simulato",
                specificity="Filiera simulata",
                created_at=now,
                updated_at=now,
            )
            for district, now, _seed, renewal_of in files
        ]
        self.session.add_all(applications)
        self.session.flush()
        members: list[dict[str, object]] = []
        for application, (district, now, seed, _) in zip(applications, files, strict=True):
            rows = make_roster(55, seed=seed % 400, employees_each=4)
            members += [{"application_id": application.id, "row_no": n, **row} for n, row in enumerate(rows, 1)]
            for kind_ in self.profile.section(district.section).required_documents:
                content = f"{kind_} {application.id}".encode()
                self.session.add(Document(application_id=application.id or 0, kind=kind_, filename=f"{kind_}.pdf",
                                          content_type="application/pdf", size=len(content),
                                          sha256=sha256_hex(content), uploaded_at=now))  # fmt: skip
        # one multi-row INSERT for the rosters: 11,000 rows through the unit of work took 2-3 s of a 30 s run
        self.session.execute(insert(MemberEnterprise), members)
        self.session.flush()
        return applications

    def _scores(self, application: Application, office: str, now: datetime) -> None:
        for member in self.committee[office]:
            self.session.add(Evaluation(application_id=application.id or 0, member_id=member.id or 0,
                                        scores={}, round=evaluation_round(application), total=75.0,
                                        created_at=now))  # fmt: skip
        self.session.flush()

    def _official(self, office: str) -> User:
        return self.staff[f"{Role.OFFICIAL}:{office}"]

    def _apply(self, application: Application, event: Event, actor: User, now: datetime,
               report: AnnualReport | None = None, **payload: object) -> None:  # fmt: skip
        """Through the service, without its commit: the simulation commits once a day (see ``run``)."""
        apply_and_notify(self.session, application=application, event=event, actor=actor, profile=self.profile,
                    now=now, payload=payload, report=report, commit=False)  # fmt: skip

    # ---- the days -------------------------------------------------------------------------------

    def run(self, start: date, end: date, log_every_days: int = 91) -> None:
        day = start
        while day <= end:
            figures = self.years.setdefault(day.year, YearFigures())
            result = sweep_day(self.session, profile=self.profile, as_of=day)
            figures.reports_opened += result.reports_opened
            figures.expired += len(result.expiry.expired)
            self._people_act(day, figures)
            self.session.commit()  # the day's moves together: one transaction, not one per move
            if (day - start).days % log_every_days == 0:
                self.log(f"  {day:%d/%m/%Y}: giorno {(day - start).days + 1} di {(end - start).days + 1}")
            day += timedelta(days=1)
        self._count_mails()

    def _people_act(self, day: date, figures: YearFigures) -> None:
        now = _at(day, hour=11)
        self._file_reports(day, now, figures)
        self._review_reports(day, now)
        self._renewals(day, now, figures)

    def _file_reports(self, day: date, now: datetime, figures: YearFigures) -> None:
        """Each open report has its planned filing day: 75% before the due date, 20% late, 5% never."""
        rows = self.session.execute(
            sa_select(
                col(AnnualReport.id),
                col(AnnualReport.year),
                col(AnnualReport.opened_on),
                col(AnnualReport.due_on),
                col(District.name),
            )
            .join(Application, col(Application.id) == col(AnnualReport.application_id))
            .join(District, col(District.id) == col(Application.district_id))
            .where(col(AnnualReport.state) == State.REPORT_OPEN, col(AnnualReport.filed_at).is_(None))
        ).all()
        due: list[int] = []
        for report_id, year, opened_on, due_on, district_name in rows:
            # drawn from what the simulation named, not from database ids (which depend on the database's past)
            plan = self._plan(f"{self.seed}:{district_name}:{year}")
            if day == due_on + timedelta(days=1):
                figures.reports_overdue_at_due_date += 1
            if plan >= 0.95:
                continue
            lead = (due_on - opened_on).days
            offset = int(plan / 0.75 * lead) if plan < 0.75 else lead + 1 + int((plan - 0.75) / 0.2 * 60)
            if day >= opened_on + timedelta(days=offset):
                due.append(report_id)
        if not due:
            return
        files = {
            report.id: (report, application)
            for report, application in self.session.exec(
                select(AnnualReport, Application)
                .join(Application, col(Application.id) == col(AnnualReport.application_id))
                .where(col(AnnualReport.id).in_(due))
            ).all()
        }
        for report_id in due:
            report, application = files[report_id]
            rep = self._rep(application.district_id)
            content = {"activities": [{"title": "Attività simulata", "programme_objective": "Crescita"}], "kpis": []}
            self._apply(application, Event.FILE_REPORT, rep, now, report=report, content=content)
            if day <= report.due_on:
                figures.reports_filed_on_time += 1
            else:
                figures.reports_filed_late += 1

    def _review_reports(self, day: date, now: datetime) -> None:
        for report, application in self.session.exec(
            select(AnnualReport, Application)
            .join(Application, col(Application.id) == col(AnnualReport.application_id))
            .where(AnnualReport.state == State.REPORT_FILED)
        ).all():
            if report.filed_at is not None and (day - report.filed_at.date()).days >= 7:
                office = self.profile.office_of(application.section).code
                self._apply(application, Event.ACCEPT_REPORT, self._official(office), now, report=report)

    def _renewals(self, day: date, now: datetime, figures: YearFigures) -> None:
        """80% of districts file a renewal 150 to 40 days before the end of validity; officials confirm it."""
        # lead = 40 + int(plan / 0.8 * 110) < 150 days: only entries ending 40 to 150 days from today can be due
        for entry_id, district_id, valid_until, application_id, district_name in self.session.execute(
            sa_select(
                col(RegistryEntry.id),
                col(RegistryEntry.district_id),
                col(RegistryEntry.valid_until),
                col(Application.id),
                col(District.name),
            )
            .join(Application, col(Application.id) == col(RegistryEntry.application_id))
            .join(District, col(District.id) == col(RegistryEntry.district_id))
            .where(
                col(Application.state) == State.ACTIVE,
                col(RegistryEntry.valid_until).is_not(None),
                col(RegistryEntry.valid_until).between(day + timedelta(days=40), day + timedelta(days=150)),
            )
            .order_by(col(RegistryEntry.id))
        ).all():
            plan = self._plan(f"{self.seed}:renewal:{district_name}:{valid_until}")
            lead = 40 + int(plan / 0.8 * 110)
            if plan >= 0.8 or valid_until is None or day != valid_until - timedelta(days=lead):
                continue
            district = self.session.get(District, district_id)
            assert district is not None
            renewal = self._applications([(district, now, entry_id or 0, application_id)], ApplicationKind.RENEWAL)[0]
            self._apply(renewal, Event.SUBMIT, self._rep(district_id), now)
            figures.renewals_filed += 1
        office_of = self.profile.office_of
        for renewal in self.session.exec(
            select(Application).where(
                Application.kind == ApplicationKind.RENEWAL,
                col(Application.state).in_([State.SUBMITTED, State.COMPLETENESS_CHECK, State.RECOGNISED]),
            )
        ).all():
            official = self._official(office_of(renewal.section).code)
            waited = (day - renewal.updated_at.date()).days
            if renewal.state == State.SUBMITTED and waited >= 3:
                self._apply(renewal, Event.START_REVIEW, official, now)
            elif renewal.state == State.COMPLETENESS_CHECK and waited >= 10:
                self._apply(renewal, Event.APPROVE_RENEWAL, official, now)
            elif renewal.state == State.RECOGNISED and waited >= 2:
                head = self.staff[f"{Role.HEAD}:{office_of(renewal.section).code}"]
                self._apply(renewal, Event.ISSUE_ACT, head, now, publication_ref="BURP simulato")
                figures.renewals_confirmed += 1

    def _count_mails(self) -> None:
        from models.notification import Notification

        for kind, created in self.session.exec(select(Notification.kind, Notification.created_at)).all():
            self.years.setdefault(created.year, YearFigures()).mails[kind] += 1
        for report in self.session.exec(select(AnnualReport).where(AnnualReport.state == State.REPORT_OPEN)).all():
            self.years.setdefault(report.due_on.year, YearFigures()).reports_never_filed += 1


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def report(sim: Simulation, log: Log = print) -> None:
    log("\nanno | relazioni aperte | presentate nei termini | in ritardo | scadute senza relazione il giorno dopo"
        " | mai presentate | rinnovi presentati | rinnovi confermati | scadenze | mail accodate")  # fmt: skip
    for year in sorted(sim.years):
        f = sim.years[year]
        log(f"{year} | {f.reports_opened} | {f.reports_filed_on_time} | {f.reports_filed_late} | "
            f"{f.reports_overdue_at_due_date} | {f.reports_never_filed} | {f.renewals_filed} | "
            f"{f.renewals_confirmed} | {f.expired} | {sum(f.mails.values())}")  # fmt: skip
    total: Counter[str] = Counter()
    for f in sim.years.values():
        total.update(f.mails)
    log("\nmail accodate per tipo: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
