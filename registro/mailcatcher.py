"""Local SMTP capture server for the embedded default (no real mail leaves the machine).

Run as ``python -m registro.mailcatcher [--host H] [--port P] [--dir D]``; defaults come from the
settings (``127.0.0.1``, ``REGISTRO_SMTP_PORT`` = 8025, ``<data_dir>/mail``). Every message received
is stored as one ``.eml`` file (the raw message, preceded by ``X-Envelope-From`` / ``X-Envelope-To``
headers so that Bcc recipients stay visible) and logged as one line ``posta catturata: <to> <subject>``.
``registro run`` starts it by itself when ``REGISTRO_SMTP_HOST`` is empty.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

READY_LINE = "mailcatcher pronto"


class CaptureHandler:
    """aiosmtpd handler: writes each message to ``<directory>/<timestamp>-<id>.eml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content or b""
        recipients = ", ".join(envelope.rcpt_tos)
        prefix = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {recipients}\r\n".encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(prefix + raw)
        tmp.replace(path)  # readers never see a half-written .eml
        print(f"posta catturata: {recipients} {_subject(raw)}", flush=True)
        return "250 Message accepted for delivery"


def _subject(raw: bytes) -> str:
    value = BytesHeaderParser().parsebytes(raw).get("Subject", "")
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # malformed encoded-word: show it as it came
        return str(value)


def start(host: str, port: int, directory: Path) -> Controller:
    controller = Controller(CaptureHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    from registro.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m registro.mailcatcher", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.smtp_port)
    parser.add_argument("--dir", type=Path, default=settings.data_dir / "mail")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        controller = start(args.host, args.port, args.dir)
    except Exception as exc:  # typically: port already in use
        print(f"mailcatcher: impossibile ascoltare su {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"{READY_LINE}: smtp://{args.host}:{args.port} → {args.dir.resolve()}", flush=True)
    stop.wait()
    controller.stop()
    print("mailcatcher fermato", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
