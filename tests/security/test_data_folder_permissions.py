"""Issue 15, lesser point: the database, mails, logs, documents and backups under ``var/`` were
world-readable (0644). Now the owner's alone: ``registro`` sets umask 077 for itself and its children,
and ``registro run`` takes the group's and others' rights off what an earlier version left."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _modes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): oct(stat.S_IMODE(p.stat().st_mode)) for p in [folder, *folder.rglob("*")]}


def test_a_registro_command_writes_files_for_its_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    env |= {"REGISTRO_DATA_DIR": str(data_dir), "REGISTRO_DATABASE_URL": ""}
    registro = str(Path(sys.executable).with_name("registro"))
    done = subprocess.run(
        ["/bin/sh", "-c", f"umask 022 && exec {registro} init-db"], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    modes = _modes(data_dir)
    assert modes["postgres"] == "0o700" and modes["admin-password.txt"] == "0o600", modes  # the database's folder
    # the data folder itself may let others pass through (0o701: the server's own user, when run as root)
    assert modes.pop(".") in ("0o700", "0o701"), modes
    assert all(mode in ("0o600", "0o700") for mode in modes.values()), modes


def test_registro_run_leaves_the_data_folder_to_its_owner_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registro.embedded import prepare_environment
    from registro.settings import Settings

    data_dir = tmp_path / "var"
    (data_dir / "mail").mkdir(parents=True)
    old_mail = data_dir / "mail" / "vecchia.eml"
    old_mail.write_text("x")
    os.chmod(old_mail, 0o644)
    os.chmod(data_dir, 0o755)
    monkeypatch.setattr(os, "environ", dict(os.environ))
    # the suite's database is named (REGISTRO_DATABASE_URL): Prefect's must be too; nothing connects here
    os.environ.setdefault("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://utente@127.0.0.1/prefect")
    previous = os.umask(0o022)
    try:
        prepare_environment(Settings(data_dir=data_dir))
        new_file = data_dir / "files" / "nuovo.pdf"
        new_file.write_bytes(b"%PDF-")
        assert os.umask(0o077) == 0o077  # what the children inherit
    finally:
        os.umask(previous)
    assert {oct(p.stat().st_mode & 0o777) for p in (old_mail, new_file)} == {"0o600"}
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    credential = data_dir / "segreti" / "prefect-credenziale"
    assert oct(credential.stat().st_mode & 0o777) == "0o600"
    user, _, password = os.environ["PREFECT_API_AUTH_STRING"].partition(":")
    assert os.environ["PREFECT_SERVER_API_AUTH_STRING"] == credential.read_text().strip() == f"{user}:{password}"
    assert len(password) >= 32
