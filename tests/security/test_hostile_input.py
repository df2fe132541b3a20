"""Hostile input: malformed rosters (CSV and XLSX), absurd dates, huge strings, unicode edge cases.
Every one is a clear 4xx in Italian and nothing is stored."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models.application import Application
from models.district import MemberEnterprise
from tests.api_support import API, Http, People, fetch, roster_rows

HEADER = "ragione_sociale;codice_fiscale;partita_iva;ateco;addetti;regione"


def draft_with_roster(client: TestClient, auth: Http, people: People) -> int:
    app_id = int(client.post(f"{API}/applications", json={}, headers=auth(people.rep)).json()["id"])
    put = client.put(f"{API}/applications/{app_id}/roster", json={"rows": roster_rows(2)}, headers=auth(people.rep))
    assert put.status_code == 200
    return app_id


def workbook(fill: object) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if callable(fill):
        fill(book, sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_csv(delimiter: str = ";") -> bytes:
    keys = ["name", "tax_code", "vat_number", "ateco", "employees", "region"]
    lines = [HEADER.replace(";", delimiter)] + [
        delimiter.join(str(r[k]) for k in keys) for r in roster_rows(2, start=8000)
    ]
    return "\r\n".join(lines).encode()


def formulas(book: openpyxl.Workbook, sheet: object) -> None:
    sheet.append(HEADER.split(";"))  # type: ignore[attr-defined]
    sheet.append(['=HYPERLINK("http://x")', "=1+1", "=A1", "25.62", "=SUM(1,2)", "Puglia"])  # type: ignore[attr-defined]


def merged(book: openpyxl.Workbook, sheet: object) -> None:
    sheet.append(HEADER.split(";"))  # type: ignore[attr-defined]
    sheet.append(["Officina", "", "", "", "", ""])  # type: ignore[attr-defined]
    sheet.merge_cells("A2:F3")  # type: ignore[attr-defined]


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


MALFORMED = {
    "csv-wrong-delimiter": rows_csv("|"),
    "csv-header-only-bom": ("\ufeff" + HEADER + "\r\n").encode(),
    "csv-binary": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "csv-nul-bytes": HEADER.encode() + b"\r\nOfficina\x00;\x00\r\n",
    "csv-unbalanced-quotes": (HEADER + '\r\n"Officina;123\r\n').encode(),
    "xlsx-zip-not-workbook": _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"not xml"}),
    "xlsx-empty-sheet": workbook(None),
    "xlsx-formulas": workbook(formulas),
    "xlsx-merged": workbook(merged),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_rosters_are_clear_errors_and_nothing_is_stored(
    case: str, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft_with_roster(client, auth, people)
    response = client.post(
        f"{API}/applications/{app_id}/roster/file", files={"file": ("elenco", MALFORMED[case])},
        headers=auth(people.rep),
    )  # fmt: skip
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "dati_non_validi" and "nulla è stato salvato" in body["detail"]
    assert body["errors"] and all(e["message"] for e in body["errors"])
    assert fetch(session, select(func.count()).select_from(MemberEnterprise)) == [2]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 100_000,
        "\u202eRTL override\u202c " * 3,
        "emoji 🏭🇮🇹" * 2000,
        "NUL\x00byte",
    ],
)
def test_hostile_text_is_refused_or_kept_intact(
    text: str, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    """Free text: a 4xx for what is too long or carries NUL; otherwise stored exactly as sent; never a 5xx."""
    app_id = draft_with_roster(client, auth, people)
    response = client.patch(f"{API}/applications/{app_id}", json={"programme_summary": text}, headers=auth(people.rep))
    assert response.status_code < 500, response.text
    stored = fetch(session, select(Application.programme_summary).where(Application.id == app_id))[0]
    if response.status_code >= 400:
        assert response.json()["detail"] and stored != text
    else:  # NUL cannot be stored by PostgreSQL: it must be refused on every database
        assert stored == text and "\x00" not in text


@pytest.mark.parametrize("name", ["x" * 100_000, "Officina\x00", "🏭" * 300])
def test_hostile_roster_names_are_row_errors(
    name: str, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    app_id = draft_with_roster(client, auth, people)
    rows = roster_rows(2, start=9100)
    rows[1]["name"] = name
    response = client.put(f"{API}/applications/{app_id}/roster", json={"rows": rows}, headers=auth(people.rep))
    assert response.status_code == 422, response.text
    assert fetch(session, select(func.count()).select_from(MemberEnterprise)) == [2]


@pytest.mark.parametrize("year", ["0001", "9999", "99999", "-001", "2026-02-30"])
def test_absurd_dates_in_queries_are_clear(year: str, client: TestClient, auth: Http, people: People) -> None:
    headers = auth(people.official)
    for url in (
        f"{API}/stats/procedure-times?from={year}-01-01&to={year}-12-31",
        f"{API}/reports?year={year}",
        f"{API}/calendar?from={year}-01-01",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code < 500, (url, response.text)
        if response.status_code >= 400:
            assert response.json()["detail"]


def test_nul_in_a_form_or_json_is_refused_before_any_route(client: TestClient) -> None:
    api = client.post(f"{API}/auth/token", data={"username": "a\x00b", "password": "x"})
    assert api.status_code == 422 and "NUL" in api.json()["detail"]
    page = client.post("/accesso", data={"username": "a\x00b", "password": "x", "csrf_token": "t"})
    assert page.status_code == 422 and 'lang="it"' in page.text and "NUL" in page.text
    body, json_type = b'{"programme_summary": "a\\u0000b"}', {"content-type": "application/json"}
    escaped = client.post(f"{API}/applications", content=body, headers=json_type)
    assert escaped.status_code == 422 and escaped.json()["code"] == "dati_non_validi"
