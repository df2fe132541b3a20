"""Backup while the system writes (pg_dump from one snapshot + files + local keys), restore into a new
database and data folder, and the restored system runs the whole journey with its audit chain intact."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.application import Application, Document
from models.audit_chain import chain_key
from models.profiles import RegionProfile
from registro import audit, db, embedded_postgres
from registro.backup import BackupError, backup, libpq, pg_binary, read_manifest, restore, tools_major
from registro.bootstrap import migrate
from registro.cli import app as cli
from registro.local_secrets import AUDIT_KEY, secrets_dir
from registro.settings import get_settings
from tests.api_support import (
    API,
    Clock,
    Dispatched,
    Http,
    People,
    draft_ready,
    run_action_synchronously_for_tests,
    to_active,
)

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def _major(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        version = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    engine.dispose()
    return version // 10000


@pytest.fixture(scope="module")
def restore_server() -> Iterator[str]:
    """The maintenance database of a server that can take the restore: the suite's when it has the
    tools' version or newer, else an embedded one of this module's own (the embedded default's case)."""
    suite = os.environ["REGISTRO_TEST_DATABASE_URL"]
    if _major(suite) >= tools_major():
        yield suite
        return
    folder = Path(tempfile.mkdtemp(prefix="registro-ripristino-"))
    try:
        with embedded_postgres.ensure_running(folder / "pg", fast_unsafe=True, say=lambda _: None):
            yield embedded_postgres.url(folder / "pg", "postgres")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def engine(engine: Engine, restore_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The system backed up lives on the restore server too (overrides the suite's ``engine``): a dump
    of another major version need not restore (e.g. a Debian PostgreSQL 15 marks every column with an
    option, ``pg_attver``, that PostgreSQL 18 refuses)."""
    if restore_server == os.environ["REGISTRO_TEST_DATABASE_URL"]:
        yield engine
        return
    saved = {name: os.environ.get(name) for name in ("REGISTRO_DATABASE_URL", "REGISTRO_DATA_DIR")}
    name = f"rb_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = create_engine(restore_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    os.environ["REGISTRO_DATABASE_URL"] = make_url(restore_server).set(database=name).render_as_string(False)
    os.environ["REGISTRO_DATA_DIR"] = str(tmp_path_factory.mktemp("var-backup"))
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        migrate(db.get_engine())
        yield db.get_engine()
    finally:
        db.get_engine().dispose()
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        get_settings.cache_clear()
        db.get_engine.cache_clear()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture
def databases(restore_server: str) -> Iterator[list[str]]:
    """Databases a test restores into, on the restore server (``_new_url``); dropped afterwards with
    any database kept aside by a forced restore."""
    names: list[str] = [restore_server]
    yield names
    server = create_engine(restore_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        for name in names[1:]:
            kept = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :n"), {"n": f"{name}%"})
            for found in list(kept.scalars()):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{found}" WITH (FORCE)'))
    server.dispose()


def _new_url(databases: list[str], *, create: bool = False) -> str:
    """A new database's URL on the restore server (``databases[0]``), created or left for the restore to create."""
    name = f"rr_{uuid.uuid4().hex[:8]}"
    url = make_url(databases[0])
    databases.append(name)
    if create:
        server = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _backup(path: Path) -> Path:
    settings = get_settings()
    return backup(
        settings.resolved_database_url, settings.files_dir, path, now=NOW, secrets_dir=secrets_dir(settings.data_dir)
    ).archive


@contextmanager
def system_on(data_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings and engine pointed at another database and data folder (as a restored machine would be)."""
    monkeypatch.setenv("REGISTRO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("REGISTRO_DATABASE_URL", database_url)
    monkeypatch.delenv("REGISTRO_AUDIT_KEY", raising=False)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        yield
    finally:
        db.get_engine().dispose()
        monkeypatch.undo()
        get_settings.cache_clear()
        db.get_engine.cache_clear()


def test_the_tools_are_those_of_the_embedded_installation() -> None:
    assert pg_binary("pg_dump").parent == pg_binary("pg_restore").parent
    assert pg_binary("pg_dump").parts[-3:] == ("pginstall", "bin", "pg_dump")
    conninfo, env = libpq("postgresql+psycopg://registro:segreta@db.example:5433/registro")
    assert (conninfo, env) == ("postgresql://registro@db.example:5433/registro", {"PGPASSWORD": "segreta"})
    conninfo, env = libpq("postgresql+psycopg://postgres@/registro?host=/srv/pg")
    assert make_url(conninfo).query == {"host": "/srv/pg"} and not env
    with pytest.raises(BackupError, match="PostgreSQL"):
        libpq("mysql+pymysql://registro@db.example/registro")


def _writes_while(client: TestClient, headers: dict[str, str], app_id: int, stop: threading.Event) -> list[int]:
    """Uploads documents until ``stop`` (at most 60): the system keeps writing during the backup."""
    statuses = []
    for n in range(60):
        if stop.is_set():
            break
        files = {"file": (f"allegato-{n}.pdf", f"%PDF-1.4 allegato {n}".encode(), "application/pdf")}
        response = client.post(
            f"{API}/applications/{app_id}/documents", data={"kind": "other"}, files=files, headers=headers
        )
        statuses.append(response.status_code)
    return statuses


def test_backup_of_a_running_system_holds_a_consistent_state(
    client: TestClient, auth: Http, people: People, session: Session, tmp_path: Path, databases: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    to_active(client, auth, people)
    draft = draft_ready(client, auth(people.other_rep))
    stop = threading.Event()
    result: list[int] = []
    writer = threading.Thread(
        target=lambda: result.extend(_writes_while(client, auth(people.other_rep), draft, stop)), daemon=True
    )
    assert get_settings().effective_secret_key  # both local keys exist (the application key on first use)
    writer.start()
    try:
        archive = _backup(tmp_path / "copia.tar.gz")
    finally:
        stop.set()
        writer.join(timeout=60)
    assert result and set(result) == {201}, result

    manifest = read_manifest(archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the keys
    assert manifest["created_at"] == NOW.isoformat() and manifest["revision"]
    assert manifest["documents"] >= 6 and manifest["counts"]["application"] == 2
    assert manifest["postgresql"] and set(manifest["secrets"]) == {"chiave-audit", "chiave-applicazione"}
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.getnames()[:2] == ["manifest.json", "registro.dump"]
    total = session.exec(select(func.count()).select_from(Document)).one()
    session.commit()
    assert manifest["documents"] <= total  # one committed state: later uploads may be missing

    # the dump and the files are of the same moment: every restored document has its file
    restored_dir = tmp_path / "altra" / "var"
    with system_on(restored_dir, _new_url(databases), monkeypatch):
        target = get_settings()
        restore(archive, target.resolved_database_url, target.files_dir, now=NOW,
                secrets_dir=secrets_dir(restored_dir))  # fmt: skip
        with Session(db.get_engine()) as restored:
            shas = restored.exec(select(Document.sha256)).all()
            assert len(shas) == manifest["documents"]
            assert all((target.files_dir / sha[:2] / sha).is_file() for sha in shas)


def test_restored_system_runs_the_whole_journey(
    client: TestClient, auth: Http, people: People, profile: RegionProfile, clock: Clock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, databases: list[str],
) -> None:  # fmt: skip
    first = to_active(client, auth, people)
    pact = client.get(f"{API}/applications/{first}/documents", headers=auth(people.rep)).json()[0]
    download = client.get(f"{API}/applications/{first}/documents/{pact['id']}/file", headers=auth(people.rep))
    assert download.status_code == 200
    original = download.content
    archive = _backup(tmp_path / "copia.tar.gz")

    restored_dir = tmp_path / "nuova-macchina" / "var"
    with system_on(restored_dir, _new_url(databases), monkeypatch):  # a database that does not exist yet
        target = get_settings()
        outcome = restore(archive, target.resolved_database_url, target.files_dir, now=NOW,
                          secrets_dir=secrets_dir(restored_dir))  # fmt: skip
        assert outcome.documents >= 3 and outcome.kept_database is None
        key_file = secrets_dir(restored_dir) / AUDIT_KEY
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(secrets_dir(restored_dir).stat().st_mode) == 0o700
        app = create_app()
        engine = db.get_engine()
        app.dependency_overrides[get_now] = lambda: clock.now
        app.dependency_overrides[get_dispatcher] = lambda: run_action_synchronously_for_tests(
            engine, profile, clock, Dispatched()
        )
        restored = TestClient(app, raise_server_exceptions=False)
        http = Http(restored, clock)  # logs in on the restored system
        # what was there before the backup is there, files included
        registry = restored.get(f"{API}/registry").json()
        assert [e["district_name"] for e in registry] == [people.district.name]
        copy = restored.get(f"{API}/applications/{first}/documents/{pact['id']}/file", headers=http(people.rep))
        assert copy.status_code == 200 and copy.content == original
        # and the restored system takes a new district through the whole procedure
        second = to_active(restored, http, people, representative=people.other_rep)
        assert second != first
        names = sorted(e["district_name"] for e in restored.get(f"{API}/registry").json())
        assert names == sorted([people.district.name, people.other_district.name])
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(Application)).one() == 2
            # the audit chain, old links and new, verifies with the restored key (registro audit-verify)
            said: list[str] = []
            assert audit.check(session, said.append, key=chain_key()) == 0, said
            assert "integra" in said[0]
            assert audit.check(session, said.append, key=b"un'altra chiave" * 3) == 1  # the key is what matters


def _rewritten(source: Path, target: Path, change: dict[str, bytes]) -> None:
    """A copy of the archive with some members' content replaced (the manifest left as it was)."""
    with tarfile.open(source, "r:gz") as tar, tarfile.open(target, "w:gz") as out:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            if member.name in change:
                data = change[member.name]
                member.size = len(data)
            out.addfile(member, BytesIO(data))


def _tables(database_url: str) -> int:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one()
    engine.dispose()
    return int(found)


def test_restore_refuses_what_it_cannot_trust(
    tmp_path: Path, client: TestClient, auth: Http, people: People, databases: list[str]
) -> None:
    draft_ready(client, auth(people.rep))
    archive = _backup(tmp_path / "copia.tar.gz")
    url = _new_url(databases, create=True)  # an empty database, as `registro run` prepares
    files, keys = tmp_path / "altra" / "files", tmp_path / "altra" / "segreti"

    # a damaged archive: one stored file changed (same size), or the dump itself
    with tarfile.open(archive, "r:gz") as tar:
        name = next(n for n in tar.getnames() if n.startswith("files/"))
        handle = tar.extractfile(name)
        assert handle is not None
        content = handle.read()
    damaged = tmp_path / "danneggiato.tar.gz"
    _rewritten(archive, damaged, {name: bytes([content[0] ^ 1]) + content[1:]})
    with pytest.raises(BackupError, match="non corrisponde al manifesto"):
        restore(damaged, url, files, now=NOW, secrets_dir=keys)
    _rewritten(archive, damaged, {"registro.dump": b"PGDMP non un dump"})
    with pytest.raises(BackupError, match="non corrisponde al manifesto"):
        restore(damaged, url, files, now=NOW, secrets_dir=keys)
    assert _tables(url) == 0 and not files.exists() and not keys.exists()  # nothing touched

    # an archive with a path leaving the target, or with a link
    for evil_name, kind in (("../fuori.txt", tarfile.REGTYPE), ("files/ab/" + "ab" * 32, tarfile.SYMTYPE)):
        evil = tmp_path / "malevolo.tar.gz"
        with tarfile.open(archive, "r:gz") as tar, tarfile.open(evil, "w:gz") as out:
            manifest = tar.getmember("manifest.json")
            out.addfile(manifest, tar.extractfile(manifest))
            info = tarfile.TarInfo(evil_name)
            info.type, info.size, info.linkname = kind, 0 if kind == tarfile.SYMTYPE else 2, "/etc/passwd"
            out.addfile(info, BytesIO(b"xx"))
        with pytest.raises(BackupError, match="elemento non ammesso"):
            restore(evil, url, files, now=NOW, secrets_dir=keys)
    assert not (tmp_path / "fuori.txt").exists() and not (tmp_path / "altra" / "fuori.txt").exists()
    assert _tables(url) == 0 and not files.exists()

    # an empty database takes the backup; one with data is replaced only on request, and kept aside
    restore(archive, url, files, now=NOW, secrets_dir=keys)
    assert _tables(url) > 5 and files.is_dir() and (keys / AUDIT_KEY).is_file()
    with pytest.raises(BackupError, match="contiene già dati"):
        restore(archive, url, files, now=NOW, secrets_dir=keys)
    done = restore(archive, url, files, now=NOW, secrets_dir=keys, force=True)
    assert done.kept_database and _tables(make_url(url).set(database=done.kept_database).render_as_string(False)) > 5
    assert _tables(url) > 5 and (tmp_path / "altra" / "files.prima-del-ripristino").is_dir()

    # a database in use (a running system) is not pulled from under it
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect(), pytest.raises(BackupError, match="in uso"):
        restore(archive, url, files, now=datetime(2026, 11, 28, tzinfo=UTC), secrets_dir=keys, force=True)
    engine.dispose()
    assert _tables(url) > 5


def test_restore_refuses_an_older_server_before_touching_it(
    tmp_path: Path, client: TestClient, auth: Http, people: People
) -> None:
    suite = os.environ["REGISTRO_TEST_DATABASE_URL"]
    if _major(suite) >= tools_major():
        pytest.skip("il server della suite non è più vecchio degli strumenti")
    draft_ready(client, auth(people.rep))
    archive = _backup(tmp_path / "copia.tar.gz")
    target = make_url(suite).set(database=f"rr_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    with pytest.raises(BackupError, match="più vecchio degli strumenti"):
        restore(archive, target, tmp_path / "files", now=NOW, secrets_dir=tmp_path / "segreti")
    assert not (tmp_path / "files").exists() and not (tmp_path / "segreti").exists()


def test_the_commands_back_up_restore_and_verify(
    client: TestClient, auth: Http, people: People, session: Session, tmp_path: Path, databases: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    to_active(client, auth, people)
    session.close()
    keyless = CliRunner().invoke(cli, ["backup", str(tmp_path / "senza-chiavi.tar.gz")])
    assert keyless.exit_code == 0, keyless.output
    assert "la chiave dell'audit non è nel backup" in keyless.output
    with tarfile.open(tmp_path / "senza-chiavi.tar.gz") as tar:
        assert not [name for name in tar.getnames() if "chiave" in name]
    archive = tmp_path / "copia.tar.gz"
    made = CliRunner().invoke(cli, ["backup", "--con-chiavi", str(archive)])
    assert made.exit_code == 0, made.output
    assert "Backup scritto" in made.output and "contiene la chiave dell'audit" in made.output
    restored_dir = tmp_path / "ripristinata" / "var"
    with system_on(restored_dir, _new_url(databases), monkeypatch):
        done = CliRunner().invoke(cli, ["restore", str(archive)])
        assert done.exit_code == 0, done.output
        assert "Ripristinato il backup" in done.output and "database: 1/1" in done.output  # progress on stderr
        verified = CliRunner().invoke(cli, ["audit-verify"])
        assert verified.exit_code == 0 and verified.output.startswith("Catena dell'audit integra"), verified.output
        again = CliRunner().invoke(cli, ["restore", str(archive)])
        assert again.exit_code == 1 and "contiene già dati: usare --force" in again.output
