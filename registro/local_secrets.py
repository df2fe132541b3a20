"""The embedded default's own credentials, generated once under ``<data_dir>/segreti`` (owner-only).

Outside production a credential left empty in the settings is not a well-known default (anyone
who read this repository would know it) but a random value created on first use and kept in a file
that only the system's user can read: ``segreti/`` is 0700 and each file 0600, written atomically
(a second process racing the first reads the winner's value). Production never comes here:
``registro.settings.check_production`` refuses to start without each credential set explicitly.

| file | what it keys |
|---|---|
| ``chiave-applicazione`` | CSRF tokens and the stage worker's datagrams (``REGISTRO_SECRET_KEY``) |
| ``chiave-audit`` | the HMAC of the audit chain (``REGISTRO_AUDIT_KEY``) |
| ``prefect-credenziale`` | the Prefect server's basic authentication, ``utente:password`` |
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

FOLDER = "segreti"
APP_KEY = "chiave-applicazione"
AUDIT_KEY = "chiave-audit"
PREFECT_AUTH = "prefect-credenziale"
PREFECT_USER = "registro"


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / FOLDER


def _generate(name: str) -> str:
    token = secrets.token_urlsafe(32)
    return f"{PREFECT_USER}:{token}" if name == PREFECT_AUTH else token


def read_or_create(data_dir: Path, name: str) -> str:
    """The credential ``name`` of this data folder, created (0600, in a 0700 folder) if missing."""
    folder = secrets_dir(data_dir)
    path = folder / name
    with contextlib.suppress(FileNotFoundError):
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_generate(name) + "\n")
    try:
        os.link(temporary, path)  # fails if another process created it meanwhile: theirs wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text(encoding="utf-8").strip()
