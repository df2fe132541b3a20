"""Command line: ``registro run``, ``registro init-db``, ``registro create-admin``, ``registro demo-data``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

app = typer.Typer(help="Registro Distretti: comandi di amministrazione", no_args_is_help=True)


@app.callback()
def owner_only_files() -> None:
    """Every file a command writes (database, documents, mails, logs, backups) is its owner's alone."""
    import os

    os.umask(0o077)


@contextmanager
def database_available(*, throwaway: bool = False) -> Iterator[None]:
    """The settings' database for the command's duration: on the embedded default the server that
    ``registro run`` keeps, or one started here and stopped at the end (``throwaway``: a database
    thrown away afterwards, without durability)."""
    from registro.embedded_postgres import EmbeddedPostgresError, ensure_running
    from registro.settings import get_settings

    settings = get_settings()
    if not settings.uses_embedded_database:
        yield
        return
    try:
        with ensure_running(settings.embedded_pgdata, fast_unsafe=throwaway, say=typer.echo):
            yield
    except EmbeddedPostgresError as exc:
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def run() -> None:
    """Avvia tutto sul default incorporato: API, server Prefect, runner dei deployment, posta locale."""
    from registro.embedded import run_all
    from registro.production_check import check_production
    from registro.settings import InsecureSettings, get_settings

    try:
        check_production(get_settings())  # before any child process starts
    except InsecureSettings as exc:
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(2) from exc
    run_all()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def prefect(ctx: typer.Context) -> None:
    """Il comando «prefect» verso il server Prefect del sistema, con la sua credenziale (es. registro prefect
    deployment ls). Senza PREFECT_API_URL nell'ambiente: il server di «registro run» e la credenziale in
    <dati>/segreti/prefect-credenziale; con PREFECT_API_URL (produzione): l'ambiente così com'è.
    «registro prefect server start» rifiuta di avviare un server senza autenticazione."""
    import os
    import sys

    from registro.embedded import prefect_client_environment
    from registro.settings import get_settings

    env = dict(os.environ)
    if not env.get("PREFECT_API_URL"):
        settings = get_settings()
        env.update(prefect_client_environment(settings, settings.data_dir.resolve()))
    # through registro.prefect_server: «registro prefect server start» never starts an open server
    os.execve(sys.executable, [sys.executable, "-m", "registro.prefect_server", *ctx.args], env)


@app.command("init-db")
def init_db() -> None:
    """Porta il database allo schema corrente (alembic upgrade head) e crea il primo amministratore."""
    from models.audit_chain import ChainRefused
    from registro.bootstrap import prepare_database

    try:
        with database_available():
            prepare_database()
    except ChainRefused as exc:  # migration 0005 on an audit chain already broken
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("demo-data")
def demo_data() -> None:
    """Carica distretti, utenti e domande dimostrative in ogni fase del procedimento."""
    from datetime import UTC, datetime

    from models.profiles import load_profile
    from registro.bootstrap import prepare_database
    from registro.db import session_scope
    from registro.demo import load_demo
    from registro.settings import get_settings

    with database_available():
        prepare_database()
        with session_scope() as session:
            load_demo(session, profile=load_profile(get_settings().profile), now=datetime.now(UTC), log=typer.echo)


@app.command()
def simulate(
    districts: int = typer.Option(200, min=1, max=20000, help="quanti distretti riconoscere"),
    years: int = typer.Option(4, min=1, max=20, help="quanti anni simulare"),
    start: str = typer.Option("2026-01-01", help="primo giorno simulato (AAAA-MM-GG)"),
    seed: int = typer.Option(1, help="seme dei comportamenti simulati"),
    data_dir: str = typer.Option("var/simulazione", help="cartella del database della simulazione (ricreata)"),
    database_url: str = typer.Option("", help="oppure un database vuoto (es. PostgreSQL) da usare"),
) -> None:
    """Simula anni di procedimento: riconoscimenti, relazioni annuali, promemoria, rinnovi e scadenze."""
    import os
    import shutil
    import time
    from datetime import UTC, date, datetime, timedelta
    from datetime import time as dtime
    from pathlib import Path

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"data non valida: {start!r} (formato AAAA-MM-GG)") from None
    folder = Path(data_dir)
    if not database_url and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["REGISTRO_DATA_DIR"] = str(folder)
    os.environ["REGISTRO_DATABASE_URL"] = database_url

    from models.profiles import load_profile
    from registro import db
    from registro.bootstrap import migrate
    from registro.settings import get_settings
    from registro.simulation import Simulation, report

    get_settings.cache_clear()
    db.get_engine.cache_clear()
    with database_available(throwaway=True):
        migrate(db.get_engine())
        last = date(first.year + years, first.month, first.day) - timedelta(days=1)
        started = time.perf_counter()
        with db.session_scope() as session:
            sim = Simulation(session, load_profile(get_settings().profile), seed=seed, log=typer.echo)
            where = get_settings().resolved_database_url
            typer.echo(f"Simulazione: {districts} distretti dal {first:%d/%m/%Y} al {last:%d/%m/%Y} ({where})")
            sim.create_staff(datetime.combine(first, dtime(8, 0), tzinfo=UTC))
            sim.recognise_districts(districts, first)
            sim.run(first, last)
            report(sim, typer.echo)
        db.get_engine().dispose()
    typer.echo(f"\nDurata: {time.perf_counter() - started:.1f} s")


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
    from registro.password_policy import password_problem
    from registro.passwords import hash_password

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(f"ruolo sconosciuto: {role}") from None
    _check_user_text(username=username, full_name=full_name, email=email, office=office)
    problem = password_problem(password, username=username, full_name=full_name, email=email)
    if problem:
        typer.echo(f"Password non accettata: {problem}.", err=True)
        raise typer.Exit(1)
    with database_available(), session_scope() as session:
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


def _check_user_text(**values: str) -> None:
    """The input rule of the API (``models.text``): one line, no control character, a well-formed address."""
    from models.text import control_problem, email_problem

    for name, value in values.items():
        problem = email_problem(value) if name == "email" and value else control_problem(value)
        if problem is not None:
            raise typer.BadParameter(problem, param_hint=name if name == "username" else f"--{name.replace('_', '-')}")


@app.command("audit-verify")
def audit_verify(
    teste: list[Path] = typer.Option(
        [],
        "--teste",
        help="registro delle impronte giornaliere archiviato (la mail .eml ricevuta o il suo JSON); ripetibile",
    ),
) -> None:
    """Verifica la catena delle impronte dell'audit; segnala il primo anello rotto di ogni domanda (uscita 1).

    Con --teste confronta anche il database con le impronte archiviate di un giorno e nomina ogni domanda
    che ne differisce (uscita 1); un registro illeggibile o non autentico dà uscita 2.
    """
    from models.audit_chain import chain_key
    from registro.audit import check
    from registro.db import read_scope
    from registro.settings import InsecureSettings

    try:
        key = chain_key()
    except InsecureSettings as exc:
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(2) from exc
    with database_available(), read_scope() as session:
        code = check(session, typer.echo, witnesses=teste, key=key)
    raise typer.Exit(code)


@app.command()
def backup(
    archive: str = typer.Argument("", help="file .tar.gz da scrivere (predefinito: <data_dir>/backup/…)"),
    with_keys: bool = typer.Option(
        False, "--con-chiavi", help="includere le chiavi locali (audit e applicazione): l'archivio diventa un segreto"
    ),
) -> None:
    """Copia coerente del database PostgreSQL (pg_dump) e dei documenti, anche con il sistema in funzione.
    Il database di Prefect non è compreso (è storia delle esecuzioni). Le chiavi locali vi entrano solo
    con --con-chiavi: chi ha insieme database e chiave dell'audit può riscrivere la catena."""
    from datetime import UTC, datetime
    from pathlib import Path

    from registro.backup import BackupError
    from registro.backup import backup as make_backup
    from registro.local_secrets import secrets_dir
    from registro.settings import get_settings

    settings = get_settings()
    now = datetime.now(UTC)
    target = Path(archive) if archive else settings.data_dir / "backup" / f"registro-{now:%Y%m%d-%H%M%S}.tar.gz"
    try:
        with database_available():
            done = make_backup(settings.resolved_database_url, settings.files_dir, target, now=now,
                               secrets_dir=secrets_dir(settings.data_dir) if with_keys else None,
                               progress=_progress)  # fmt: skip
    except BackupError as exc:
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"Backup scritto: {done.archive} ({done.documents} documenti, {done.files} file, "
        f"{done.bytes / 1024 / 1024:.1f} MB di file; schema {done.revision})"
    )
    if "chiave-audit" in done.secrets:
        typer.echo("L'archivio contiene la chiave dell'audit: custodirlo come un segreto.")
    else:
        typer.echo("ATTENZIONE: la chiave dell'audit non è nel backup: conservarla a parte (segreti/chiave-audit "
                   "o REGISTRO_AUDIT_KEY), senza di essa la catena ripristinata non si può verificare.")  # fmt: skip


@app.command()
def restore(
    archive: str = typer.Argument(..., help="il file .tar.gz di un backup"),
    force: bool = typer.Option(False, "--force", help="sostituisce un database con dati (tenuto a parte, rinominato)"),
) -> None:
    """Ripristina un backup (a sistema fermo) nel database configurato e nella cartella dei dati, chiavi
    locali comprese; verifica ogni file prima di toccare qualcosa."""
    from datetime import UTC, datetime
    from pathlib import Path

    from registro.backup import BackupError
    from registro.backup import restore as do_restore
    from registro.local_secrets import secrets_dir
    from registro.settings import get_settings

    settings = get_settings()
    try:
        with database_available():
            done = do_restore(Path(archive), settings.resolved_database_url, settings.files_dir, now=datetime.now(UTC),
                              secrets_dir=secrets_dir(settings.data_dir), force=force,
                              progress=_progress)  # fmt: skip
    except BackupError as exc:
        typer.echo(f"ERRORE: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Ripristinato il backup del {done.created_at} nel database {done.database} "
               f"({done.documents} documenti, {done.files} file).")  # fmt: skip
    if done.kept_database:
        typer.echo(f"Il database precedente è stato tenuto come {done.kept_database}.")
    if "chiave-audit" not in done.secrets:
        typer.echo("ATTENZIONE: il backup non contiene la chiave dell'audit: mettere quella del sistema d'origine "
                   "in segreti/chiave-audit (o in REGISTRO_AUDIT_KEY): senza, la catena non si verifica.")  # fmt: skip


def _progress(what: str, done: int, total: int) -> None:
    """One line per 10% on long operations (and the first and last), on stderr."""
    step = max(1, total // 10)
    if done in (0, total) or done % step == 0:
        typer.echo(f"  {what}: {done}/{total}", err=True)


if __name__ == "__main__":
    app()
