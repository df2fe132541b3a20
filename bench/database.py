"""A fresh PostgreSQL database for one benchmark run.

``fresh_database(postgres)`` yields the SQLAlchemy URL of a new, empty database ``registro_bench_<pid>``
and drops it at the end. With ``postgres`` (``--postgres URL``: a maintenance-database URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) it is created on that server; without, on an
embedded server of its own (``registro.embedded_postgres``) started in a temporary folder and stopped
at the end, with normal durability (not ``fast_unsafe``), so figures are like ``registro run``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POSTGRES_HELP = (
    "URL di un database di servizio di un server PostgreSQL (vi si crea un database nuovo); "
    "senza, un server PostgreSQL incorporato in una cartella temporanea"
)


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", default="", help=POSTGRES_HELP)


@contextlib.contextmanager
def _created_on(server_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"registro_bench_{os.getpid()}"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()


@contextlib.contextmanager
def fresh_database(postgres: str = "") -> Iterator[str]:
    """The URL of a new database, on the server of ``postgres`` or on an embedded one of our own."""
    if postgres:
        with _created_on(postgres) as database_url:
            yield database_url
        return
    from registro.embedded_postgres import ensure_running, url

    folder = Path(tempfile.mkdtemp(prefix="registro-bench-pg-"))
    pgdata = folder / "postgres"
    try:
        say = lambda line: print(f"  ({line})", flush=True)  # noqa: E731
        with ensure_running(pgdata, say=say), _created_on(url(pgdata, "postgres")) as database_url:
            yield database_url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def describe(postgres: str) -> str:
    """For the scripts' first line: which server the database is on."""
    return "PostgreSQL (server indicato)" if postgres else "PostgreSQL (incorporato, cartella temporanea)"
