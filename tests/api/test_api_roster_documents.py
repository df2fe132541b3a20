"""Roster (JSON, CSV, XLSX): every bad row named, nothing stored. Documents: storage, limits, download."""

from __future__ import annotations

import hashlib
import io

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.main import create_app
from models.application import Document
from models.district import MemberEnterprise
from registro.settings import get_settings
from tests.api_support import API, Http, People, fetch, roster_rows


def _draft(client: TestClient, auth: Http, people: People) -> int:
    return int(client.post(f"{API}/applications", json={}, headers=auth(people.rep)).json()["id"])


def test_roster_json_replaces_the_whole_roster(client: TestClient, auth: Http, people: People) -> None:
    app_id = _draft(client, auth, people)
    url = f"{API}/applications/{app_id}/roster"
    first = client.put(url, json={"rows": roster_rows(60)}, headers=auth(people.rep))
    assert first.status_code == 200 and first.json()["enterprises"] == 60 and first.json()["employees"] == 180
    second = client.put(url, json={"rows": roster_rows(2, employees=10, start=5000)}, headers=auth(people.rep))
    assert second.json()["enterprises"] == 2
    read = client.get(url, headers=auth(people.rep)).json()
    assert [r["row_no"] for r in read["rows"]] == [1, 2] and read["employees"] == 20
    assert client.get(url, headers=auth(people.official)).status_code == 404  # a draft's roster: the district's


def test_bad_rows_are_all_named_and_nothing_is_stored(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = _draft(client, auth, people)
    url = f"{API}/applications/{app_id}/roster"
    client.put(url, json={"rows": roster_rows(3)}, headers=auth(people.rep))
    rows = roster_rows(6, start=7000)
    rows[1]["vat_number"] = "12345678901"  # wrong check digit
    rows[3]["employees"] = "molti"
    rows[4]["name"] = ""
    rows[5]["vat_number"] = rows[0]["vat_number"]  # the same enterprise twice
    rows[5]["tax_code"] = rows[0]["tax_code"]
    response = client.put(url, json={"rows": rows}, headers=auth(people.rep))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "dati_non_validi" and "nulla è stato salvato" in body["detail"]
    named = {(e["row_no"], e["field"]) for e in body["errors"]}
    assert {2, 4, 5, 6} == {row for row, _ in named}
    assert (2, "vat_number") in named and (4, "employees") in named and (5, "name") in named
    assert all(e["message"] for e in body["errors"])
    stored = fetch(session, select(MemberEnterprise).where(MemberEnterprise.application_id == app_id))
    assert len(stored) == 3  # the previous roster, untouched


def test_roster_csv_and_xlsx_files(client: TestClient, auth: Http, people: People) -> None:
    app_id = _draft(client, auth, people)
    url = f"{API}/applications/{app_id}/roster/file"
    rows = roster_rows(4)
    header = ["name", "tax_code", "vat_number", "ateco", "employees", "region"]
    csv_text = ";".join(header) + "\n" + "\n".join(";".join(str(r[h]) for h in header) for r in rows) + "\n"
    csv_ok = client.post(url, files={"file": ("elenco.csv", csv_text.encode(), "text/csv")}, headers=auth(people.rep))
    assert csv_ok.status_code == 200, csv_ok.text
    assert csv_ok.json()["enterprises"] == 4
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for r in roster_rows(5, start=3000):
        sheet.append([r[h] for h in header])
    sheet.append(["Ditta senza partita IVA", "", "", "25.62", 3, "Puglia"])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = ("elenco.xlsx", buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    bad = client.post(url, files={"file": xlsx}, headers=auth(people.rep))
    assert bad.status_code == 422 and {e["row_no"] for e in bad.json()["errors"]} == {6}
    assert client.get(f"{API}/applications/{app_id}/roster", headers=auth(people.rep)).json()["enterprises"] == 4
    garbage = client.post(
        url, files={"file": ("x.xlsx", b"PK\x03\x04 rotto", "application/zip")}, headers=auth(people.rep)
    )
    assert garbage.status_code == 422, garbage.text
    assert garbage.json()["errors"][0]["field"] == "file" and garbage.json()["errors"][0]["row_no"] == 0


def test_document_upload_is_stored_by_hash_and_downloadable(
    client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = _draft(client, auth, people)
    content = b"%PDF-1.4 patto di distretto"
    files = {"file": ("../../etc/passwd", content, "application/pdf")}
    response = client.post(
        f"{API}/applications/{app_id}/documents", data={"kind": "pact"}, files=files, headers=auth(people.rep)
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    sha = hashlib.sha256(content).hexdigest()
    assert doc["sha256"] == sha and doc["size"] == len(content) and doc["kind_label"] == "patto di distretto"
    assert doc["filename"] == "passwd.pdf"  # the extension tells the truth about the content
    stored = get_settings().files_dir / sha[:2] / sha
    assert stored.read_bytes() == content
    assert not list(get_settings().files_dir.glob(".upload-*"))
    download = client.get(doc["download_url"], headers=auth(people.rep))
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "application/pdf"
    for user in (people.other_rep, people.official_agri, people.official):  # a draft's document: 404
        assert client.get(doc["download_url"], headers=auth(user)).status_code == 404
    other_url = doc["download_url"].replace(f"/documents/{doc['id']}/", "/documents/999999/")
    assert client.get(other_url, headers=auth(people.rep)).status_code == 404
    listed = client.get(f"{API}/applications/{app_id}/documents", headers=auth(people.rep)).json()
    assert [d["id"] for d in listed] == [doc["id"]]
    assert fetch(session, select(Document.uploaded_by_id)) == [people.rep.id]


def test_document_errors(client: TestClient, auth: Http, people: People) -> None:
    app_id = _draft(client, auth, people)
    url = f"{API}/applications/{app_id}/documents"
    pdf = {"file": ("a.pdf", b"%PDF", "application/pdf")}
    outbound = client.post(url, data={"kind": "recognition_act"}, files=pdf, headers=auth(people.rep))
    assert outbound.status_code == 422 and outbound.json()["field"] == "kind"
    unknown = client.post(url, data={"kind": "fattura"}, files=pdf, headers=auth(people.rep))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "kind"
    no_file = client.post(url, data={"kind": "pact"}, headers=auth(people.rep))
    assert no_file.status_code == 422 and no_file.json()["errors"][0] == {
        "field": "file",
        "location": "body",
        "reason": "campo obbligatorio",
    }
    empty = client.post(
        url, data={"kind": "pact"}, files={"file": ("a.pdf", b"", "application/pdf")}, headers=auth(people.rep)
    )
    assert empty.status_code == 422
    official = client.post(url, data={"kind": "pact"}, files=pdf, headers=auth(people.official))
    assert official.status_code == 404  # a draft: not even found


@pytest.fixture
def small_app(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 4096)
    small = create_app()
    small.dependency_overrides = app.dependency_overrides
    return small


def test_upload_too_big_is_413(small_app: FastAPI, auth: Http, people: People, session: Session) -> None:
    client = TestClient(small_app)
    auth.client = client
    app_id = _draft(client, auth, people)
    url = f"{API}/applications/{app_id}/documents"
    declared = client.post(
        url, data={"kind": "pact"}, files={"file": ("a.pdf", b"x" * 200_000)}, headers=auth(people.rep)
    )
    assert declared.status_code == 413 and declared.json()["code"] == "file_troppo_grande"
    # within the declared margin but over the limit: refused while reading, nothing kept
    streamed = client.post(url, data={"kind": "pact"}, files={"file": ("a.pdf", b"y" * 5000)}, headers=auth(people.rep))
    assert streamed.status_code == 413 and "dimensione massima" in streamed.json()["detail"]
    roster = client.post(
        f"{API}/applications/{app_id}/roster/file", files={"file": ("r.csv", b"z" * 5000)}, headers=auth(people.rep)
    )
    assert roster.status_code == 413
    assert fetch(session, select(Document)) == []
    assert not list(get_settings().files_dir.glob(".upload-*"))


def test_one_roster_file_per_user_is_parsed_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's second file while the first is read gets 429 at once; another user's goes on."""
    import threading

    import anyio
    from fastapi import FastAPI
    from starlette.requests import Request

    from api.errors import TooManyAttempts
    from api.routers import roster

    release = threading.Event()
    parsed: list[str] = []

    def slow_read(file: object) -> str:
        release.wait(10)
        parsed.append(str(file))
        return str(file)

    monkeypatch.setattr(roster, "read_roster_file", slow_read)
    request = Request({"type": "http", "app": FastAPI(), "headers": []})

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(roster.parse_in_turn, request, "primo", 7)
            await anyio.sleep(0.1)
            with pytest.raises(TooManyAttempts, match="già in lettura"):
                await roster.parse_in_turn(request, "secondo", 7)  # type: ignore[arg-type]
            group.start_soon(roster.parse_in_turn, request, "altrui", 8)
            await anyio.sleep(0.1)
            release.set()
        assert await roster.parse_in_turn(request, "terzo", 7) == "terzo"  # type: ignore[arg-type]

    anyio.run(scenario)
    assert sorted(parsed) == ["altrui", "primo", "terzo"]
