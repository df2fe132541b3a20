"""The deadlines of one application as an iCalendar file (RFC 5545), for the representative's or the
official's calendar: procedure term, integration answer, observations, end of validity, annual reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlmodel import Session, col, select

from models.application import Application
from models.clock import clock_of, suspensions_by_application
from models.district import District
from models.enums import State
from models.lifecycle import OPEN_STATES
from models.profiles import RegionProfile
from models.registry import AnnualReport, RegistryEntry


@dataclass(frozen=True)
class Deadline:
    code: str  # stable part of the event's UID
    day: date
    summary: str
    description: str


def deadlines(session: Session, *, application: Application, profile: RegionProfile, today: date) -> list[Deadline]:
    district = session.get(District, application.district_id)
    name = district.name if district else f"domanda {application.id}"
    found: list[Deadline] = []
    ledger = suspensions_by_application(session, [application.id or 0]).get(application.id or 0, [])
    clock = clock_of(application, ledger, profile, today)
    if clock is not None and application.state in OPEN_STATES:
        found.append(Deadline("term", clock.deadline, f"Termine del procedimento – {name}",
                              f"Conclusione del procedimento (domanda n. {application.id}, L. 241/1990)."))  # fmt: skip
    if application.state == State.INTEGRATION_REQUESTED and application.integration_deadline:
        found.append(Deadline("integration", application.integration_deadline, f"Invio delle integrazioni – {name}",
                              "Ultimo giorno per inviare la documentazione integrativa richiesta."))  # fmt: skip
    if application.state == State.REJECTION_NOTICE and application.observations_deadline:
        found.append(Deadline("observations", application.observations_deadline, f"Osservazioni – {name}",
                              "Ultimo giorno per le osservazioni sul preavviso di rigetto (art. 10-bis)."))  # fmt: skip
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == application.id)).first()
    if entry is not None and entry.valid_until is not None and application.state == State.ACTIVE:
        found.append(Deadline("validity", entry.valid_until, f"Scadenza del riconoscimento – {name}",
                              "Presentare la domanda di rinnovo prima di questa data."))  # fmt: skip
    open_reports = (AnnualReport.application_id == application.id, AnnualReport.state == State.REPORT_OPEN)
    reports = session.exec(select(AnnualReport).where(*open_reports).order_by(col(AnnualReport.year))).all()
    found += [Deadline(f"report-{r.year}", r.due_on, f"Relazione annuale {r.year} – {name}",
                       "Ultimo giorno per trasmettere la Relazione Annuale.") for r in reports]  # fmt: skip
    return sorted(found, key=lambda d: d.day)


def to_ics(items: list[Deadline], *, application_id: int, stamp: datetime, host: str = "registro-distretti") -> bytes:
    """The calendar (the ``icalendar`` library escapes the text and folds the long lines)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Registro Distretti//Scadenze//IT")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Scadenze della domanda n. {application_id}")
    for item in items:
        event = Event()
        event.add("uid", f"app{application_id}-{item.code}-{item.day:%Y%m%d}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description)
        calendar.add_component(event)
    return calendar.to_ical()
