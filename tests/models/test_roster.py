"""Member-enterprise roster: field checks with Italian messages, CSV and XLSX parsing, limits."""

from __future__ import annotations

import io
import time
from typing import Any

import openpyxl
import pytest

from models.roster import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    ROSTER_CSV_HEADER,
    RosterParseResult,
    parse_roster_csv,
    parse_roster_xlsx,
    validate_rows,
)

VAT = "00743110157"  # valid partita IVA (check digit ok, office 015 Milano)
VAT_2 = "00000010728"  # valid, office 072 Bari
PERSON_CF = "RCCMNL83S18D969H"


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "Meccanica Rossi S.r.l.",
        "tax_code": VAT,
        "vat_number": VAT,
        "ateco": "25.62.00",
        "employees": 12,
        "region": "Puglia",
    }
    base.update(overrides)
    return base


def only_error(result: RosterParseResult) -> str:
    assert not result.ok
    assert len(result.errors) == 1, result.errors
    return result.errors[0].message


def test_valid_rows_are_normalised() -> None:
    result = validate_rows(
        [
            row(vat_number=" it00743110157 ", tax_code=" 00743110157", name="  Meccanica   Rossi  S.r.l. "),
            row(
                vat_number=VAT_2,
                tax_code=PERSON_CF.lower(),
                ateco="2562",
                region="EMILIA ROMAGNA",
                employees="7",
            ),
        ]
    )
    assert result.ok, result.errors
    first, second = result.rows
    assert (first.row_no, first.name, first.vat_number, first.tax_code) == (
        1,
        "Meccanica Rossi S.r.l.",
        VAT,
        VAT,
    )
    assert (second.row_no, second.tax_code, second.ateco, second.region, second.employees) == (
        2,
        PERSON_CF,
        "25.62",
        "Emilia-Romagna",
        7,
    )
    assert result.total_employees == 19


@pytest.mark.parametrize(
    ("ateco", "expected"),
    [("25.62", "25.62"), ("25.62.0", "25.62.0"), ("25.62.00", "25.62.00"), ("256200", "25.62.00"),
     ("C 25.62", "25.62"), ("25,62", "25.62"), (25.1, "25.10"), (1.11, "01.11"), ("1.11", "01.11")],
)  # fmt: skip
def test_ateco_normalisation(ateco: object, expected: str) -> None:
    result = validate_rows([row(ateco=ateco)])
    assert result.ok, result.errors
    assert result.rows[0].ateco == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [("puglia", "Puglia"), ("Valle d'Aosta", "Valle d'Aosta"), ("valle d aosta", "Valle d'Aosta"),
     ("Vallée d'Aoste", "Valle d'Aosta"), ("trentino alto adige", "Trentino-Alto Adige"),
     ("Friuli Venezia Giulia", "Friuli-Venezia Giulia"), ("ESTERO", "Estero"), (" Sicilia ", "Sicilia")],
)  # fmt: skip
def test_region_normalisation(region: str, expected: str) -> None:
    result = validate_rows([row(region=region)])
    assert result.ok, result.errors
    assert result.rows[0].region == expected


def test_spreadsheet_numbers_get_leading_zeros_back() -> None:
    result = validate_rows([row(vat_number=743110157, tax_code=743110157.0, employees=12.0)])
    assert result.ok, result.errors
    assert (result.rows[0].vat_number, result.rows[0].employees) == (VAT, 12)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("vat_number", "00743110158", "partita IVA 00743110158 non valida (cifra di controllo errata)"),
        ("vat_number", "01234567891", "partita IVA 01234567891 non valida (codice dell'ufficio provinciale"),
        ("vat_number", "12345", "partita IVA 12345 non valida (deve contenere 11 cifre)"),
        ("vat_number", "ABCDEFGHILM", "non valida (deve contenere 11 cifre)"),
        ("vat_number", "٠٠٧٤٣١١٠١٥٧", "non valida (deve contenere 11 cifre)"),
        ("vat_number", None, "partita IVA mancante"),
        ("vat_number", "   ", "partita IVA mancante"),
        (
            "tax_code",
            "RCCMNL83S18D969X",
            "codice fiscale RCCMNL83S18D969X non valido (carattere di controllo",
        ),
        ("tax_code", "RCCMNL", "codice fiscale RCCMNL non valido (deve avere 11 cifre"),
        ("tax_code", VAT, f"codice fiscale {VAT} non coincide con la partita IVA {VAT_2}"),
        ("ateco", "25.1", "codice ATECO 25.1 incompleto"),
        ("ateco", "04.11", "la divisione 04 non esiste"),
        ("ateco", "meccanica", "codice ATECO meccanica non valido"),
        ("employees", -3, "numero di addetti -3 non valido (non può essere negativo)"),
        ("employees", "dodici", "numero di addetti dodici non valido"),
        ("employees", 2.5, "valore 2.5 non ammesso per numero di addetti"),
        ("employees", True, "valore non ammesso per numero di addetti"),
        ("employees", 10**12, "non plausibile"),
        ("region", "Lombardy", "regione «Lombardy» non riconosciuta"),
        ("region", ["Puglia"], "valore non ammesso per regione"),
        ("name", "", "ragione sociale mancante"),
        ("name", "x" * 100_000, "ragione sociale troppo lunga (100000 caratteri"),
        ("name", "Rossi\x00 S.r.l.", "caratteri di controllo"),
        ("name", {"a": 1}, "valore non ammesso per ragione sociale"),
    ],
)
def test_bad_field_gives_italian_message_naming_the_row(field: str, value: object, fragment: str) -> None:
    second = row(vat_number=VAT_2, tax_code=VAT_2)
    second[field] = value
    result = validate_rows([row(), second])
    assert [r.row_no for r in result.rows] == [1]
    message = only_error(result)
    assert message.startswith("Riga 2: ")
    assert fragment in message
    assert result.errors[0].row_no == 2
    assert result.errors[0].field == field
    assert len(result.errors[0].value) <= 100


def test_all_errors_of_all_rows_are_reported() -> None:
    bad = {"name": None, "tax_code": "x", "vat_number": "y", "ateco": "z", "employees": "w", "region": "v"}
    rows: list[Any] = [bad, row(), "not a row", None, {}]
    result = validate_rows(rows)
    assert [r.row_no for r in result.rows] == [2]
    assert [e.field for e in result.errors if e.row_no == 1] == [
        "name", "tax_code", "vat_number", "ateco", "employees", "region",
    ]  # fmt: skip
    assert [(e.row_no, e.field) for e in result.errors if e.row_no in (3, 4)] == [(3, "row"), (4, "row")]
    assert len([e for e in result.errors if e.row_no == 5]) == 6
    assert all(e.message.startswith(f"Riga {e.row_no}: ") for e in result.errors)


def test_duplicate_vat_flagged_on_second_row() -> None:
    result = validate_rows([row(), row(vat_number=VAT_2, tax_code=VAT_2), row(vat_number="IT" + VAT)])
    assert [r.row_no for r in result.rows] == [1, 2]
    message = only_error(result)
    assert message == f"Riga 3: partita IVA {VAT} già presente alla riga 1 (impresa duplicata)"


def test_duplicate_personal_tax_code_flagged() -> None:
    result = validate_rows([row(tax_code=PERSON_CF), row(vat_number=VAT_2, tax_code=PERSON_CF)])
    assert "codice fiscale RCCMNL83S18D969H già presente alla riga 1" in only_error(result)


def test_bad_top_level_input_does_not_crash() -> None:
    assert "lista" in only_error(validate_rows(None))  # type: ignore[arg-type]
    assert "vuoto" in only_error(validate_rows([]))
    assert "troppe righe" in only_error(validate_rows([row()] * (MAX_ROWS + 1)))


def csv_bytes(lines: list[str], delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    return "\r\n".join(line.replace("|", delimiter) for line in lines).encode(encoding)


GOOD_LINES = [
    "Ragione Sociale|Codice Fiscale|P.IVA|Codice ATECO|Addetti|Regione sede operativa|Note",
    f"Meccanica Rossi S.r.l.|{VAT}|{VAT}|25.62|12|Puglia|",
    f"Tessitura Città S.n.c.|{VAT_2}|IT{VAT_2}|13.20.00|3|Basilicata|cliente storico",
]


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [
        (";", "utf-8"),
        (",", "utf-8"),
        (";", "utf-8-sig"),
        (",", "utf-8-sig"),
        (";", "latin-1"),
        ("\t", "utf-16"),
    ],
)
def test_csv_delimiters_and_encodings(delimiter: str, encoding: str) -> None:
    result = parse_roster_csv(csv_bytes(GOOD_LINES, delimiter, encoding))
    assert result.ok, result.errors
    assert [r.row_no for r in result.rows] == [1, 2]
    assert result.rows[1].name == "Tessitura Città S.n.c."
    assert result.rows[1].vat_number == VAT_2


def test_csv_canonical_header_excel_hint_and_blank_lines() -> None:
    lines = ["sep=;", ROSTER_CSV_HEADER, "", f"Rossi S.r.l.;{VAT};{VAT};25.62;12;Puglia", ";;;;;", ""]
    result = parse_roster_csv(csv_bytes(lines))
    assert result.ok, result.errors
    assert result.rows[0].row_no == 2  # the blank line still counts as a row the user sees


def test_csv_bad_row_names_the_data_row() -> None:
    lines = [*GOOD_LINES, f"Pastificio Bianchi|{VAT}|00743110158|10.73|4|Puglia"]
    result = parse_roster_csv(csv_bytes(lines))
    assert len(result.rows) == 2
    assert only_error(result).startswith("Riga 3: partita IVA 00743110158 non valida (cifra di controllo errata)")


def test_csv_short_row_reports_missing_fields() -> None:
    result = parse_roster_csv(csv_bytes([ROSTER_CSV_HEADER, f"Rossi S.r.l.;{VAT};{VAT}"]))
    assert [e.field for e in result.errors] == ["ateco", "employees", "region"]
    assert result.errors[0].message == "Riga 1: codice ATECO mancante"


def test_csv_missing_columns_single_error() -> None:
    result = parse_roster_csv(csv_bytes(["ragione sociale;partita iva;regione", f"Rossi;{VAT};Puglia"]))
    message = only_error(result)
    assert result.errors[0].row_no == 0
    assert "mancano le colonne obbligatorie: codice fiscale, codice ATECO, addetti" in message


def test_csv_duplicate_column() -> None:
    result = parse_roster_csv(csv_bytes([ROSTER_CSV_HEADER + ";denominazione"]))
    assert "compare più volte" in only_error(result)


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", "\ufeff".encode()])
def test_csv_empty_file(data: bytes) -> None:
    assert "Il file è vuoto" in only_error(parse_roster_csv(data))


def test_csv_header_only() -> None:
    assert "nessuna impresa" in only_error(parse_roster_csv(ROSTER_CSV_HEADER.encode()))


def test_csv_garbage_does_not_crash() -> None:
    for data in (bytes(range(256)) * 50, b'"' + b"x" * 200_000, b"\x00\x00;\x00"):
        assert not parse_roster_csv(data).ok


def test_csv_too_many_rows() -> None:
    line = f"Rossi S.r.l.;{VAT};{VAT};25.62;1;Puglia"
    result = parse_roster_csv(csv_bytes([ROSTER_CSV_HEADER] + [line] * (MAX_ROWS + 1)))
    assert "troppe righe" in only_error(result)
    assert "10,000" in result.errors[0].message or "10.000" in result.errors[0].message


def test_csv_blank_lines_count_towards_the_row_limit() -> None:
    """20 MB of blank lines is refused at line 11,001, quickly, without a list of 20 million lines."""
    data = csv_bytes([ROSTER_CSV_HEADER]) + b"\r\n;;\r\n" * (7 * 1024 * 1024)
    started = time.monotonic()
    message = only_error(parse_roster_csv(data[:MAX_FILE_BYTES]))
    assert time.monotonic() - started < 3.0
    assert message.startswith("Il file contiene troppe righe (più di 11.000, contando anche le righe vuote)")


def test_csv_huge_line_and_too_many_columns() -> None:
    long_line = csv_bytes([ROSTER_CSV_HEADER, "x" * 150_000])
    assert "riga troppo lunga (riga 2 del file, più di 100.000 caratteri)" in only_error(parse_roster_csv(long_line))
    wide = csv_bytes([ROSTER_CSV_HEADER, ";" * 5_000])
    assert "La riga 2 del file contiene troppe colonne (5.001, massimo 1.000)" in only_error(parse_roster_csv(wide))


def test_csv_old_mac_line_ends() -> None:
    result = parse_roster_csv("\r".join(GOOD_LINES).replace("|", ";").encode())
    assert result.ok and [r.row_no for r in result.rows] == [1, 2]


def xlsx_bytes(table: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for cells in table:
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_round_trip_with_numeric_cells() -> None:
    data = xlsx_bytes(
        [
            ["Denominazione", "Codice fiscale", "Partita IVA", "ATECO", "Dipendenti", "Regione"],
            ["Meccanica Rossi S.r.l.", VAT, VAT, "25.62.00", 12, "Puglia"],
            [None, None, None, None, None, None],
            ["Officine Bianchi S.p.A.", 10728, 10728, 28.4, 5.0, "lombardia"],
            ["Bad S.r.l.", VAT, VAT, "25.62", -1, "Marte"],
        ]
    )
    result = parse_roster_xlsx(data)
    assert [(r.row_no, r.vat_number, r.ateco, r.employees, r.region) for r in result.rows] == [
        (1, VAT, "25.62.00", 12, "Puglia"),
        (3, VAT_2, "28.40", 5, "Lombardia"),
    ]
    assert [(e.row_no, e.field) for e in result.errors] == [
        (4, "employees"),
        (4, "region"),
        (4, "vat_number"),
    ]


def test_xlsx_missing_columns_and_empty_sheet() -> None:
    assert only_error(parse_roster_xlsx(xlsx_bytes([["Nome", "Regione"]]))).startswith(
        "Nell'intestazione del file mancano le colonne obbligatorie: codice fiscale, partita IVA"
    )
    assert "Il file è vuoto" in only_error(parse_roster_xlsx(xlsx_bytes([])))


@pytest.mark.parametrize("data", [b"", b"not an excel file", b"PK\x03\x04garbage" * 10, csv_bytes(GOOD_LINES)])
def test_xlsx_garbage_is_a_clear_error(data: bytes) -> None:
    message = only_error(parse_roster_xlsx(data))
    assert "non è un foglio Excel .xlsx valido" in message
