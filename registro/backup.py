"""Consistent backups of the embedded default (SQLite database + stored files) while the system runs,
and their restore.

Why this is consistent without stopping anything:
- the database is copied with SQLite's online backup API: a snapshot of one committed state, taken
  page by page while other connections keep reading and writing (WAL mode);
- stored files are content-addressed (``files/<sha[:2]>/<sha>``), written before the row that names
  them is committed, and never changed or removed afterwards: copying them *after* the snapshot
  gives every document of the snapshot its file (later files are simply extra).

The archive (``.tar.gz``) holds ``registro.db``, ``files/…`` and ``manifest.json`` (when, schema
revision, counts, SHA-256 of the database copy and of every file). A restore checks all of it before
it touches the target, then moves the data into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import make_url

MANIFEST = "manifest.json"
DATABASE = "registro.db"
FILES = "files"
FORMAT = 1
CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]  # (what, done, total)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is for the user (Italian)."""


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    files: int
    bytes: int
    documents: int
    revision: str | None


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    files: int
    documents: int
    revision: str | None
    created_at: str


def sqlite_path(database_url: str) -> Path:
    """The database file of a SQLite URL; a clear error for any other database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        raise BackupError(
            "il backup integrato riguarda il database SQLite predefinito; con PostgreSQL usare "
            "pg_dump/pg_restore (vedi README) e copiare la cartella dei file"
        )
    return Path(url.database)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _noop(_what: str, _done: int, _total: int) -> None:
    return None


# ---- backup -------------------------------------------------------------------------------------


def _snapshot(source: Path, target: Path) -> None:
    """One committed state of ``source`` copied to ``target`` (SQLite online backup, 256 pages a step)."""
    if not source.is_file():
        raise BackupError(f"database non trovato: {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=256, sleep=0.005)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file in the archive
    finally:
        dst.close()
        src.close()


def _facts(database: Path) -> tuple[str | None, list[str]]:
    """Schema revision and the SHA-256 of every stored document, read from the snapshot."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"la copia del database non è integra: {check}")
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if "alembic_version" in tables:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        shas = [row[0] for row in con.execute("SELECT sha256 FROM document")] if "document" in tables else []
        return revision, shas
    finally:
        con.close()


def _stored_files(files_dir: Path) -> Iterator[Path]:
    if not files_dir.is_dir():
        return
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("."):  # .upload-* are uploads still being written
            yield path


def backup(database_url: str, files_dir: Path, archive: Path, *, now: datetime,
           progress: Progress = _noop) -> BackupResult:  # fmt: skip
    """Writes ``archive`` (.tar.gz) from a running system; returns what it holds."""
    database = sqlite_path(database_url)
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registro-backup-", dir=archive.parent) as work:
        snapshot = Path(work) / DATABASE
        progress("database", 0, 1)
        _snapshot(database, snapshot)
        progress("database", 1, 1)
        revision, shas = _facts(snapshot)
        files = list(_stored_files(files_dir))
        missing = sorted({sha for sha in shas if not (files_dir / sha[:2] / sha).is_file()})
        if missing:
            raise BackupError(f"{len(missing)} documenti del database non hanno il file (es. {missing[0]})")
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "revision": revision,
            "documents": len(shas),
            "database": {"name": DATABASE, "sha256": _sha256(snapshot), "bytes": snapshot.stat().st_size},
            "files": {},
        }
        partial = archive.with_name(archive.name + ".partial")
        total = 0
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(snapshot, arcname=DATABASE)
            for n, path in enumerate(files, 1):
                relative = path.relative_to(files_dir).as_posix()
                size = path.stat().st_size
                manifest["files"][relative] = {"sha256": _sha256(path), "bytes": size}
                tar.add(path, arcname=f"{FILES}/{relative}")
                total += size
                progress("file", n, len(files))
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(now.timestamp())
            tar.addfile(info, _bytes_reader(data))
        os.replace(partial, archive)  # the archive appears whole or not at all
    return BackupResult(archive, len(files), total, len(shas), revision)


def _bytes_reader(data: bytes) -> Any:
    from io import BytesIO

    return BytesIO(data)


# ---- restore ------------------------------------------------------------------------------------


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Only regular files under the archive's own names: no links, no absolute or ``..`` paths."""
    members = []
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if member.isdir():
            continue
        if not member.isfile() or path.is_absolute() or ".." in path.parts:
            raise BackupError(f"archivio non valido: elemento non ammesso «{member.name}»")
        if member.name not in (MANIFEST, DATABASE) and path.parts[0] != FILES:
            raise BackupError(f"archivio non valido: elemento non ammesso «{member.name}»")
        members.append(member)
    return members


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            handle = tar.extractfile(MANIFEST)
            if handle is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, Any] = json.loads(handle.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"archivio di backup illeggibile ({archive}): {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"formato di backup non supportato: {manifest.get('format')}")
    return manifest


def restore(archive: Path, database_url: str, files_dir: Path, *, force: bool = False,
            progress: Progress = _noop) -> RestoreResult:  # fmt: skip
    """Checks ``archive`` entirely, then puts its database and files in place.

    Refuses to overwrite an existing database unless ``force``; the previous database and files are
    then kept beside them (``*.prima-del-ripristino``) rather than deleted.
    """
    database = sqlite_path(database_url)
    if database.exists():
        if not force:
            raise BackupError(f"esiste già un database in {database}: usare --force per sostituirlo")
        _settle_unused(database)
    manifest = read_manifest(archive)
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registro-restore-", dir=database.parent) as work:
        staging = Path(work)
        with tarfile.open(archive, "r:gz") as tar:
            members = _safe_members(tar)
            for n, member in enumerate(members, 1):
                tar.extract(member, staging, filter="data")
                progress("estrazione", n, len(members))
        _verify(staging, manifest)
        _swap_in(staging, database, files_dir)
    files = len(manifest["files"])
    return RestoreResult(database.parent, files, int(manifest["documents"]), manifest["revision"],
                         str(manifest["created_at"]))  # fmt: skip


def _settle_unused(database: Path) -> None:
    """The database to be replaced must not be in use: its WAL is folded in, then an exclusive lock is
    tried for a moment (a running system holds connections and would fail it)."""
    con = sqlite3.connect(database, timeout=1, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("BEGIN EXCLUSIVE")
        con.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise BackupError(f"il database {database} è in uso: fermare il sistema prima del ripristino ({exc})") from exc
    finally:
        con.close()


def _verify(staging: Path, manifest: dict[str, Any]) -> None:
    snapshot = staging / DATABASE
    if not snapshot.is_file() or _sha256(snapshot) != manifest["database"]["sha256"]:
        raise BackupError("il database dell'archivio non corrisponde al manifesto (archivio danneggiato)")
    for relative, meta in manifest["files"].items():
        path = staging / FILES / relative
        if not path.is_file() or _sha256(path) != meta["sha256"]:
            raise BackupError(f"il file {relative} non corrisponde al manifesto (archivio danneggiato)")
    _revision, shas = _facts(snapshot)
    missing = [sha for sha in shas if f"{sha[:2]}/{sha}" not in manifest["files"]]
    if missing:
        raise BackupError(f"{len(missing)} documenti del database non hanno il file nell'archivio")


def _swap_in(staging: Path, database: Path, files_dir: Path) -> None:
    for leftover in (database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")):
        leftover.unlink(missing_ok=True)  # a WAL of the old database must not be replayed on the new one
    if database.exists():
        os.replace(database, database.with_name(database.name + ".prima-del-ripristino"))
    os.replace(staging / DATABASE, database)
    if files_dir.exists():
        kept = files_dir.with_name(files_dir.name + ".prima-del-ripristino")
        if kept.exists():
            shutil.rmtree(kept)
        os.replace(files_dir, kept)
    files_dir.parent.mkdir(parents=True, exist_ok=True)
    source = staging / FILES
    if source.is_dir():
        shutil.move(str(source), str(files_dir))
    else:
        files_dir.mkdir(parents=True)
