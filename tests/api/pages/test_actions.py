"""The event → form table of the application page agrees with the lifecycle and the JSON API."""

from __future__ import annotations

import inspect

import pytest
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.pages.actions import ACTIONS, body_from_form, field_errors, form_for, forms_allowed
from api.routers import actions
from models.enums import Event, Role, State, Subject
from models.lifecycle import TRANSITIONS, allowed_events
from models.payloads import DeclareCompleteIn, IntegrationRequestIn, IssueActIn, NoteIn


def test_every_event_a_person_may_trigger_on_an_application_has_a_form() -> None:
    by_people = {t.event for t in TRANSITIONS if t.subject == Subject.APPLICATION and set(t.roles) - {Role.SYSTEM}}
    assert set(ACTIONS) == by_people
    for event in (Event.EXPIRE, Event.REQUEST_RENEWAL, Event.FILE_REPORT, Event.ACCEPT_REPORT):
        assert event not in ACTIONS


def test_each_form_posts_the_fields_of_its_json_body() -> None:
    for action in ACTIONS.values():
        names = {f.name for f in action.fields}
        if action.body is None:
            assert names == set()
            continue
        fields = action.body.model_fields
        assert names == set(fields), action.event  # every field of the body, nothing else
        for field in action.fields:
            assert field.required == fields[field.name].is_required(), (action.event, field.name)


def test_each_event_a_form_asks_for_has_its_generated_json_route() -> None:
    routes = {r.path: r for r in actions.router.routes if isinstance(r, APIRoute)}
    for event, action in ACTIONS.items():
        route = routes[f"/applications/{{application_id}}/actions/{event.value}"]
        assert route.methods == {"POST"} and route.status_code == 202
        assert route.summary == (action.transition.summary or action.label)
        parameters = inspect.signature(route.endpoint).parameters
        assert {"application", "ctx", "dispatch"} <= set(parameters)
        if action.body is None:
            assert "body" not in parameters
        else:
            assert action.body.__name__ in str(parameters["body"].annotation)
    assert len(routes) == len(ACTIONS)


def test_the_rows_of_one_event_declare_the_same_request() -> None:
    for transition in TRANSITIONS:
        first = next(t for t in TRANSITIONS if t.event == transition.event)
        assert (transition.payload, transition.check, transition.summary, transition.done, transition.danger) == (
            first.payload, first.check, first.summary, first.done, first.danger
        ), transition.event  # fmt: skip


def test_the_button_is_the_lifecycle_label() -> None:
    assert ACTIONS[Event.REQUEST_INTEGRATION].label == "Richiedi integrazioni"
    assert ACTIONS[Event.ISSUE_ACT].label == "Emetti l'atto di riconoscimento"


def test_the_forms_shown_follow_allowed_events() -> None:
    events = allowed_events(State.COMMITTEE_EVALUATION, None, Role.HEAD)
    assert [a.event for a in forms_allowed(events)] == events
    assert forms_allowed([Event.EXPIRE]) == []
    assert form_for("request_integration") is ACTIONS[Event.REQUEST_INTEGRATION]
    assert form_for("expire") is None and form_for("volare") is None


def test_a_body_is_built_from_the_form_as_the_api_would_read_it() -> None:
    form = FormData([("missing_items", " Patto firmato \r\n\r\nVisura  \n"), ("deadline_days", " 12 ")])
    body = body_from_form(ACTIONS[Event.REQUEST_INTEGRATION], form)
    assert body == IntegrationRequestIn(missing_items=["Patto firmato", "Visura"], deadline_days=12)
    members = FormData([("member_ids", "4"), ("member_ids", "7"), ("note", "")])
    assert body_from_form(ACTIONS[Event.DECLARE_COMPLETE], members) == DeclareCompleteIn(member_ids=[4, 7])
    assert body_from_form(ACTIONS[Event.DECLARE_COMPLETE], FormData()) == DeclareCompleteIn()
    assert body_from_form(ACTIONS[Event.ANSWER_INTEGRATION], FormData([("note", " ")])) == NoteIn()
    assert body_from_form(ACTIONS[Event.ISSUE_ACT], FormData([("publication_ref", "BURP 3")])) == IssueActIn(
        publication_ref="BURP 3"
    )
    assert body_from_form(ACTIONS[Event.START_REVIEW], FormData([("reason", "ignored")])) is None


def test_field_errors_name_the_form_labels() -> None:
    with pytest.raises(ValidationError) as caught:
        body_from_form(ACTIONS[Event.REQUEST_INTEGRATION], FormData([("deadline_days", "0")]))
    message = field_errors(caught.value)
    assert "Elementi mancanti: servono almeno 1 elemento" in message
    assert "Giorni concessi per l'integrazione: deve essere maggiore o uguale a 1" in message
    with pytest.raises(ValidationError) as caught:
        body_from_form(ACTIONS[Event.DECLARE_COMPLETE], FormData([("member_ids", "x")]))
    assert field_errors(caught.value) == "Membri del comitato da assegnare: deve essere un numero intero"
    with pytest.raises(ValidationError) as caught:
        body_from_form(ACTIONS[Event.WITHDRAW], FormData())
    assert field_errors(caught.value).startswith("Motivazione: testo troppo corto")
