"""Test helper: requests actions on one application the way the API does (``request_action``).

The stage work is then carried out by the caller: ``carry_out`` directly (plain-function tests) or a
real stage flow (``tests/flows``). Every method ends the test session's transaction: the stage work
runs in sessions of its own, and reads what the test committed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from models.actions import request_action
from models.application import Application, Document, StageAction
from models.enums import DocumentKind, Event
from models.notification import Notification
from models.procedure import AuditEvent, Evaluation
from models.service import evaluation_round
from tasks.stage_work import ActionOutcome, carry_out
from tests.factories import Factory, Journey


class StageDriver(Journey):
    """A Journey whose moves go the API's way: requested as stage actions, carried out by the stage work."""

    def __init__(self, factory: Factory, *, section: int = 1, **app_kwargs: Any) -> None:
        super().__init__(factory, section=section, **app_kwargs)
        self.session = factory.session

    def request(self, event: Event, *, days_later: int = 1, **payload: Any) -> StageAction:
        self.day += timedelta(days=days_later)
        self.reload()  # the stage work ran in another session
        action = request_action(
            self.session,
            application=self.app,
            event=event,
            actor=self.actor_for(event),
            profile=self.f.profile,
            now=self.day,
            payload=payload,
        )
        self.session.commit()
        self.session.expunge(action)  # a snapshot: reading it later must not open a transaction
        return action

    def apply(self, event: Event, *, days_later: int = 1, **payload: Any) -> ActionOutcome:
        """Requests the action and carries it out at once with the plain function (no Prefect)."""
        action = self.request(event, days_later=days_later, **payload)
        return carry_out(action.id, flow_run_id="run-test")  # type: ignore[arg-type]

    def score(self, total: float) -> None:
        for member in self.members:
            self.session.add(
                Evaluation(
                    application_id=self.app.id,
                    member_id=member.id,
                    total=total,
                    scores={},
                    round=evaluation_round(self.app),
                    created_at=self.day,
                )
            )
        self.session.commit()

    # ---- reading back (each read ends its transaction) --------------------------------

    def reload(self) -> Application:
        self.session.expire_all()
        app = self.session.get(Application, self.app.id)
        assert app is not None
        self.app = app
        self.session.commit()
        return app

    def action(self, action_id: int | None) -> StageAction:
        self.session.expire_all()
        action = self.session.get(StageAction, action_id)
        assert action is not None
        self.session.commit()
        return action

    def audit(self, event: Event) -> AuditEvent:
        row = self.session.exec(
            select(AuditEvent)
            .where(AuditEvent.application_id == self.app.id, AuditEvent.event == event)
            .order_by(col(AuditEvent.id).desc())
        ).first()
        self.session.commit()
        assert row is not None, f"nessun evento {event}"
        return row

    def documents(self, kind: DocumentKind) -> list[Document]:
        rows = list(
            self.session.exec(
                select(Document).where(Document.application_id == self.app.id, Document.kind == kind)
            ).all()
        )
        self.session.commit()
        return rows

    def notifications(self, kind: str | None = None) -> list[Notification]:
        query = select(Notification).where(Notification.application_id == self.app.id)
        if kind is not None:
            query = query.where(Notification.kind == kind)
        rows = list(self.session.exec(query.order_by(col(Notification.id))).all())
        self.session.commit()
        return rows


def approved(factory: Factory) -> StageDriver:
    """A file carried through the stages up to the committee's positive outcome."""
    d = StageDriver(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        d.apply(event)
    d.score(75)
    d.apply(Event.APPROVE)
    return d
