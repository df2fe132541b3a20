"""carry_out without Prefect: one transaction per action, documents, refusals, idempotence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import update
from sqlmodel import Session, select

from api.routers.actions import requested_by_people
from models.application import ProtocolEntry
from models.enums import ActionStatus, DocumentKind, Event, ProtocolDirection, Stage, State
from models.errors import ConcurrentChange, RuleViolation
from models.lifecycle import STAGE_OF_EVENT, TRANSITIONS, document_of, stage_of
from models.procedure import AuditEvent, Evaluation
from models.registry import RecognitionAct
from registro.db import get_engine
from registro.settings import get_settings
from tasks import stage_work
from tasks.documents import DocumentRenderingError
from tasks.stage_work import carry_out, is_transient, run_name
from tests.factories import Factory, pdf_text
from tests.tasks.stage_driver import StageDriver, approved


def test_every_application_event_belongs_to_exactly_one_stage() -> None:
    for transition in TRANSITIONS:  # every row of an event declares the same stage and document
        assert transition.stage == stage_of(transition.event)
        assert transition.document == document_of(transition.event)
    requested = {t.event for t in TRANSITIONS if requested_by_people(t)}
    assert set(STAGE_OF_EVENT) == requested  # every event a person asks for has a stage flow, no other


def test_submission_applies_event_issues_receipt_and_frees_the_file(factory: Factory, session: Session) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)
    assert d.reload().pending_action_id == action.id
    outcome = carry_out(action.id, flow_run_id="run-1")
    assert outcome.status == ActionStatus.DONE and outcome.state == State.SUBMITTED
    app = d.reload()
    assert app.state == State.SUBMITTED and app.pending_action_id is None
    assert app.submitted_at == action.requested_at  # time comes from the action, not the clock
    stored = d.action(action.id)
    assert (stored.status, stored.flow_run_id, stored.error) == (ActionStatus.DONE, "run-1", None)
    assert d.audit(Event.SUBMIT).flow_run_id == "run-1"
    [receipt] = d.documents(DocumentKind.RECEIPT)
    assert receipt.protocol_id == app.protocol_id and receipt.id == outcome.document_id
    text = pdf_text((get_settings().files_dir / receipt.sha256[:2] / receipt.sha256).read_bytes())
    assert d.district.name in text and "Ricevuta di presentazione" in text
    protocol = session.get(ProtocolEntry, app.protocol_id)
    assert protocol is not None and protocol.label in text
    assert {n.kind for n in d.notifications()} == {"procedure_started"}


def test_guard_refusal_fails_the_action_in_italian_and_is_not_raised(factory: Factory, session: Session) -> None:
    d = StageDriver(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        d.apply(event)
    d.score(80)
    action = d.request(Event.APPROVE)
    session.execute(update(Evaluation).values(total=10))  # scores revised meanwhile: the guard now refuses
    session.commit()
    outcome = carry_out(action.id, flow_run_id="run-2")
    assert outcome.status == ActionStatus.FAILED and "occorre il preavviso di rigetto" in (outcome.error or "")
    stored = d.action(action.id)
    assert stored.status == ActionStatus.FAILED and stored.flow_run_id == "run-2" and "soglia" in (stored.error or "")
    app = d.reload()
    assert app.state == State.COMMITTEE_EVALUATION and app.pending_action_id is None
    assert session.exec(select(AuditEvent).where(AuditEvent.event == Event.APPROVE)).all() == []
    session.commit()


def test_a_finished_action_is_never_applied_twice(factory: Factory) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)
    carry_out(action.id, flow_run_id="first")
    again = carry_out(action.id, flow_run_id="second")
    assert again.skipped and again.status == ActionStatus.DONE
    assert d.action(action.id).flow_run_id == "first"


def test_stage_flow_refuses_an_event_of_another_stage(factory: Factory) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)
    outcome = carry_out(action.id, flow_run_id="x", stage=Stage.COMMITTEE)
    assert outcome.status == ActionStatus.FAILED and "non appartiene alla fase" in (outcome.error or "")
    assert d.reload().state == State.DRAFT


def test_transient_error_rolls_back_everything_and_keeps_the_action_queued(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stage_work, "draft_html", disk_full)
    with pytest.raises(OSError):
        carry_out(action.id, flow_run_id="run-3")
    app = d.reload()
    assert app.state == State.DRAFT and app.protocol_id is None and app.pending_action_id == action.id
    assert d.action(action.id).status == ActionStatus.QUEUED
    monkeypatch.undo()
    assert carry_out(action.id, flow_run_id="run-4").status == ActionStatus.DONE


def test_unexpected_error_fails_the_action_and_frees_the_file(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)

    def bug(*_args: object, **_kwargs: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(stage_work, "draft_html", bug)
    with pytest.raises(KeyError):
        carry_out(action.id, flow_run_id="run-5")
    stored = d.action(action.id)
    assert stored.status == ActionStatus.FAILED and "errore interno" in (stored.error or "")
    assert "run-5" in (stored.error or "")
    assert d.reload().pending_action_id is None and d.app.state == State.DRAFT


def test_the_pdf_is_laid_out_after_the_event_commits_and_a_crash_between_loses_nothing(
    factory: Factory, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)
    laid_out_in_transaction: list[bool] = []

    def crash(html: str, *, template: str) -> object:
        laid_out_in_transaction.append(get_engine().pool.checkedout() > 0)  # type: ignore[attr-defined]
        raise OSError(5, "Input/output error")  # the process dies between the two commits

    monkeypatch.setattr(stage_work, "lay_out", crash)
    with pytest.raises(OSError):
        carry_out(action.id, flow_run_id="run-6")
    assert laid_out_in_transaction == [False]  # no connection (nor its locked rows) held during the layout
    app = d.reload()
    assert app.state == State.SUBMITTED and app.pending_action_id == action.id  # event applied, file busy
    stored = d.action(action.id)
    assert stored.status == ActionStatus.QUEUED and "Ricevuta di presentazione" in (stored.document_html or "")
    assert d.documents(DocumentKind.RECEIPT) == []
    monkeypatch.undo()
    outcome = carry_out(action.id, flow_run_id="run-7")  # the next run only issues the document
    assert outcome.status == ActionStatus.DONE and outcome.document_id is not None
    audits = session.exec(select(AuditEvent).where(AuditEvent.application_id == d.app.id)).all()
    assert [(a.event, a.flow_run_id) for a in audits if a.event == Event.SUBMIT] == [(Event.SUBMIT, "run-6")]
    [receipt] = d.documents(DocumentKind.RECEIPT)
    stored = d.action(action.id)
    assert stored.document_html is None and d.reload().pending_action_id is None
    assert carry_out(action.id, flow_run_id="run-8").skipped
    assert len(d.documents(DocumentKind.RECEIPT)) == 1 and receipt.id == outcome.document_id
    session.commit()


def test_a_layout_bug_leaves_the_action_queued_with_its_event_applied(
    factory: Factory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)

    def bug(html: str, *, template: str) -> object:
        raise DocumentRenderingError("impaginazione PDF non riuscita per il modello «receipt»")

    monkeypatch.setattr(stage_work, "lay_out", bug)
    with pytest.raises(DocumentRenderingError):
        carry_out(action.id, flow_run_id="run-9")
    assert "non impaginato" in caplog.text
    assert d.action(action.id).status == ActionStatus.QUEUED and d.reload().state == State.SUBMITTED
    monkeypatch.undo()
    assert carry_out(action.id, flow_run_id="run-10").status == ActionStatus.DONE  # once the bug is fixed


def test_a_revocation_is_carried_out_by_the_recognition_stage(factory: Factory, session: Session) -> None:
    d = approved(factory)
    d.apply(Event.ISSUE_ACT)
    action = d.request(Event.NOTIFY_REVOCATION_INTENT, reason="Aderiscono 31 imprese, sotto la soglia di 50")
    assert carry_out(action.id, flow_run_id="x", stage=Stage.COMMITTEE).status == ActionStatus.FAILED  # not its stage
    action = d.request(Event.NOTIFY_REVOCATION_INTENT, reason="Aderiscono 31 imprese, sotto la soglia di 50")
    outcome = carry_out(action.id, flow_run_id="x", stage=Stage.RECOGNITION)  # type: ignore[arg-type]
    assert outcome.status == ActionStatus.DONE and d.reload().state == State.REVOCATION_NOTICE


def test_recognition_decree_act_protocol_and_file(factory: Factory, session: Session) -> None:
    d = approved(factory)
    outcome = d.apply(Event.ISSUE_ACT, publication_ref="BURP n. 12 del 2026")
    assert outcome.status == ActionStatus.DONE and outcome.state == State.ACTIVE
    act = session.exec(select(RecognitionAct).where(RecognitionAct.application_id == d.app.id)).one()
    [decree] = d.documents(DocumentKind.RECOGNITION_ACT)
    assert act.document_id == decree.id and decree.filename == f"recognition-act-{act.year}-{act.number}.pdf"
    path = Path(get_settings().files_dir) / decree.sha256[:2] / decree.sha256
    text = pdf_text(path.read_bytes())
    assert f"n. {act.number}/{act.year}" in text and d.district.name in text
    assert act.valid_until.strftime("%d/%m/%Y") in text and "BURP n. 12 del 2026" in text
    assert "DETERMINA" in text and "Distretti produttivi" in text  # Puglia: determinazione dirigenziale
    protocol = session.get(ProtocolEntry, decree.protocol_id)
    assert protocol is not None and protocol.direction == ProtocolDirection.OUTBOUND
    assert protocol.sha256 == decree.sha256 and f"{act.number}/{act.year}" in protocol.subject
    session.commit()


def test_is_transient_never_retries_domain_errors() -> None:
    assert not is_transient(RuleViolation("no"))
    assert not is_transient(ConcurrentChange("no"))
    assert not is_transient(KeyError("bug"))
    assert is_transient(OSError("disk"))
    assert is_transient(sa_exc.OperationalError("SELECT 1", {}, Exception("database is locked")))


def test_withdrawal_through_the_completeness_stage(factory: Factory) -> None:
    d = StageDriver(factory)
    d.apply(Event.SUBMIT)
    outcome = d.apply(Event.WITHDRAW, days_later=2, reason="rinuncia")
    assert outcome.state == State.WITHDRAWN
    app = d.reload()
    assert app.closed_at == d.day and app.pending_action_id is None
    assert d.notifications("withdrawn")  # to the responsible official


def test_run_names_are_readable() -> None:
    assert run_name(Stage.SUBMISSION, 34, 12) == "submission-app-12"
    assert run_name("recognition", 34) == "recognition-action-34"


def test_carry_out_async_retries_only_transient_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky(action_id: int, **_kwargs: object) -> stage_work.ActionOutcome:
        calls.append(action_id)
        if len(calls) == 1:
            raise sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return stage_work.ActionOutcome(action_id=action_id, status=ActionStatus.DONE)

    monkeypatch.setattr(stage_work, "carry_out", flaky)
    outcome = asyncio.run(stage_work.carry_out_async(7, flow_run_id="r", retry_delays=(0,)))
    assert outcome.status == ActionStatus.DONE and calls == [7, 7]

    def bug(action_id: int, **_kwargs: object) -> stage_work.ActionOutcome:
        calls.append(action_id)
        raise KeyError("bug")

    monkeypatch.setattr(stage_work, "carry_out", bug)
    with pytest.raises(KeyError):
        asyncio.run(stage_work.carry_out_async(8, flow_run_id="r", retry_delays=(0, 0)))
    assert calls == [7, 7, 8]  # a bug is never retried
