"""The Prefect server as the system starts it: ``prefect server start``, never without authentication
(``lock_down``: basic auth required, CSRF protection on, CORS only for its own UI). Its database is
PostgreSQL: the embedded server's ``prefect`` database (``registro run``) or production's own.

    registro prefect server start --host 127.0.0.1 --port 4200
    (the same as: python -m registro.prefect_server server start --host 127.0.0.1 --port 4200)
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

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
      measured on the earlier database (bench/lifecycle_http.py, 60 districts, 8 in flight, same hour):
      Prefect server CPU per action 76 ms without it, 107-112 ms with it (each change request opens a
      database session to read the client's token, behind a BaseHTTPMiddleware). It adds little to the
      credential: the UI and the clients send it in a header a foreign page cannot set, and CORS lets no
      other origin try; ``...=false`` in the environment turns it off.
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
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()
