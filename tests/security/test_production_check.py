"""Issue 15, lesser point: the production check accepted ``abcdefghabcdefghabcdefghabcdefgh`` as a
secret and checked neither Prefect's authentication nor TLS for the mail."""

from __future__ import annotations

import pytest

from registro.production_check import check_production
from registro.settings import InsecureSettings, Settings

GOOD = {
    "environment": "production",
    "secret_key": "k7Qv2pXr9LmZ4tW8yBn3CsD6fGh1JeKa",
    "audit_key": "Wm4Zr8Tq1Lx6Nc3Vb9Pd2Hs5Jf7Gk0Ay",
    "audit_archive_email": "conservazione@pec.regione.example.it",
    "smtp_host": "pec.regione.example",
    "smtp_use_tls": True,
}


@pytest.fixture(autouse=True)
def prefect_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "registro:Hq3Vx8Lm2Rt7Wz5Kc9Np4Bd6Fj1Gs0Ye")
    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.regione.example/api")


def _check(**values: object) -> None:
    check_production(Settings(_env_file=None, **{**GOOD, **values}))  # type: ignore[call-arg]


def test_sound_production_settings_start() -> None:
    _check()


@pytest.mark.parametrize(
    "secret",
    ["abcdefghabcdefghabcdefghabcdefgh", "abcdefghijklmnopqrstuvwxyz012345", "Aa1!" * 8, "x" * 40],
)
def test_a_patterned_secret_is_refused(secret: str) -> None:
    with pytest.raises(InsecureSettings, match="REGISTRO_SECRET_KEY è banale") as refused:
        _check(secret_key=secret)
    assert secret not in str(refused.value)


def test_a_prefect_client_without_its_credential_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_AUTH_STRING")
    with pytest.raises(InsecureSettings, match="PREFECT_API_AUTH_STRING manca"):
        _check()


def test_plain_http_to_a_remote_prefect_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.regione.example:4200/api")
    with pytest.raises(InsecureSettings, match="https://"):
        _check()


def test_mail_to_another_server_without_tls_is_refused() -> None:
    with pytest.raises(InsecureSettings, match="cifrata"):
        _check(smtp_use_tls=False, smtp_start_tls=False)
