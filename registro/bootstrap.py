"""Bring a database to the current schema and make sure a first administrator exists."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.enums import Role
from models.people import User
from registro.db import get_engine
from registro.password_policy import password_problem
from registro.passwords import hash_password
from registro.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def migrate(engine: Engine | None = None) -> None:
    """alembic upgrade head on the settings' database (or on the given engine)."""
    config = alembic_config()
    engine = engine or get_engine()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ensure_admin(session: Session, *, username: str = "admin", password: str | None = None) -> str | None:
    """Creates the first administrator if there is none; returns the password it set, or None."""
    if session.exec(select(User).where(User.role == Role.ADMIN)).first() is not None:
        return None
    chosen = os.environ.get("REGISTRO_ADMIN_PASSWORD") if password is None else None
    problem = chosen and password_problem(chosen, username=username, full_name="Amministratore")
    if problem:  # registro.password_policy, as for every password set by hand
        raise SystemExit(f"REGISTRO_ADMIN_PASSWORD non accettata: {problem}.")
    password = password or chosen or secrets.token_urlsafe(12)
    session.add(
        User(
            username=username,
            full_name="Amministratore",
            email="admin@regione.example",
            role=Role.ADMIN,
            password_hash=hash_password(password),
            created_at=datetime.now(UTC),
        )
    )
    session.commit()
    return password


def prepare_database() -> None:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.files_dir.mkdir(parents=True, exist_ok=True)
    migrate()
    with Session(get_engine()) as session:
        password = ensure_admin(session)
    if password:
        secret_file = settings.data_dir / "admin-password.txt"
        secret_file.write_text(f"utente: admin\npassword: {password}\n", encoding="utf-8")
        secret_file.chmod(0o600)
        print(f"Creato l'amministratore «admin»: la password è in {secret_file}")
