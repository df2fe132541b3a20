"""The payload models: one model is the API body and the page form; the checks a row declares."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from models.errors import InvalidInput
from models.lifecycle import TRANSITIONS
from models.payloads import (
    WIDGET,
    DeclareCompleteIn,
    IntegrationRequestIn,
    ReasonIn,
    body_is_optional,
    integration_days_within_profile,
)
from tests.factories import Factory


def test_every_payload_field_has_an_italian_label_and_a_widget() -> None:
    for model in {t.payload for t in TRANSITIONS if t.payload is not None}:
        for name, field in model.model_fields.items():
            assert field.title and field.title != name, (model.__name__, name)
            assert isinstance(field.json_schema_extra, dict) and field.json_schema_extra[WIDGET] in {
                "text", "textarea", "lines", "number", "members",
            }  # fmt: skip


def test_a_body_is_optional_when_every_field_has_a_default() -> None:
    assert body_is_optional(DeclareCompleteIn) and not body_is_optional(ReasonIn)
    assert not body_is_optional(IntegrationRequestIn)


def test_the_integration_days_are_bounded_by_the_profile(factory: Factory, session: Session) -> None:
    application = factory.application(factory.district())
    limit = factory.profile.integration_max_days
    items = {"missing_items": ["patto firmato"]}
    integration_days_within_profile(session, application, {**items, "deadline_days": limit}, factory.profile)
    with pytest.raises(InvalidInput, match=f"al massimo {limit} giorni") as refused:
        integration_days_within_profile(session, application, {**items, "deadline_days": limit + 1}, factory.profile)
    assert refused.value.details == {"field": "deadline_days"}
    with pytest.raises(InvalidInput, match="almeno un elemento mancante") as refused:
        integration_days_within_profile(session, application, {"deadline_days": limit}, factory.profile)
    assert refused.value.details == {"field": "missing_items"}
