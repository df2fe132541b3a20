"""The one place that reads the environment (prefix ``REGISTRO_``)."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registro import local_secrets

DEFAULT_SECRET = "sviluppo-non-usare-in-produzione"  # the old default: refused in production
MIN_SECRET_LENGTH = 32
MIN_PREFECT_PASSWORD = 24
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
AUDIT_ARCHIVE_EXAMPLE = "conservazione@regione.example"  # development only: refused in production
PRODUCTION = {"production", "produzione", "prod"}
# passwords that come from examples and tutorials, never from a real deployment
WEAK_PASSWORDS = {"postgres", "password", "passw0rd", "admin", "changeme", "secret", "registro", "test", "example"}


class FlowDispatch(StrEnum):
    """How an API action starts its stage flow."""

    INPROCESS = "inprocess"  # the API alone: async flow run inside the API process
    WORKER = "worker"  # embedded default (`registro run`): the stage worker process runs it
    DEPLOYMENT = "deployment"  # production: run_deployment(), executed by a worker


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRO_", env_file=".env", extra="ignore")

    environment: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite under data_dir
    profile: str = "puglia"
    # empty outside production: a random key of this data folder (registro.local_secrets)
    secret_key: str = ""
    audit_key: str = ""  # the HMAC key of the audit chain, kept outside the database
    # where the day's audit chain heads are mailed (tasks/audit_heads.py): the region's preservation
    # service or protocol PEC, out of reach of whoever writes the database
    audit_archive_email: str = AUDIT_ARCHIVE_EXAMPLE
    token_ttl_hours: int = 12

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    prefect_port: int = 4200

    flow_dispatch: FlowDispatch = FlowDispatch.INPROCESS
    deployment_suffix: str = "registro"
    # the stage worker (registro.stage_worker) listens on 127.0.0.1 for the ids of accepted actions
    stage_worker_port: int = 4210
    # flows it runs at once: one per core. Each run is CPU in this process and in the Prefect server, so
    # more only add contention, and a run holding SQLite's write lock waits for the others' CPU. On 2 cores,
    # 60 districts, 8 in flight, interleaved pairs: 4 at once against 2 gave action p95 109/97 against
    # 45/53 ms, flow completion p95 1357/1410 against 1067/1269 ms (8 against 4, earlier: 121 against 80 ms)
    stage_worker_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)

    # argon2 cost; tests lower it, production keeps the library defaults
    password_time_cost: int = 3
    password_memory_cost: int = 65536
    # Argon2 computations at once in a process, each of password_memory_cost KiB (registro.passwords)
    password_hashing_concurrency: int = Field(default_factory=lambda: min(4, max(1, (os.cpu_count() or 1) // 2)), ge=1)
    # seconds a login waits for its turn at the password check before a 503 (api.login_limits)
    password_wait_seconds: float = Field(default=3.0, gt=0)
    # addresses of the reverse proxies whose X-Forwarded-For / -Proto the API believes (uvicorn's
    # --forwarded-allow-ips), comma-separated; empty: none, the socket's address is the client's
    trusted_proxies: str = ""
    # the site's public origin (e.g. https://registro.regione.example), comma-separated if several: the only
    # Origin a form may come from; empty: the request's own (scheme and Host, as a trusted proxy forwards them)
    site_origin: str = ""

    smtp_host: str = ""  # empty: local capture server started by the run command
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_use_tls: bool = False
    smtp_start_tls: bool = False
    smtp_ca_file: str = ""  # a PEM bundle of the CA that signed the server's certificate (private CAs)
    mail_from: str = "registro.distretti@regione.example"

    # the sweeps refuse an as_of still to come (flows.as_of); only the test suite sets this
    allow_future_as_of: bool = False

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # a request's body must arrive within this, plus a second for every 8 kB (api.input_guard)
    body_grace_seconds: float = Field(default=10.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'registro.db').as_posix()}"

    @property
    def effective_secret_key(self) -> str:
        """The key of CSRF tokens and of the stage worker's datagrams."""
        return self.secret_key or self._local_secret(local_secrets.APP_KEY)

    @property
    def effective_audit_key(self) -> str:
        return self.audit_key or self._local_secret(local_secrets.AUDIT_KEY)

    def _local_secret(self, name: str) -> str:
        if is_production(self):
            raise InsecureSettings(f"in produzione la credenziale {name} va impostata nelle impostazioni")
        return local_secrets.read_or_create(self.data_dir, name)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


class InsecureSettings(RuntimeError):
    """Production settings that still carry development defaults: the system refuses to start."""


def is_production(settings: Settings) -> bool:
    return settings.environment.strip().lower() in PRODUCTION


def check_production(settings: Settings) -> None:
    """In production, refuses (``InsecureSettings``, message in Italian) default or weak secrets.

    Development and tests keep their defaults: the check applies only when ``REGISTRO_ENVIRONMENT``
    says production.
    """
    if not is_production(settings):
        return
    problems = []
    if not settings.secret_key:
        problems.append("REGISTRO_SECRET_KEY non è impostata")
    elif settings.secret_key == DEFAULT_SECRET:
        problems.append("REGISTRO_SECRET_KEY è quella predefinita di sviluppo")
    elif len(settings.secret_key) < MIN_SECRET_LENGTH:
        problems.append(f"REGISTRO_SECRET_KEY è troppo corta (almeno {MIN_SECRET_LENGTH} caratteri)")
    elif settings.secret_key.lower() in WEAK_PASSWORDS or len(set(settings.secret_key)) < 8:
        problems.append("REGISTRO_SECRET_KEY è banale: generarne una casuale")
    if len(settings.audit_key) < MIN_SECRET_LENGTH:
        problems.append(f"REGISTRO_AUDIT_KEY non è impostata o è troppo corta (almeno {MIN_SECRET_LENGTH} caratteri)")
    elif settings.audit_key == settings.secret_key:
        problems.append("REGISTRO_AUDIT_KEY deve essere diversa da REGISTRO_SECRET_KEY")
    if settings.audit_archive_email == AUDIT_ARCHIVE_EXAMPLE:
        problems.append("REGISTRO_AUDIT_ARCHIVE_EMAIL non è impostato (indirizzo di conservazione delle impronte)")
    db_password = _url_password(settings.database_url)
    if db_password is not None and db_password.lower() in WEAK_PASSWORDS:
        problems.append("REGISTRO_DATABASE_URL contiene una password predefinita o banale")
    smtp_password = settings.smtp_password
    if smtp_password and (smtp_password.lower() in WEAK_PASSWORDS or smtp_password == settings.smtp_username):
        problems.append("REGISTRO_SMTP_PASSWORD è predefinita o banale")
    if not settings.smtp_host:
        problems.append("REGISTRO_SMTP_HOST non è impostato: in produzione la posta va a un server SMTP/PEC vero")
    elif not (settings.smtp_use_tls or settings.smtp_start_tls) and settings.smtp_host not in LOOPBACK:
        problems.append(
            "la posta verso un altro server deve viaggiare cifrata: REGISTRO_SMTP_USE_TLS=true (porta 465) "
            "o REGISTRO_SMTP_START_TLS=true (porta 587)"
        )
    problems += _prefect_problems()
    if problems:
        raise InsecureSettings(
            "avvio rifiutato in modalità produzione (REGISTRO_ENVIRONMENT="
            f"{settings.environment}): " + "; ".join(problems) + ". "
            "Impostare valori segreti propri, ad esempio con: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )


def _prefect_problems() -> list[str]:
    """Prefect's own client settings: every process of the system talks to its server, which in
    production must require a credential (``registro.prefect_server``); the client must carry it."""
    from prefect.settings import Settings as PrefectSettings

    api = PrefectSettings().api  # read now, not when Prefect was imported
    auth = api.auth_string.get_secret_value() if api.auth_string is not None else ""
    problems = []
    user, colon, password = auth.partition(":")
    if not colon or not user or len(password) < MIN_PREFECT_PASSWORD:
        problems.append(
            "PREFECT_API_AUTH_STRING manca o è debole: serve utente:password (almeno "
            f"{MIN_PREFECT_PASSWORD} caratteri di password), la stessa data al server Prefect"
        )
    elif password.lower() in WEAK_PASSWORDS:
        problems.append("PREFECT_API_AUTH_STRING ha una password banale")
    if api.url and not api.url.startswith("https://") and urlsplit(api.url).hostname not in LOOPBACK:
        problems.append("PREFECT_API_URL deve usare https:// verso un server Prefect su un'altra macchina")
    return problems


def uvicorn_proxy_args(settings: Settings) -> list[str]:
    """uvicorn's options for proxy headers: believed only from ``REGISTRO_TRUSTED_PROXIES``."""
    proxies = ",".join(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    return ["--proxy-headers", "--forwarded-allow-ips", proxies] if proxies else ["--no-proxy-headers"]


def _url_password(url: str) -> str | None:
    if not url or "://" not in url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return None
    return None if password is None else str(password)
