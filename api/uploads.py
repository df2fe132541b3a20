"""What an uploaded file is, decided by its content (never by its name or the client's declared type).

``sniff`` looks at the first bytes (and, for a zip, at its directory) and answers one of the
``FileType`` values or ``None``; ``require_type`` turns a refusal into a 422 naming the accepted types.

- PDF: starts with ``%PDF-``.
- P7M: a CAdES/PKCS#7 envelope (the usual form of a digitally signed document in the Italian PA):
  DER starting with a SEQUENCE (0x30) and carrying the signedData OID 1.2.840.113549.1.7.2 near the
  start, or the same in base64 (with or without the PEM ``-----BEGIN PKCS7-----`` armour).
- XLSX: a zip holding ``[Content_Types].xml`` and ``xl/workbook.xml``, whose directory is at most 1 MB
  (some 10,000 parts: a workbook has a dozen or so). Only the directory is read, nothing is inflated;
  its size is read from the end record first: 20 MB of directory (200,000 empty parts) took 2.6 s and
  32 MB to list.
- CSV: text (UTF-8, UTF-16 with BOM or cp1252) without NUL or other binary control characters, not
  markup (HTML/SVG/XML start with ``<``)
  (the first 64 kB are looked at; the roster reader checks every row).
"""

from __future__ import annotations

import base64
import binascii
import re
import zipfile
from collections.abc import Collection
from enum import StrEnum
from typing import BinaryIO

from models.errors import InvalidInput


class FileType(StrEnum):
    PDF = "application/pdf"
    P7M = "application/pkcs7-mime"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    CSV = "text/csv"


LABELS = {FileType.PDF: "PDF", FileType.P7M: "P7M (firmato digitalmente)", FileType.XLSX: "XLSX", FileType.CSV: "CSV"}

# signed applicant documents: PDF, or a PDF signed (CAdES .p7m)
DOCUMENT_TYPES = (FileType.PDF, FileType.P7M)
# the roster (and "other") document kinds: also the spreadsheet itself
SPREADSHEET_DOCUMENT_TYPES = (FileType.PDF, FileType.P7M, FileType.XLSX, FileType.CSV)
# annual report attachments: the report and its KPI sheets
REPORT_TYPES = (FileType.PDF, FileType.P7M, FileType.XLSX, FileType.CSV)
ROSTER_TYPES = (FileType.CSV, FileType.XLSX)

EXTENSIONS = {
    FileType.PDF: (".pdf",),
    FileType.P7M: (".p7m", ".p7s"),
    FileType.XLSX: (".xlsx",),
    FileType.CSV: (".csv", ".txt"),
}
HEAD = 64 * 1024  # how much of the start is looked at
SIGNED_DATA_OID = bytes.fromhex("06092A864886F70D010702")  # 1.2.840.113549.1.7.2
PEM_ARMOUR = re.compile(rb"-----BEGIN (?:PKCS7|CMS|SIGNED MESSAGE)-----")
BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\r\n]+$")
BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
XLSX_PARTS = {"[Content_Types].xml", "xl/workbook.xml"}
MAX_ZIP_DIRECTORY = 1024 * 1024
END_RECORD = b"PK\x05\x06"  # the zip's end of central directory record: 22 bytes and a comment


def sniff(file: BinaryIO) -> FileType | None:
    """The type of the file's content (the file is read from the start and rewound)."""
    file.seek(0)
    head = file.read(HEAD)
    file.seek(0)
    if not head:
        return None
    if head.startswith(b"%PDF-"):
        return FileType.PDF
    if _is_p7m(head):
        return FileType.P7M
    if head.startswith(b"PK\x03\x04"):
        return FileType.XLSX if _is_xlsx(file) else None
    if _is_text(head):
        return FileType.CSV
    return None


def require_type(file: BinaryIO, accepted: Collection[FileType], *, field: str = "file") -> FileType:
    """The detected type if accepted, else a 422 naming the accepted types (nothing stored yet)."""
    file.seek(0)
    empty = not file.read(1)
    file.seek(0)
    if empty:
        raise InvalidInput("il file è vuoto (nulla è stato salvato)", field=field)
    detected = sniff(file)
    if detected is None or detected not in accepted:
        names = ", ".join(LABELS[t] for t in accepted)
        raise InvalidInput(
            f"tipo di file non accettato: il contenuto non è un file {names} (nulla è stato salvato)",
            field=field,
            accepted=[t.value for t in accepted],
        )
    return detected


def safe_name(name: str, detected: FileType) -> str:
    """The display name with an extension that tells the truth about the content."""
    if name.lower().endswith(EXTENSIONS[detected]):
        return name
    return name[:250] + EXTENSIONS[detected][0]


def _is_p7m(head: bytes) -> bool:
    if head.startswith(b"\x30") and SIGNED_DATA_OID in head[:64]:
        return True
    text = head.lstrip()
    if PEM_ARMOUR.match(text):
        text = text.split(b"-----", 2)[2]  # after the armour line
    body = text.split(b"-----", 1)[0].strip()[:2048]
    if len(body) < 16 or not BASE64_TEXT.match(body):
        return False
    chunk = re.sub(rb"\s", b"", body)
    chunk = chunk[: len(chunk) // 4 * 4]
    try:
        der = base64.b64decode(chunk, validate=True)
    except (binascii.Error, ValueError):
        return False
    return der.startswith(b"\x30") and SIGNED_DATA_OID in der[:64]


def _is_xlsx(file: BinaryIO) -> bool:
    """Looks at the zip directory only: nothing is inflated here (no zip bomb can hurt)."""
    if _directory_size(file) > MAX_ZIP_DIRECTORY:
        return False
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    finally:
        file.seek(0)
    return names >= XLSX_PARTS


def _directory_size(file: BinaryIO) -> int:
    """The size of the zip's central directory as its end record declares it (zipfile reads exactly that
    much); 0 without an end record (zipfile refuses the file then), beyond any limit for ZIP64."""
    file.seek(0, 2)
    size = file.tell()
    tail_size = min(size, 22 + 0xFFFF)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    file.seek(0)
    at = tail.rfind(END_RECORD)
    if at < 0 or at + 22 > len(tail):
        return 0
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    return directory if directory != 0xFFFFFFFF else MAX_ZIP_DIRECTORY + 1


def _is_text(head: bytes) -> bool:
    """Text in one of the encodings the roster reader knows; a character cut at the end of the head is fine."""
    decoded: str | None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        decoded = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    elif b"\x00" in head:
        return False
    else:
        decoded = _decode(head)
    if decoded is None:
        return False
    text = decoded.lstrip("\ufeff \t\r\n")
    # markup (HTML, SVG, XML) is text but never a table: refused rather than served back as CSV
    return bool(text) and not text.startswith("<") and not BINARY_CONTROLS.search(text)


def _decode(head: bytes) -> str | None:
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(head) == HEAD and exc.start >= len(head) - 3:  # a character cut by the head's end
            return head[: exc.start].decode("utf-8-sig", errors="strict")
    try:
        return head.decode("cp1252")
    except UnicodeDecodeError:
        return None
