"""Backup while the system writes, restore into a new data folder, and the restored system runs the
whole journey (SQLite: the embedded default; PostgreSQL is backed up with pg_dump, see the README)."""

from __future__ import annotations

import hashlib
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.application import Application, Document
from models.profiles import RegionProfile
from registro import db
from registro.backup import BackupError, backup, read_manifest, restore
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


@pytest.fixture(autouse=True)
def _sqlite_only() -> None:
    if not get_settings().is_sqlite:
        pytest.skip("il backup integrato è per SQLite; PostgreSQL usa pg_dump/pg_restore")


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
    client: TestClient, auth: Http, people: People, session: Session, tmp_path: Path
) -> None:
    to_active(client, auth, people)
    draft = draft_ready(client, auth(people.other_rep))
    stop = threading.Event()
    result: list[int] = []
    writer = threading.Thread(
        target=lambda: result.extend(_writes_while(client, auth(people.other_rep), draft, stop)), daemon=True
    )
    writer.start()
    try:
        settings = get_settings()
        done = backup(settings.resolved_database_url, settings.files_dir, tmp_path / "copia.tar.gz", now=NOW)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert result and set(result) == {201}, result

    manifest = read_manifest(done.archive)
    assert manifest["created_at"] == NOW.isoformat() and manifest["revision"]
    assert done.documents == manifest["documents"] >= 6 and done.files == len(manifest["files"])
    with tarfile.open(done.archive, "r:gz") as tar:
        database = tar.extractfile("registro.db")
        assert database is not None
        copy = tmp_path / "estratto.db"
        copy.write_bytes(database.read())
        for name, meta in manifest["files"].items():
            content = tar.extractfile(f"files/{name}")
            assert content is not None and hashlib.sha256(content.read()).hexdigest() == meta["sha256"]
    con = sqlite3.connect(copy)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    shas = [row[0] for row in con.execute("SELECT sha256 FROM document")]
    con.close()
    assert all(f"{sha[:2]}/{sha}" in manifest["files"] for sha in shas)  # every document has its file
    total = session.exec(select(func.count()).select_from(Document)).one()
    session.commit()
    assert len(shas) <= total  # the snapshot is one committed state: later uploads may be missing


@contextmanager
def system_on(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings and engine pointed at another data folder (as a restored machine would be)."""
    monkeypatch.setenv("REGISTRO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("REGISTRO_DATABASE_URL", "")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        yield
    finally:
        db.get_engine().dispose()
        monkeypatch.undo()
        get_settings.cache_clear()
        db.get_engine.cache_clear()


def test_restored_system_runs_the_whole_journey(
    client: TestClient, auth: Http, people: People, profile: RegionProfile, clock: Clock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    first = to_active(client, auth, people)
    pact = client.get(f"{API}/applications/{first}/documents", headers=auth(people.rep)).json()[0]
    download = client.get(f"{API}/applications/{first}/documents/{pact['id']}/file", headers=auth(people.rep))
    assert download.status_code == 200
    original = download.content
    settings = get_settings()
    archive = backup(settings.resolved_database_url, settings.files_dir, tmp_path / "copia.tar.gz", now=NOW).archive

    restored_dir = tmp_path / "nuova-macchina" / "var"
    with system_on(restored_dir, monkeypatch):
        target = get_settings()
        outcome = restore(archive, target.resolved_database_url, target.files_dir)
        assert outcome.documents >= 3 and (restored_dir / "registro.db").is_file()
        app = create_app()
        engine = db.get_engine()
        app.dependency_overrides[get_now] = lambda: clock.now
        app.dependency_overrides[get_dispatcher] = lambda: run_action_synchronously_for_tests(
            engine, profile, clock, Dispatched()
        )
        restored = TestClient(app, raise_server_exceptions=False)
        http = Http(restored, clock)
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


def test_restore_refuses_what_it_cannot_trust(tmp_path: Path, client: TestClient, auth: Http, people: People) -> None:
    draft_ready(client, auth(people.rep))
    settings = get_settings()
    archive = backup(settings.resolved_database_url, settings.files_dir, tmp_path / "copia.tar.gz", now=NOW).archive
    target_db = tmp_path / "altra" / "registro.db"
    url = f"sqlite:///{target_db}"

    # a damaged archive: one stored file changed
    damaged = tmp_path / "danneggiato.tar.gz"
    with tarfile.open(archive, "r:gz") as source, tarfile.open(damaged, "w:gz") as out:
        for member in source.getmembers():
            handle = source.extractfile(member)
            data = handle.read() if handle else b""
            if member.name.startswith("files/") and member.isfile():
                data = data + b" alterato"
                member.size = len(data)
            out.addfile(member, BytesIO(data))
    with pytest.raises(BackupError, match="non corrisponde al manifesto"):
        restore(damaged, url, tmp_path / "altra" / "files")
    assert not target_db.exists()  # nothing put in place

    # an archive with a path leaving the target
    evil = tmp_path / "malevolo.tar.gz"
    with tarfile.open(evil, "w:gz") as out:
        info = tarfile.TarInfo("../fuori.txt")
        info.size = 2
        out.addfile(info, BytesIO(b"xx"))
    with pytest.raises(BackupError):
        restore(evil, url, tmp_path / "altra" / "files")
    assert not (tmp_path / "fuori.txt").exists()

    # an existing database is replaced only on request, and kept aside
    restore(archive, url, tmp_path / "altra" / "files")
    with pytest.raises(BackupError, match="esiste già un database"):
        restore(archive, url, tmp_path / "altra" / "files")
    restore(archive, url, tmp_path / "altra" / "files", force=True)
    assert (tmp_path / "altra" / "registro.db.prima-del-ripristino").is_file()

    with pytest.raises(BackupError, match="PostgreSQL"):
        backup("postgresql+psycopg://postgres@127.0.0.1/test", tmp_path, tmp_path / "x.tar.gz", now=NOW)
