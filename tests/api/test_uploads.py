"""Uploads are checked by content: PDF or signed P7M for documents, also XLSX/CSV for report attachments,
CSV or XLSX for the roster. A refused file is a 422 naming the accepted types and leaves nothing behind
(no row, no file on disk); the client's file name is never a path and its declared type is not stored.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from api.main import create_app
from api.uploads import FileType, sniff
from models.application import Document
from models.district import MemberEnterprise
from models.profiles import RegionProfile
from models.registry import AnnualReport
from registro.settings import get_settings
from tasks.report_cycle import open_reports
from tests.api_support import API, Clock, Http, People, fetch, roster_rows, to_active

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HEADER = ["ragione_sociale", "codice_fiscale", "partita_iva", "ateco", "addetti", "regione"]


def signed(content: bytes, encoding: serialization.Encoding = serialization.Encoding.DER) -> bytes:
    """A CAdES-like PKCS#7 SignedData envelope of ``content`` (what a .p7m from a signing card is)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mario Rossi")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
    return builder.sign(encoding, [])


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def roster_table(n: int = 3, start: int = 4000) -> list[list[object]]:
    keys = ["name", "tax_code", "vat_number", "ateco", "employees", "region"]
    return [HEADER] + [[r[k] for k in keys] for r in roster_rows(n, start=start)]


def roster_csv(n: int = 3, start: int = 4000) -> bytes:
    return "\r\n".join(";".join(str(c) for c in row) for row in roster_table(n, start)).encode()


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>%PDF-1.4</body></html>"
ZIP_BOMBISH = zip_of({"zeros.bin": b"\x00" * (8 * 1024 * 1024)})  # 8 MB of zeros in a few kB
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
# refused everywhere: (file name, content, declared type)
HOSTILE = {
    "exe": ("programma.pdf", EXE, "application/pdf"),
    "html": ("patto.pdf", HTML, "application/pdf"),
    "zip-bomb": ("elenco.xlsx", ZIP_BOMBISH, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "svg": ("patto.p7m", SVG, "application/pkcs7-mime"),
    "empty": ("vuoto.pdf", b"", "application/pdf"),
    "fake-p7m": ("firmato.pdf.p7m", b"\x30\x82\x01\x00" + b"\x01" * 300, "application/pkcs7-mime"),
}


def stored_files() -> set[Path]:
    root = get_settings().files_dir
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def draft(client: TestClient, auth: Http, people: People) -> int:
    return int(client.post(f"{API}/applications", json={}, headers=auth(people.rep)).json()["id"])


def open_report(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> int:
    to_active(client, auth, people)
    clock.now = datetime(2027, 1, 1, 7, 0, tzinfo=UTC)
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1)) == (2026, 1)
    session.commit()
    return fetch(session, select(AnnualReport.id))[0]


# ---- the sniffer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PDF, FileType.PDF),
        (signed(PDF), FileType.P7M),
        (signed(PDF, serialization.Encoding.PEM), FileType.P7M),
        (b"".join(signed(PDF, serialization.Encoding.PEM).splitlines(keepends=True)[1:-1]), FileType.P7M),
        (xlsx(roster_table()), FileType.XLSX),
        (roster_csv(), FileType.CSV),
        ("\ufeffragione_sociale;città\r\nCaffè Ñandú;Bari\r\n".encode(), FileType.CSV),
        ("ragione_sociale;città\r\nCaffè;Bari\r\n".encode("cp1252"), FileType.CSV),
        ("ragione_sociale\tcittà\r\n".encode("utf-16"), FileType.CSV),
        (EXE, None),
        (HTML, None),  # text, but markup: never a table
        (SVG, None),
        (b"\xef\xbb\xbf  <?xml version='1.0'?><a/>", None),
        (ZIP_BOMBISH, None),
        (zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), None),  # a .docx
        (b"\x00\x01\x02binario", None),
        (b"   \r\n", None),
    ],
)
def test_sniff_reads_the_content(content: bytes, expected: FileType | None) -> None:
    assert sniff(io.BytesIO(content)) == expected


def test_sniff_refuses_a_zip_directory_of_a_hundred_thousand_parts_quickly() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        for index in range(100_000):
            archive.writestr(f"{index}", b"")
    started = time.monotonic()
    assert sniff(io.BytesIO(out.getvalue())) is None
    assert time.monotonic() - started < 0.5  # never listed (200,000 parts took 2.6 s and 32 MB)


def test_files_are_stored_outside_any_served_folder() -> None:
    files_dir = get_settings().files_dir.resolve()
    served = [
        Path(str(route.app.directory)).resolve()
        for route in create_app().routes
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles) and route.app.directory is not None
    ]
    assert served, "the app serves its static folder"
    for folder in served:
        assert not files_dir.is_relative_to(folder) and not folder.is_relative_to(files_dir)


# ---- documents -------------------------------------------------------------------------------


def test_documents_accept_pdf_and_signed_p7m_and_store_the_detected_type(
    client: TestClient, auth: Http, people: People
) -> None:
    app_id = draft(client, auth, people)
    url = f"{API}/applications/{app_id}/documents"
    rep = auth(people.rep)
    for name, content, declared, stored_type, stored_name in [
        ("patto.pdf", PDF, "text/html", "application/pdf", "patto.pdf"),  # the declared type is ignored
        ("programma.pdf.p7m", signed(PDF), "application/octet-stream", "application/pkcs7-mime", "programma.pdf.p7m"),
        ("nomina", signed(PDF + b"2", serialization.Encoding.PEM), "", "application/pkcs7-mime", "nomina.p7m"),
    ]:
        kind = {"patto.pdf": "pact", "nomina": "representative_appointment"}.get(name, "development_programme")
        up = client.post(url, data={"kind": kind}, files={"file": (name, content, declared)}, headers=rep)
        assert up.status_code == 201, up.text
        assert up.json()["filename"] == stored_name
        download = client.get(up.json()["download_url"], headers=rep)
        assert download.status_code == 200 and download.content == content
        assert download.headers["content-type"].split(";")[0] == stored_type


def test_the_roster_document_may_be_the_spreadsheet(client: TestClient, auth: Http, people: People) -> None:
    app_id = draft(client, auth, people)
    url = f"{API}/applications/{app_id}/documents"
    sheet = ("elenco.xlsx", xlsx(roster_table()), "application/octet-stream")
    assert client.post(url, data={"kind": "roster"}, files={"file": sheet}, headers=auth(people.rep)).status_code == 201
    refused = client.post(url, data={"kind": "pact"}, files={"file": sheet}, headers=auth(people.rep))
    assert refused.status_code == 422 and "PDF, P7M" in refused.json()["detail"]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_documents_refuse_other_contents_and_keep_nothing(
    case: str, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft(client, auth, people)
    before = stored_files()
    response = client.post(
        f"{API}/applications/{app_id}/documents", data={"kind": "pact"}, files={"file": HOSTILE[case]},
        headers=auth(people.rep),
    )  # fmt: skip
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "dati_non_validi" and body["field"] == "file"
    assert "vuoto" in body["detail"] if case == "empty" else "PDF, P7M (firmato digitalmente)" in body["detail"]
    assert fetch(session, select(func.count()).select_from(Document)) == [0]
    assert stored_files() == before


def test_a_path_in_the_file_name_is_never_a_path(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft(client, auth, people)
    url = f"{API}/applications/{app_id}/documents"
    names = {
        "../../etc/passwd.pdf": "passwd.pdf",
        "..\\..\\Windows\\win.ini": "win.ini.pdf",
        # the HTTP client escapes quotes and line ends in the multipart header: the name arrives escaped
        '/tmp/a"b\r\nX-Finto: 1.pdf': "a%22b%0D%0AX-Finto: 1.pdf",
        "....": "documento.pdf",
        "nome.exe": "nome.exe.pdf",
    }
    for n, (name, expected) in enumerate(names.items()):
        content = PDF + str(n).encode()
        up = client.post(url, data={"kind": "other"}, files={"file": (name, content, "application/pdf")},
                         headers=auth(people.rep))  # fmt: skip
        assert up.status_code == 201, up.text
        assert up.json()["filename"] == expected
        download = client.get(up.json()["download_url"], headers=auth(people.rep))
        assert download.content == content
        disposition = download.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
        assert "\\" not in disposition and ".." not in disposition.replace(expected, "")
    root = get_settings().files_dir.resolve()
    for document in fetch(session, select(Document)):
        assert (root / document.sha256[:2] / document.sha256).is_file()
    assert not Path("/etc/passwd.pdf").exists()


# ---- roster ----------------------------------------------------------------------------------


def test_roster_accepts_csv_and_xlsx_by_content_whatever_the_name(
    client: TestClient, auth: Http, people: People
) -> None:
    app_id = draft(client, auth, people)
    url = f"{API}/applications/{app_id}/roster/file"
    as_csv = client.post(
        url, files={"file": ("elenco.xlsx", roster_csv(4), "application/pdf")}, headers=auth(people.rep)
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.json()["enterprises"] == 4
    sheet = xlsx(roster_table(5, start=6000))
    as_xlsx = client.post(url, files={"file": ("elenco.csv", sheet, "text/csv")}, headers=auth(people.rep))
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert as_xlsx.json()["enterprises"] == 5


@pytest.mark.parametrize("case", [*sorted(HOSTILE), "pdf", "p7m"])
def test_roster_refuses_other_contents_and_keeps_nothing(
    case: str, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft(client, auth, people)
    url = f"{API}/applications/{app_id}/roster/file"
    assert client.put(url.removesuffix("/file"), json={"rows": roster_rows(2)}, headers=auth(people.rep)).is_success
    upload = {"pdf": ("elenco.csv", PDF, "text/csv"), "p7m": ("elenco.csv", signed(PDF), "text/csv")}.get(case)
    before = stored_files()
    response = client.post(url, files={"file": upload or HOSTILE[case]}, headers=auth(people.rep))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"] == [{"row_no": 0, "field": "file", "value": "", "message": body["detail"]}]
    assert "vuoto" in body["detail"] if case == "empty" else "CSV, XLSX" in body["detail"]
    stored = fetch(session, select(func.count()).select_from(MemberEnterprise))
    assert stored == [2]  # the previous roster, untouched
    assert stored_files() == before


# ---- annual report attachments ---------------------------------------------------------------


def test_report_attachments_by_content(
    client: TestClient, auth: Http, people: People, clock: Clock, session: Session, profile: RegionProfile
) -> None:
    report_id = open_report(client, auth, people, clock, session, profile)
    url = f"{API}/reports/{report_id}/files"
    rep = auth(people.rep)
    accepted: list[tuple[str, bytes, str]] = [
        ("rendiconto.pdf", PDF + b"report", "application/pdf"),
        ("rendiconto.pdf.p7m", signed(PDF + b"report"), "application/pkcs7-mime"),
        ("indicatori.xlsx", xlsx([["kpi", "valore"], ["export", 38.5]]), "application/octet-stream"),
        ("indicatori", b"kpi;valore\r\nexport;38,5\r\n", "application/octet-stream"),
    ]
    for name, content, declared in accepted:
        assert client.post(url, files={"file": (name, content, declared)}, headers=rep).status_code == 201
    files = client.get(f"{API}/reports/{report_id}", headers=rep).json()["files"]
    assert [f["filename"] for f in files] == [
        "rendiconto.pdf", "rendiconto.pdf.p7m", "indicatori.xlsx", "indicatori.csv"
    ]  # fmt: skip
    types = fetch(session, select(Document.content_type).where(Document.annual_report_id == report_id))
    assert sorted(types) == sorted(t.value for t in FileType)
    count_before, files_before = len(files), stored_files()
    for case, upload in HOSTILE.items():
        refused = client.post(url, files={"file": upload}, headers=rep)
        assert refused.status_code == 422, (case, refused.text)
        if case != "empty":
            assert "PDF, P7M (firmato digitalmente), XLSX, CSV" in refused.json()["detail"]
    assert len(client.get(f"{API}/reports/{report_id}", headers=rep).json()["files"]) == count_before
    assert stored_files() == files_before


def test_upload_checks_do_not_leave_temporary_files(client: TestClient, auth: Http, people: People) -> None:
    app_id = draft(client, auth, people)
    post: Callable[[bytes], int] = lambda content: client.post(  # noqa: E731
        f"{API}/applications/{app_id}/documents", data={"kind": "pact"}, files={"file": ("a.pdf", content)},
        headers=auth(people.rep),
    ).status_code  # fmt: skip
    assert [post(EXE), post(PDF)] == [422, 201]
    assert not list(get_settings().files_dir.glob(".upload-*"))
