"""Command line: ``registro run``, ``registro init-db``, ``registro create-admin``, ``registro demo-data``."""

from __future__ import annotations

import typer

app = typer.Typer(help="Registro Distretti: comandi di amministrazione", no_args_is_help=True)


@app.command()
def run() -> None:
    """Avvia tutto sul default incorporato: API, server Prefect, runner dei deployment, posta locale."""
    from registro.embedded import run_all

    run_all()


@app.command("init-db")
def init_db() -> None:
    """Porta il database allo schema corrente (alembic upgrade head) e crea il primo amministratore."""
    from registro.bootstrap import prepare_database

    prepare_database()


@app.command("demo-data")
def demo_data() -> None:
    """Carica distretti, utenti e domande dimostrative in ogni fase del procedimento."""
    from datetime import UTC, datetime

    from models.profiles import load_profile
    from registro.bootstrap import prepare_database
    from registro.db import session_scope
    from registro.demo import load_demo
    from registro.settings import get_settings

    prepare_database()
    with session_scope() as session:
        load_demo(session, profile=load_profile(get_settings().profile), now=datetime.now(UTC), log=typer.echo)


@app.command("create-user")
def create_user(
    username: str,
    role: str = typer.Option(..., help="representative | official | committee | head | admin"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    full_name: str = typer.Option("", help="nome e cognome"),
    email: str = typer.Option(""),
    office: str = typer.Option("", help="codice dell'ufficio (per funzionari, dirigenti, valutatori)"),
) -> None:
    """Crea un utente (per esempio un funzionario) dalla riga di comando."""
    from datetime import UTC, datetime

    from models.enums import Role
    from models.people import User
    from registro.db import session_scope
    from registro.passwords import hash_password

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(f"ruolo sconosciuto: {role}") from None
    with session_scope() as session:
        session.add(
            User(
                username=username,
                full_name=full_name or username,
                email=email or f"{username}@localhost",
                role=role_value,
                office=office or None,
                password_hash=hash_password(password),
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    typer.echo(f"Utente «{username}» creato.")


if __name__ == "__main__":
    app()
