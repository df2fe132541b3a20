"""The Prefect server as the system starts it: ``prefect server start``, never without authentication
(``lock_down``: basic auth required, CSRF protection on, CORS only for its own UI), and on SQLite with
transactions that write taking the write lock when they begin.

Prefect's SQLite configuration begins its transactions ``DEFERRED`` unless the caller asks for a row
lock. A deferred transaction that reads and then writes — creating a flow run does, it first reads
the flow's labels — cannot wait for the lock once another connection has committed after its read:
SQLite answers "database is locked" at once, without the busy timeout, the server answers 503, and
Prefect's client retries after 2 s, then 4 s, 8 s (upstream PrefectHQ/prefect#18934). Under the
lifecycle benchmark (60 districts, 8 in flight, 2 cores) 159 flow-run creations out of 300 were refused
that way, and the slowest stage actions took 6-15 s instead of under one.

Here every transaction the server opens begins ``IMMEDIATE``: it waits its turn for the write lock
(busy timeout 60 s, Prefect's own) instead of failing. Statements outside a transaction (most reads)
are unchanged and never wait. Only SQLite is concerned; on PostgreSQL (production) nothing changes.

It runs at a lower priority than the API (``NICENESS``, the stage worker's): it uses more CPU than
any other process of the embedded default (about 70 ms per stage action, 2 cores), and at the same
priority it took the cores from the API's requests and from the stage worker while that held the
application's write lock, which the API then waited for. Lifecycle benchmark, 60 districts, 8 in
flight, interleaved pairs: action p95 44/53 ms → 36/31 ms, flow completion p95 1139/1171 ms →
838/785 ms, total 34.1/32.8 s → 24.6/24.3 s. Nobody waits on the server directly: a flow run does,
and it runs at the worker's own priority.

    registro prefect server start --host 127.0.0.1 --port 4200
    (the same as: python -m registro.prefect_server server start --host 127.0.0.1 --port 4200)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from registro.priority import NICENESS, lower_priority

logger = logging.getLogger("registro.prefect_server")


def begin_sqlite_transactions_immediate() -> bool:
    """Makes Prefect's SQLite transactions begin IMMEDIATE. False (and a warning) if this Prefect
    version no longer has the hook it replaces, in which case the server runs as shipped."""
    from prefect.server.database import configurations

    config = getattr(configurations, "AioSqliteConfiguration", None)
    begin_mode = getattr(configurations, "SQLITE_BEGIN_MODE", None)
    if config is None or begin_mode is None or not hasattr(config, "begin_transaction"):
        logger.warning("server Prefect: transazioni SQLite lasciate come sono (versione di Prefect diversa)")
        return False

    @asynccontextmanager
    async def begin_transaction(
        self: object, session: configurations.AsyncSession, with_for_update: bool = False
    ) -> AsyncGenerator[configurations.AsyncSessionTransaction, None]:
        token = begin_mode.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            begin_mode.reset(token)

    config.begin_transaction = begin_transaction
    return True


MIN_AUTH_LENGTH = 24


class PrefectOpen(RuntimeError):
    """The server would start without authentication: refused (message in Italian)."""


def lock_down(environ: dict[str, str] | os._Environ[str]) -> None:
    """Checks the server's credential and turns on what Prefect leaves off by default.

    - ``PREFECT_SERVER_API_AUTH_STRING`` (``utente:password``, basic authentication on every API route but
      the health probe) is required: without it anyone who can reach the port — any local process, any
      web page in a local browser — could change a deployment's pull steps, which the runner executes
      as shell commands. ``registro run`` generates it (``<data_dir>/segreti/prefect-credenziale``).
    - CSRF protection on (``PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED``), unless explicitly set. Its cost,
      measured (bench/lifecycle_http.py, 60 districts, 8 in flight, SQLite, same hour): Prefect server CPU
      per action 76 ms without it, 107-112 ms with it (each change request opens a database session to
      read the client's token, behind a BaseHTTPMiddleware); total 34.9 s against 45.5-46.5 s. At 200
      districts with it: action p95 51.5 ms, flow completion p95 1.48 s, 0.89x the empty flows. It adds
      little to the credential: the UI and the clients send it in a header a foreign page cannot set, and
      CORS lets no other origin try; ``...=false`` in the environment turns it off.
    - CORS only for the server's own UI (``PREFECT_UI_URL``'s origin), instead of Prefect's ``*``.
    """
    auth = environ.get("PREFECT_SERVER_API_AUTH_STRING", "")
    user, colon, password = auth.partition(":")
    if not colon or not user or len(password) < MIN_AUTH_LENGTH:
        raise PrefectOpen(
            "server Prefect non avviato: manca PREFECT_SERVER_API_AUTH_STRING nella forma utente:password, "
            f"con una password di almeno {MIN_AUTH_LENGTH} caratteri (per esempio: registro:$(python -c "
            '"import secrets; print(secrets.token_urlsafe(32))")); i client la ricevono in PREFECT_API_AUTH_STRING'
        )
    environ.setdefault("PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "true")
    if environ.get("PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS", "*").strip() in ("", "*"):
        ui_url = urlsplit(environ.get("PREFECT_UI_URL", "") or "http://127.0.0.1:4200")
        environ["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] = f"{ui_url.scheme}://{ui_url.netloc}"


def starts_a_server(argv: list[str]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    return words[:2] == ["server", "start"]


def main() -> None:
    """Prefect's command line; ``server start`` only locked down (the other commands are clients)."""
    if starts_a_server(sys.argv[1:]):
        try:
            lock_down(os.environ)
        except PrefectOpen as refused:
            print(f"ERRORE: {refused}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        lower_priority(NICENESS)
        begin_sqlite_transactions_immediate()
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()
