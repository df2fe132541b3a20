"""The one place that reads the environment (prefix ``REGISTRO_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "sviluppo-non-usare-in-produzione"


class FlowDispatch(StrEnum):
    """How an API action starts its stage flow."""

    INPROCESS = "inprocess"  # embedded default: async flow run inside the API process
    DEPLOYMENT = "deployment"  # production: run_deployment(), executed by a worker


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRO_", env_file=".env", extra="ignore")

    environment: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite under data_dir
    profile: str = "puglia"
    secret_key: str = DEFAULT_SECRET
    token_ttl_hours: int = 12

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    prefect_port: int = 4200

    flow_dispatch: FlowDispatch = FlowDispatch.INPROCESS
    deployment_suffix: str = "registro"

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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'registro.db').as_posix()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
