"""The stage flows run for real (Prefect test server) on an application driven through the procedure."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from flows.dispatch import STAGE_FLOW_OF_EVENT
from models.application import ProtocolEntry
from models.enums import ActionStatus, DocumentKind, Event, ProtocolDirection, State
from models.protocol import sha256_hex
from models.registry import RecognitionAct, RegistryEntry
from registro.settings import get_settings
from tests.factories import Factory, pdf_text
from tests.tasks.stage_driver import StageDriver

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


def run_stage(driver: StageDriver, event: Event, *, days_later: int = 1, **payload: Any) -> str:
    """Requests the action like the API, runs its stage flow; returns the flow run id."""
    action = driver.request(event, days_later=days_later, **payload)
    flow = STAGE_FLOW_OF_EVENT[event]
    state: Any = asyncio.run(flow(action_id=action.id, return_state=True))
    assert state.is_completed(), state
    run_id = str(state.state_details.flow_run_id)
    stored = driver.action(action.id)
    assert stored.flow_run_id == run_id and stored.finished_at is not None
    assert stored.status == ActionStatus.DONE, stored.error
    assert driver.audit(event).flow_run_id == run_id
    return run_id


def document_text(driver: StageDriver, kind: DocumentKind) -> tuple[str, Any]:
    [document] = driver.documents(kind)
    path = Path(get_settings().files_dir) / document.sha256[:2] / document.sha256
    content = path.read_bytes()
    assert sha256_hex(content) == document.sha256 and len(content) == document.size
    assert document.content_type == "application/pdf"
    return pdf_text(content), document


def test_recognition_journey(factory: Factory, session: Session) -> None:
    d = StageDriver(factory)
    run_stage(d, Event.SUBMIT)
    assert d.reload().state == State.SUBMITTED
    receipt, _ = document_text(d, DocumentKind.RECEIPT)
    assert d.district.name in receipt

    run_stage(d, Event.START_REVIEW)
    run_stage(d, Event.REQUEST_INTEGRATION, missing_items=["patto firmato da tutte le imprese", "visura camerale"])
    app = d.reload()
    assert app.state == State.INTEGRATION_REQUESTED and app.integration_deadline is not None
    letter, letter_doc = document_text(d, DocumentKind.INTEGRATION_REQUEST)
    assert "patto firmato da tutte le imprese" in letter and "visura camerale" in letter
    assert app.integration_deadline.strftime("%d/%m/%Y") in letter
    outbound = session.get(ProtocolEntry, letter_doc.protocol_id)
    assert outbound is not None and outbound.direction == ProtocolDirection.OUTBOUND
    assert outbound.sha256 == letter_doc.sha256
    session.commit()
    assert d.notifications("integration_request")

    run_stage(d, Event.ANSWER_INTEGRATION, days_later=5)
    run_stage(d, Event.DECLARE_COMPLETE)
    d.score(78)
    run_stage(d, Event.APPROVE)
    run_stage(d, Event.ISSUE_ACT, publication_ref="BURP n. 40 del 2026")

    app = d.reload()
    assert app.state == State.ACTIVE and app.pending_action_id is None
    act = session.exec(select(RecognitionAct).where(RecognitionAct.application_id == app.id)).one()
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == d.district.id)).one()
    session.commit()
    decree, decree_doc = document_text(d, DocumentKind.RECOGNITION_ACT)
    assert act.document_id == decree_doc.id and entry.act_id == act.id
    assert f"n. {act.number}/{act.year}" in decree and d.district.name in decree
    assert act.valid_from.strftime("%d/%m/%Y") in decree and act.valid_until.strftime("%d/%m/%Y") in decree
    assert d.district.representative_org in decree and "50 imprese" in decree and "150 addetti" in decree
    assert "Determinazione dirigenziale" in decree and "legge 7 agosto 1990, n. 241" in decree
    protocol = session.get(ProtocolEntry, decree_doc.protocol_id)
    assert protocol is not None and protocol.direction == ProtocolDirection.OUTBOUND
    assert protocol.sha256 == decree_doc.sha256
    session.commit()
    kinds = {n.kind for n in d.notifications()}
    assert {"procedure_started", "integration_request", "integration_received", "decision"} <= kinds
    assert all(n.status == "queued" for n in d.notifications())


def test_rejection_journey_with_notice_and_observations(factory: Factory) -> None:
    d = StageDriver(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        run_stage(d, event)
    d.score(40)
    run_stage(d, Event.NOTIFY_REJECTION_INTENT, reason="programma di sviluppo generico")
    app = d.reload()
    assert app.state == State.REJECTION_NOTICE and app.observations_deadline is not None
    notice, _ = document_text(d, DocumentKind.REJECTION_NOTICE)
    assert "programma di sviluppo generico" in notice and "10-bis" in notice
    assert app.observations_deadline.strftime("%d/%m/%Y") in notice
    run_stage(d, Event.SUBMIT_OBSERVATIONS, days_later=3, observations="programma dettagliato")
    d.score(45)
    run_stage(d, Event.REJECT, days_later=11, reason="osservazioni non sufficienti")
    assert d.reload().state == State.REJECTED
    assert d.notifications("rejection_notice") and d.notifications("decision")


def test_refused_action_completes_the_run_and_fails_the_action(factory: Factory) -> None:
    d = StageDriver(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW):
        run_stage(d, event)
    action = d.request(Event.DECLARE_INADMISSIBLE, reason="documenti illeggibili")
    # the wrong stage flow for this action: a refusal (DomainError), recorded and not retried
    state: Any = asyncio.run(STAGE_FLOW_OF_EVENT[Event.APPROVE](action_id=action.id, return_state=True))
    assert state.is_completed()
    stored = d.action(action.id)
    assert stored.status == ActionStatus.FAILED and "non appartiene alla fase" in (stored.error or "")
    assert stored.flow_run_id == str(state.state_details.flow_run_id)
    assert d.reload().state == State.COMPLETENESS_CHECK and d.app.pending_action_id is None


def test_a_stage_run_makes_only_the_engine_s_own_api_calls(factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outcome lives in our database: no result is persisted, and Prefect does not ask the
    server where its default result storage is (``GET /admin/storage``, twice a run otherwise)."""
    import httpx

    calls: list[str] = []
    for cls in (httpx.AsyncClient, httpx.Client):

        def recording(self: Any, request: httpx.Request, *args: Any, __send: Any = cls.send, **kwargs: Any) -> Any:
            calls.append(f"{request.method} {request.url.path.split('/api', 1)[-1]}")
            return __send(self, request, *args, **kwargs)

        monkeypatch.setattr(cls, "send", recording)
    d = StageDriver(factory)
    run_stage(d, Event.SUBMIT)
    assert calls and not [c for c in calls if "/admin/storage" in c], calls
    assert sum(c.startswith("POST /flow_runs/") and c.endswith("/set_state") for c in calls) == 2, calls
