"""``registro audit-verify``: the audit chain of every application, checked and reported in Italian,
and the record of the day's heads that leaves the system every evening (``tasks/audit_heads.py``).

The record (JSON, Italian field names: an archivist reads it) holds the day, when it was made, and per
application with events the number of its events and the hash of the last (``Head``), plus the broken
links found while making it; ``hmac`` is HMAC-SHA256 with the audit key over the rest (canonical JSON,
prefixed by ``MAC_DOMAIN`` so that it can never be taken for an event's hash). It travels as the text
of a mail between ``BEGIN`` and ``END``; ``read_record`` takes that mail as saved (``.eml``), its text,
or the bare JSON. ``audit-verify --teste FILE`` checks the record's HMAC, then that each application's
chain still has, at the archived position, the archived hash: an edit anywhere up to that position,
recomputed with the key, changes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from sqlmodel import Session

from models.audit_chain import ChainReport, Head, Witness, chain_key, verify

KIND = "impronte-giornaliere-audit"
VERSION = 1
BEGIN = "-----INIZIO IMPRONTE-----"
END = "-----FINE IMPRONTE-----"
MAC_DOMAIN = b"registro-distretti/impronte-giornaliere\n"
MAX_RECORD_BYTES = 64 * 1024 * 1024
HEX64 = re.compile(r"[0-9a-f]{64}")


class WitnessError(Exception):
    """A record that cannot be read or is not authentic: nothing is compared (message in Italian)."""


@dataclass(frozen=True)
class ArchivedHeads:
    day: date
    heads: Witness
    source: str


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# ---- the record -------------------------------------------------------------------------------


def record_mac(record: Mapping[str, Any], key: bytes) -> str:
    body = {name: value for name, value in record.items() if name != "hmac"}
    payload = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return hmac.new(key, MAC_DOMAIN + payload, hashlib.sha256).hexdigest()


def build_record(report: ChainReport, *, day: date, now: datetime, key: bytes) -> dict[str, Any]:
    record: dict[str, Any] = {
        "tipo": KIND,
        "versione": VERSION,
        "giorno": day.isoformat(),
        "generato": now.isoformat(),
        "eventi": report.events,
        "anomalie": [link.message for link in report.broken],
        "domande": [
            {"domanda": app_id, "eventi": head.events, "impronta": head.hash}
            for app_id, head in sorted(report.heads.items())
        ],
    }
    record["hmac"] = record_mac(record, key)
    return record


def record_text(record: Mapping[str, Any]) -> str:
    """The record as JSON with one application per line (a mail's lines stay short and readable)."""
    header = {name: value for name, value in record.items() if name not in ("domande", "hmac")}
    rows = [json.dumps(row, ensure_ascii=False) for row in record["domande"]]
    return "\n".join(
        [
            json.dumps(header, ensure_ascii=False)[:-1] + ', "domande": [',
            ",\n".join(rows),
            f'], "hmac": {json.dumps(record["hmac"])}}}',
        ]
    )


def read_record(path: Path) -> dict[str, Any]:
    """The record in ``path``: a saved mail (.eml), its text, or the JSON alone. Not yet authenticated."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise WitnessError(f"{path}: file troppo grande per essere un registro di impronte")
        data = path.read_bytes()
    except OSError as exc:
        raise WitnessError(f"{path}: impossibile leggere il file ({exc.strerror or exc})") from exc
    text = data.decode("utf-8", errors="replace")
    if not text.lstrip().startswith("{"):  # a mail: the text part that holds the record, transfer-decoded
        text = _mail_text(data) or text
    if BEGIN in text:
        text = text.split(BEGIN, 1)[1].split(END, 1)[0]
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("tipo") != KIND:
        raise WitnessError(f"{path}: non contiene un registro delle impronte giornaliere dell'audit")
    return record


def _mail_text(data: bytes) -> str | None:
    """The text part holding the record, also inside an attached message (a PEC receipt's
    ``postacert.eml`` carries the message as it was sent)."""
    for part in message_from_bytes(data, policy=policy.default).walk():
        if part.get_content_type() == "text/plain":
            content = part.get_content()
            if isinstance(content, str) and BEGIN in content:
                return content
    return None


def archived_heads(record: Mapping[str, Any], key: bytes, source: str) -> ArchivedHeads:
    """The heads of an authentic record; ``WitnessError`` if its HMAC or its form is wrong."""
    mac = record.get("hmac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac.encode(), record_mac(record, key).encode()):
        raise WitnessError(
            f"{source}: il registro delle impronte non è autentico (alterato, o firmato con un'altra chiave dell'audit)"
        )
    try:
        if record["versione"] != VERSION:
            raise ValueError(f"versione {record['versione']}")
        heads: dict[int, Head] = {}
        for row in record["domande"]:
            app_id, events, digest = row["domanda"], row["eventi"], row["impronta"]
            if not (isinstance(app_id, int) and isinstance(events, int) and events > 0 and HEX64.fullmatch(digest)):
                raise ValueError(f"riga {row}")
            heads[app_id] = Head(events, digest)
        return ArchivedHeads(date.fromisoformat(record["giorno"]), heads, source)
    except (KeyError, TypeError, ValueError) as exc:
        raise WitnessError(f"{source}: registro delle impronte non valido ({exc})") from exc


# ---- the command ------------------------------------------------------------------------------


def check(
    session: Session,
    echo: Callable[[str], None],
    *,
    witnesses: Sequence[Path] = (),
    key: bytes | None = None,
    progress_every: int = 100_000,
) -> int:
    """Prints the outcome; returns the exit code: 0 intact (and matching every archived record), 1 a
    broken link or a difference from an archived record, 2 a record that cannot be read or trusted."""
    key = key if key is not None else chain_key()
    try:
        archives = [archived_heads(read_record(path), key, str(path)) for path in witnesses]
    except WitnessError as exc:
        echo(f"ERRORE: {exc}")
        return 2
    started = time.perf_counter()
    shown = 0

    def progress(events: int) -> None:
        nonlocal shown
        if events - shown >= progress_every:
            shown = events
            echo(f"… {events} eventi verificati")

    report = verify(session, key=key, witnesses=[archive.heads for archive in archives], progress=progress)
    checked = f"{_count(report.events, 'evento', 'eventi')}, {_count(report.applications, 'domanda', 'domande')}"
    elapsed = f"({time.perf_counter() - started:.1f} s)"
    if report.ok:
        echo(f"Catena dell'audit integra: {checked}. {elapsed}")
    else:
        echo(f"Catena dell'audit ROTTA in {_count(len(report.broken), 'domanda', 'domande')} su {checked}. {elapsed}")
        echo("Primo anello rotto di ogni domanda:")
        for link in report.broken:
            echo(f"- {link.message}")
    for archive, differences in zip(archives, report.differences, strict=True):
        what = f"Impronte archiviate del {archive.day:%d/%m/%Y} ({_count(len(archive.heads), 'domanda', 'domande')})"
        if not differences:
            echo(f"{what}: corrispondono.")
            continue
        echo(f"{what}: DIFFERENZE in {_count(len(differences), 'domanda', 'domande')}.")
        for link in differences:
            echo(f"- {link.message}")
    return 0 if report.ok and not any(report.differences) else 1
