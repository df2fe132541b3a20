"""The one place that reads the environment (prefix ``REGISTRO_``)."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registro import local_secrets

DEFAULT_SECRET = "sviluppo-non-usare-in-produzione"  # the old default: refused in production
MIN_SECRET_LENGTH = 32
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

    smtp_host: str = ""  # empty: local capture server started by the run command
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_use_tls: bool = False
    smtp_start_tls: bool = False
    smtp_ca_file: str = ""  # a PEM bundle of the CA that signed the server's certificate (private CAs)
    mail_from: str = "registro.distretti@regione.example"

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
    db_password = _url_password(settings.database_url)
    if db_password is not None and db_password.lower() in WEAK_PASSWORDS:
        problems.append("REGISTRO_DATABASE_URL contiene una password predefinita o banale")
    smtp_password = settings.smtp_password
    if smtp_password and (smtp_password.lower() in WEAK_PASSWORDS or smtp_password == settings.smtp_username):
        problems.append("REGISTRO_SMTP_PASSWORD è predefinita o banale")
    if problems:
        raise InsecureSettings(
            "avvio rifiutato in modalità produzione (REGISTRO_ENVIRONMENT="
            f"{settings.environment}): " + "; ".join(problems) + ". "
            "Impostare valori segreti propri, ad esempio con: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )


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
