"""Secrets come only from settings; production refuses to start with development defaults."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest

from registro.production_check import DEFAULT_SECRET, check_production
from registro.settings import InsecureSettings, Settings

STRONG = "k7Qv2pXr9LmZ4tW8yBn3CsD6fGh1JeKa"  # 32 characters, many different
AUDIT = {"audit_key": "Wm4Zr8Tq1Lx6Nc3Vb9Pd2Hs5Jf7Gk0Ay", "audit_archive_email": "conservazione@pec.regione.example.it"}


PREFECT_AUTH = "registro:Hq3Vx8Lm2Rt7Wz5Kc9Np4Bd6Fj1Gs0Ye"


@pytest.fixture(autouse=True)
def prefect_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production needs the Prefect client's credential (Prefect's own PREFECT_API_AUTH_STRING)."""
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", PREFECT_AUTH)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


def settings(**values: Any) -> Settings:
    """Settings from the given values only (no .env file, no REGISTRO_* of the test run); production
    with a mail server over TLS unless the values say otherwise."""
    if values.get("environment", "").strip().lower() in ("production", "produzione", "prod"):
        values = {"smtp_host": "pec.regione.example", "smtp_use_tls": True, **AUDIT, **values}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_development_keeps_its_defaults() -> None:
    check_production(settings())
    check_production(settings(environment="development", secret_key="corta"))


@pytest.mark.parametrize("environment", ["production", "Produzione", " PROD "])
def test_production_without_a_secret_or_with_the_old_default_refuses_to_start(environment: str) -> None:
    with pytest.raises(InsecureSettings) as refused:
        check_production(settings(environment=environment))
    message = str(refused.value)
    assert "avvio rifiutato in modalità produzione" in message
    assert "REGISTRO_SECRET_KEY non è impostata" in message
    with pytest.raises(InsecureSettings) as refused:
        check_production(settings(environment=environment, secret_key=DEFAULT_SECRET))
    assert "REGISTRO_SECRET_KEY è quella predefinita di sviluppo" in str(refused.value)
    assert DEFAULT_SECRET not in str(refused.value)  # the message names the setting, never a secret's value


def test_outside_production_an_empty_key_is_a_random_one_of_the_data_folder(tmp_path: Path) -> None:
    first = settings(data_dir=tmp_path).effective_secret_key
    assert len(first) >= 40 and first != DEFAULT_SECRET
    assert settings(data_dir=tmp_path).effective_secret_key == first  # kept, not made anew
    assert settings(data_dir=tmp_path / "altro").effective_secret_key != first
    folder = tmp_path / "segreti"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "chiave-applicazione").stat().st_mode) == 0o600
    assert settings(data_dir=tmp_path, secret_key=STRONG).effective_secret_key == STRONG
    with pytest.raises(InsecureSettings, match="in produzione"):
        settings(data_dir=tmp_path / "p", environment="production").effective_secret_key  # noqa: B018
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("x" * 31, "troppo corta (almeno 32 caratteri)"), ("ab" * 20, "banale")],
)
def test_production_with_a_short_or_trivial_secret_refuses(secret: str, reason: str) -> None:
    with pytest.raises(InsecureSettings, match=re.escape(reason)):
        check_production(settings(environment="production", secret_key=secret))


def test_production_with_real_secrets_starts() -> None:
    check_production(
        settings(
            environment="production",
            secret_key=STRONG,
            database_url="postgresql+psycopg://registro:Zq8-vW3!pL0x@db.regione.example:5432/registro",
            smtp_username="registro",
            smtp_password="pec-Zq8vW3pL0x",
            **AUDIT,
        )
    )
    # no password in the URL (peer/trust/certificate authentication) is not a default secret
    check_production(
        settings(environment="production", secret_key=STRONG, database_url="postgresql+psycopg:///registro", **AUDIT)
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"audit_key": ""}, "REGISTRO_AUDIT_KEY non è impostata"),
        ({"audit_key": "x" * 31}, "REGISTRO_AUDIT_KEY è troppo corta (almeno 32 caratteri)"),
        ({"audit_key": STRONG}, "REGISTRO_AUDIT_KEY deve essere diversa da REGISTRO_SECRET_KEY"),
        ({"audit_archive_email": "conservazione@regione.example"}, "REGISTRO_AUDIT_ARCHIVE_EMAIL non è impostato"),
    ],
)
def test_production_without_its_own_audit_key_and_archive_refuses(values: dict[str, str], reason: str) -> None:
    with pytest.raises(InsecureSettings, match=re.escape(reason)) as refused:
        check_production(settings(environment="production", secret_key=STRONG, **{**AUDIT, **values}))
    assert STRONG not in str(refused.value)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"database_url": "postgresql+psycopg://postgres:postgres@db:5432/registro"}, "REGISTRO_DATABASE_URL"),
        ({"database_url": "postgresql://registro:changeme@db/registro"}, "REGISTRO_DATABASE_URL"),
        ({"smtp_username": "pec", "smtp_password": "password"}, "REGISTRO_SMTP_PASSWORD"),
        ({"smtp_username": "pec@regione.example", "smtp_password": "pec@regione.example"}, "REGISTRO_SMTP_PASSWORD"),
    ],
)
def test_production_with_default_passwords_refuses(values: dict[str, str], reason: str) -> None:
    with pytest.raises(InsecureSettings, match=reason) as refused:
        check_production(settings(environment="production", secret_key=STRONG, **values))
    assert "changeme" not in str(refused.value) and ":postgres@" not in str(refused.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InsecureSettings) as refused:
        check_production(
            settings(environment="production", database_url="postgresql://u:admin@h/d", smtp_password="secret")
        )
    message = str(refused.value)
    for setting in ("REGISTRO_SECRET_KEY", "REGISTRO_DATABASE_URL", "REGISTRO_SMTP_PASSWORD"):
        assert setting in message


def test_secrets_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRO_ENVIRONMENT", "production")
    monkeypatch.setenv("REGISTRO_SECRET_KEY", STRONG)
    monkeypatch.setenv("REGISTRO_SMTP_HOST", "pec.regione.example")
    monkeypatch.setenv("REGISTRO_SMTP_START_TLS", "true")
    monkeypatch.setenv("REGISTRO_AUDIT_KEY", AUDIT["audit_key"])
    monkeypatch.setenv("REGISTRO_AUDIT_ARCHIVE_EMAIL", AUDIT["audit_archive_email"])
    loaded = Settings(_env_file=None)  # type: ignore[call-arg]
    assert loaded.secret_key == STRONG
    check_production(loaded)


def test_the_app_refuses_to_start_in_production_with_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app
    from registro.settings import get_settings

    monkeypatch.setattr(get_settings(), "environment", "production")
    monkeypatch.setattr(get_settings(), "smtp_host", "pec.regione.example")
    monkeypatch.setattr(get_settings(), "smtp_use_tls", True)
    monkeypatch.setattr(get_settings(), "secret_key", DEFAULT_SECRET)
    with pytest.raises(InsecureSettings, match="REGISTRO_SECRET_KEY"):
        create_app()
    monkeypatch.setattr(get_settings(), "secret_key", STRONG)
    for name, value in AUDIT.items():
        monkeypatch.setattr(get_settings(), name, value)
    assert create_app().title  # with its own secret it starts


def test_the_stage_worker_runs_one_flow_per_core_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRO_STAGE_WORKER_CONCURRENCY", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert settings().stage_worker_concurrency == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)  # unknown: as one core
    assert settings().stage_worker_concurrency == 1
    monkeypatch.setenv("REGISTRO_STAGE_WORKER_CONCURRENCY", "8")
    assert settings().stage_worker_concurrency == 8


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "PREFECT_API_AUTH_STRING manca"),
        ("registro", "PREFECT_API_AUTH_STRING manca"),
        ("registro:breve", "la password di PREFECT_API_AUTH_STRING è troppo corta"),
        ("registro:" + "abcdefgh" * 4, "la password di PREFECT_API_AUTH_STRING è banale"),
    ],
)
def test_production_refuses_a_prefect_client_without_a_strong_credential(
    monkeypatch: pytest.MonkeyPatch, auth: str | None, reason: str
) -> None:
    if auth is None:
        monkeypatch.delenv("PREFECT_API_AUTH_STRING")
    else:
        monkeypatch.setenv("PREFECT_API_AUTH_STRING", auth)
    with pytest.raises(InsecureSettings, match=reason) as refused:
        check_production(settings(environment="production", secret_key=STRONG))
    assert "breve" not in str(refused.value) and "abcdefgh" not in str(refused.value)  # never the credential


def test_production_refuses_plain_http_to_a_remote_prefect_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.regione.example:4200/api")
    with pytest.raises(InsecureSettings, match="https://"):
        check_production(settings(environment="production", secret_key=STRONG))
    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.regione.example/api")
    check_production(settings(environment="production", secret_key=STRONG))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")  # same machine
    check_production(settings(environment="production", secret_key=STRONG))


def test_production_mails_only_over_tls_to_another_server() -> None:
    with pytest.raises(InsecureSettings, match="REGISTRO_SMTP_HOST non è impostato"):
        check_production(settings(environment="production", secret_key=STRONG, smtp_host=""))
    with pytest.raises(InsecureSettings, match="cifrata"):
        check_production(settings(environment="production", secret_key=STRONG, smtp_use_tls=False))
    check_production(settings(environment="production", secret_key=STRONG, smtp_use_tls=False, smtp_start_tls=True))
    # a relay on the same machine (which itself sends over TLS)
    check_production(settings(environment="production", secret_key=STRONG, smtp_host="127.0.0.1", smtp_use_tls=False))
