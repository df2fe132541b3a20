"""The one place that reads the environment (prefix ``REGISTRO_``); what production requires of it is
in ``registro.production_check``."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registro import embedded_postgres, local_secrets

AUDIT_ARCHIVE_EXAMPLE = "conservazione@regione.example"  # development only: refused in production
PRODUCTION = {"production", "produzione", "prod"}


class FlowDispatch(StrEnum):
    """How an API action starts its stage flow."""

    INPROCESS = "inprocess"  # the API alone: async flow run inside the API process
    WORKER = "worker"  # embedded default (`registro run`): the stage worker process runs it
    DEPLOYMENT = "deployment"  # production: run_deployment(), executed by a worker


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRO_", env_file=".env", extra="ignore")

    environment: str = "development"
    data_dir: Path = Path("var")
    # empty: the embedded PostgreSQL server on data_dir/postgres (registro.embedded_postgres)
    database_url: str = ""
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
    # more only add contention. Measured on the earlier database, 2 cores, 60 districts, 8 in flight, interleaved pairs:
    # 4 at once against 2 gave action p95 109/97 against 45/53 ms, flow completion p95 1357/1410 against
    # 1067/1269 ms
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
    # SMTP connections a delivery run sends over at once, each with at most one message in flight
    # (tasks.delivery: what a second one buys); a provider that allows only one: 1
    smtp_connections: int = Field(default=2, ge=1, le=8)
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
        return embedded_postgres.url(self.embedded_pgdata, "registro")

    @property
    def embedded_pgdata(self) -> Path:
        """The embedded server's data folder (used when ``database_url`` is empty)."""
        return self.data_dir / "postgres"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url

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


@lru_cache
def get_settings() -> Settings:
    return Settings()


class InsecureSettings(RuntimeError):
    """Production settings that still carry development defaults: the system refuses to start."""


def is_production(settings: Settings) -> bool:
    return settings.environment.strip().lower() in PRODUCTION


def uvicorn_proxy_args(settings: Settings) -> list[str]:
    """uvicorn's options for proxy headers: believed only from ``REGISTRO_TRUSTED_PROXIES``."""
    proxies = ",".join(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    return ["--proxy-headers", "--forwarded-allow-ips", proxies] if proxies else ["--no-proxy-headers"]
