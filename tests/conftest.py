"""Shared fixtures. The database: a PostgreSQL server named by REGISTRO_TEST_DATABASE_URL (its
maintenance database, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) or, without it,
an embedded server of the session's own (``registro.embedded_postgres``, started in about a second,
without durability). Each run works in a database of its own, created then dropped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

# settings for the whole test session, before any application module reads them
os.environ.setdefault("REGISTRO_PASSWORD_TIME_COST", "1")
os.environ.setdefault("REGISTRO_PASSWORD_MEMORY_COST", "8192")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("REGISTRO_ALLOW_FUTURE_AS_OF", "true")  # the flows driven over simulated years

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.enums import Role
from models.profiles import RegionProfile, load_profile
from tests.api_support import Clock, Dispatched, Http, People, run_action_synchronously_for_tests
from tests.factories import Factory

_session_server = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    """Before collection (some modules read the variable): the embedded server, unless one is named."""
    if os.environ.get("REGISTRO_TEST_DATABASE_URL"):
        return
    from registro import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="registro-test-"))
    _session_server.callback(shutil.rmtree, folder, True)
    pgdata = folder / "pg"
    _session_server.enter_context(embedded_postgres.ensure_running(pgdata, fast_unsafe=True, say=lambda _: None))
    os.environ["REGISTRO_TEST_DATABASE_URL"] = embedded_postgres.url(pgdata, "postgres")


def pytest_unconfigure(config: pytest.Config) -> None:
    _session_server.close()


def _database_url() -> str:
    return os.environ["REGISTRO_TEST_DATABASE_URL"]


@contextmanager
def _private_database(url: str) -> Iterator[str]:
    """A database of this run's own (created, then dropped): runs never collide."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"registro_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        from registro import db

        db.get_engine().dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    data_dir = tmp_path_factory.mktemp("var")
    with _private_database(_database_url()) as url:
        yield from _migrated_engine(url, data_dir)


def _migrated_engine(url: str, data_dir: Path) -> Iterator[Engine]:
    os.environ["REGISTRO_DATABASE_URL"] = url
    os.environ["REGISTRO_DATA_DIR"] = str(data_dir)
    from registro import db
    from registro.bootstrap import migrate
    from registro.settings import get_settings

    get_settings.cache_clear()
    db.get_engine.cache_clear()
    engine = db.get_engine()
    migrate(engine)
    yield engine
    engine.dispose()


TABLES_IN_DELETE_ORDER = [
    "notification",
    "audit_event",
    "annual_report",
    "registry_entry",
    "recognition_act",
    "evaluation",
    "committee_assignment",
    "clock_suspension",
    "stage_action",
    "document",
    "member_enterprise",
    "protocol_entry",
    "application",
    "api_token",
    "user",
    "district",
]


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("UPDATE document SET annual_report_id = NULL"))  # the one reference back up
        for table in TABLES_IN_DELETE_ORDER:
            conn.execute(text(f'DELETE FROM "{table}"'))
    return engine


@pytest.fixture
def session(clean_db: Engine) -> Iterator[Session]:
    with Session(clean_db, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def profile() -> RegionProfile:
    return load_profile("puglia")


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday


@pytest.fixture
def factory(session: Session, profile: RegionProfile, now: datetime) -> Factory:
    return Factory(session=session, profile=profile, now=now)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (about 12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# ---- the API with a pinned clock and a synchronous stand-in for the stage flows ------------
# (used by tests/api and by the whole journeys of tests/e2e that run on the simulated calendar)


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
