"""API test fixtures: an app with a pinned clock and a synchronous stand-in for the stage flows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from api_support import Clock, Dispatched, Http, People, run_action_synchronously_for_tests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.enums import Role
from models.profiles import RegionProfile
from tests.factories import Factory


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def dispatched() -> Dispatched:
    return Dispatched()


@pytest.fixture
def app(session: Session, profile: RegionProfile, clock: Clock, dispatched: Dispatched) -> FastAPI:
    app = create_app()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    app.dependency_overrides[get_now] = lambda: clock.now
    app.dependency_overrides[get_dispatcher] = lambda: run_action_synchronously_for_tests(
        engine, profile, clock, dispatched
    )
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # no `with`: the lifespan (draining real flows at shutdown) is not part of these tests
    yield TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def people(factory: Factory) -> People:
    district = factory.district(section=1)
    other = factory.district(section=1)
    agri = factory.district(section=6)
    return People(
        admin=factory.user(Role.ADMIN),
        official=factory.user(Role.OFFICIAL, office="ricerca"),
        head=factory.user(Role.HEAD, office="ricerca"),
        official_agri=factory.user(Role.OFFICIAL, office="agricoltura"),
        members=[factory.user(Role.COMMITTEE, office="ricerca") for _ in range(3)],
        rep=factory.user(Role.REPRESENTATIVE, district=district),
        other_rep=factory.user(Role.REPRESENTATIVE, district=other),
        agri_rep=factory.user(Role.REPRESENTATIVE, district=agri),
        district=district,
        other_district=other,
        agri_district=agri,
    )


@pytest.fixture
def auth(client: TestClient, clock: Clock) -> Http:
    return Http(client, clock)
