"""The revocation of a recognition, declared in ``models.lifecycle`` and carried out by the recognition
stage: notice with its reasons, 10 days for observations, a numbered act — every date in the letters
and the act read back from the file's own record."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from models.application import Document, ProtocolEntry
from models.base import local_date
from models.clock import deadline_after
from models.enums import ActionStatus, DocumentKind, Event, ProtocolDirection, State
from models.errors import RuleViolation
from models.italian import day
from models.registry import RecognitionAct
from registro.settings import get_settings
from tests.factories import Factory, pdf_text
from tests.tasks.stage_driver import StageDriver, approved

REASONS = "Aderiscono 31 imprese, sotto la soglia di 50 della sezione"


def active_entry(factory: Factory) -> StageDriver:
    d = approved(factory)
    assert d.apply(Event.ISSUE_ACT).status == ActionStatus.DONE
    return d


def text_of(document: Document) -> str:
    return pdf_text((Path(get_settings().files_dir) / document.sha256[:2] / document.sha256).read_bytes())


def acts(session: Session, application_id: int | None) -> list[RecognitionAct]:
    rows = session.exec(
        select(RecognitionAct).where(RecognitionAct.application_id == application_id).order_by(col(RecognitionAct.id))
    ).all()
    session.commit()
    return list(rows)


def test_notice_observations_and_numbered_act_of_revocation(factory: Factory, session: Session) -> None:
    d = active_entry(factory)
    [recognition] = acts(session, d.app.id)

    notice_outcome = d.apply(Event.NOTIFY_REVOCATION_INTENT, days_later=40, reason=REASONS)
    assert notice_outcome.status == ActionStatus.DONE and notice_outcome.state == State.REVOCATION_NOTICE
    noticed_on = local_date(d.day)
    deadline = deadline_after(noticed_on, factory.profile.observations_days, factory.profile.holiday_shift)
    assert d.reload().observations_deadline == deadline
    [letter] = d.documents(DocumentKind.REVOCATION_NOTICE)
    text = text_of(letter)
    assert f"n. {recognition.number}/{recognition.year} del {day(recognition.issued_on)}" in text
    assert f"dal {day(recognition.valid_from)} al {day(recognition.valid_until)}" in text
    assert f"in data {day(noticed_on)}" in text and f"entro il {day(deadline)}" in text and REASONS in text
    assert d.head.full_name in text
    protocol = session.get(ProtocolEntry, letter.protocol_id)
    assert protocol is not None and protocol.direction == ProtocolDirection.OUTBOUND
    [mail] = [n for n in d.notifications("revocation_notice") if n.recipient == d.rep.email]
    assert day(deadline) in mail.body_text and REASONS in mail.body_text

    with pytest.raises(RuleViolation, match=f"scade il {day(deadline)}"):  # refused when asked: a 422
        d.request(Event.REVOKE, days_later=2, reason="Requisiti non più posseduti")

    observed = d.apply(Event.SUBMIT_REVOCATION_OBSERVATIONS, observations="Aderiranno altre 25 imprese")
    assert observed.status == ActionStatus.DONE and d.reload().state == State.REVOCATION_NOTICE
    observed_on = local_date(d.day)
    assert d.notifications("revocation_observations")[0].recipient == d.official.email

    revoked = d.apply(Event.REVOKE, days_later=12, reason="Le nuove adesioni non sono documentate")
    assert revoked.status == ActionStatus.DONE and revoked.state == State.REVOKED
    recognition_act, revocation = acts(session, d.app.id)
    assert (revocation.kind, revocation.year, revocation.number) == (
        DocumentKind.REVOCATION_ACT,
        recognition_act.year,
        recognition_act.number + 1,  # one yearly series for every act
    )
    assert revocation.issued_on == local_date(d.day) and revocation.valid_until == revocation.issued_on
    [decree] = d.documents(DocumentKind.REVOCATION_ACT)
    assert revocation.document_id == decree.id
    text = text_of(decree)
    assert f"n. {revocation.number}/{revocation.year} del {day(revocation.issued_on)}" in text
    assert f"n. {recognition.number}/{recognition.year} del {day(recognition.issued_on)}" in text
    assert f"procedimento di revoca del {day(noticed_on)}" in text and REASONS in text
    assert f"osservazioni presentate dal soggetto rappresentante il {day(observed_on)}" in text
    assert "non sono pervenute osservazioni" not in text
    assert "Le nuove adesioni non sono documentate" in text and f"con effetto dal {day(revocation.issued_on)}" in text
    protocol = session.get(ProtocolEntry, decree.protocol_id)
    assert protocol is not None and f"{revocation.number}/{revocation.year}" in protocol.subject
    [mail] = [n for n in d.notifications("revoked") if n.recipient == d.rep.email]
    assert day(revocation.issued_on) in mail.body_text


def test_without_observations_the_act_says_so(factory: Factory, session: Session) -> None:
    d = active_entry(factory)
    d.apply(Event.NOTIFY_REVOCATION_INTENT, reason=REASONS)
    assert d.apply(Event.REVOKE, days_later=15, reason="Nessuna osservazione").state == State.REVOKED
    [decree] = d.documents(DocumentKind.REVOCATION_ACT)
    text = text_of(decree)
    assert "non sono pervenute osservazioni" in text and "osservazioni presentate" not in text


def test_a_revocation_dropped_leaves_the_recognition_in_force(factory: Factory, session: Session) -> None:
    d = active_entry(factory)
    d.apply(Event.NOTIFY_REVOCATION_INTENT, reason=REASONS)
    with pytest.raises(RuleViolation, match="termine per le osservazioni è scaduto"):
        d.request(Event.SUBMIT_REVOCATION_OBSERVATIONS, days_later=30, observations="Fuori tempo massimo")
    dropped = d.apply(Event.DROP_REVOCATION, reason="Requisiti ripristinati")
    assert dropped.status == ActionStatus.DONE and dropped.state == State.ACTIVE
    mail = d.notifications("revocation_dropped")[0]
    assert "resta in vigore" in mail.body_text and "Requisiti ripristinati" in mail.body_text
    assert len(acts(session, d.app.id)) == 1  # no act: the recognition stands
    assert d.apply(Event.NOTIFY_REVOCATION_INTENT, reason=REASONS).state == State.REVOCATION_NOTICE  # may start again
