"""STARTTLS and login against a real aiosmtpd server on 127.0.0.1 with a certificate of a test CA:
the password only travels encrypted, a wrong one is refused, and the CA bundle is a setting."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.sender import SmtpConfig, build_message, smtp_connection
from tests.notifications.test_delivery import Recorder, free_port

USER, PASSWORD = "registro", "segreto-pec-1"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder, port = Recorder(), free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield port, cert, recorder
    controller.stop()


def config(port: int, cert: Path, password: str = PASSWORD) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1", port=port, mail_from="registro@regione.example", username=USER, password=password,
        start_tls=True, ca_file=str(cert), timeout=5,
    )  # fmt: skip


async def send_one(cfg: SmtpConfig) -> None:
    raw = build_message(
        recipient="rapp@pec.example.it", subject="Prova", body_text="Testo", body_html="<p>Testo</p>",
        idempotency_key="prova:1", mail_from=cfg.mail_from, date=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    async with smtp_connection(cfg) as mailer:
        await mailer.send(raw, "rapp@pec.example.it")


def test_starttls_then_login_delivers(tls_server: Any) -> None:
    port, cert, recorder = tls_server
    asyncio.run(send_one(config(port, cert)))
    assert recorder.envelopes == [("registro@regione.example", ["rapp@pec.example.it"])]
    assert recorder.messages[0]["Subject"] == "Prova"


def test_wrong_password_is_refused(tls_server: Any) -> None:
    port, cert, recorder = tls_server
    with pytest.raises(aiosmtplib.SMTPException):  # 535, or no answer to the next mechanism
        asyncio.run(send_one(config(port, cert, password="sbagliata")))
    assert recorder.messages == []


def test_unknown_certificate_is_refused(tls_server: Any, tmp_path: Path) -> None:
    port, _, recorder = tls_server
    (tmp_path / "altro").mkdir()
    other, _ = self_signed(tmp_path / "altro")
    with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError, OSError)):
        asyncio.run(send_one(config(port, other)))
    assert recorder.messages == []
