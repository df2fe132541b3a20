"""Member-enterprise roster (elenco delle imprese aderenti): validation of rows, CSV and XLSX files.

Pure module, no database. Every bad row is reported with an Italian message naming the row; a bad row
is never dropped silently and bad input never raises. Check digits come from python-stdnum.

A file is read within bounds that hold before any blank row is skipped (issue 15): at most
``MAX_TABLE_ROWS`` rows by position, blank ones included, and ``MAX_ROW_CELLS`` cells a row; a CSV line
of at most ``MAX_LINE_CHARS`` characters, never split into a list of all its lines; an XLSX through
``models.xlsx`` (inflated bytes, shared strings, cells). The API parses outside any database
transaction (``api.routers.roster``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

from pydantic import BaseModel, Field
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.it import codicefiscale, iva

from models.xlsx import Limits, SheetRefused, Unreadable, first_sheet_rows, thousands

MAX_ROWS = 10_000
MAX_TABLE_ROWS = MAX_ROWS + 1_000  # rows of a file by position: the header, blank rows and a margin
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_COLUMNS = 200  # columns read; cells further right are ignored
MAX_ROW_CELLS = 1_000  # cells a row may have at all
MAX_LINE_CHARS = 100_000  # a CSV line (a quoted field may span lines: csv's own limit is 131,072 characters)
SHEET_LIMITS = Limits(rows=MAX_TABLE_ROWS, columns=MAX_COLUMNS, row_cells=MAX_ROW_CELLS)
MAX_NAME_LEN = 250
MAX_EMPLOYEES = 1_000_000

FIELDS: tuple[str, ...] = ("name", "tax_code", "vat_number", "ateco", "employees", "region")
ROSTER_COLUMNS: tuple[str, ...] = (
    "ragione_sociale",
    "codice_fiscale",
    "partita_iva",
    "ateco",
    "addetti",
    "regione",
)
ROSTER_CSV_HEADER = ";".join(ROSTER_COLUMNS)
FIELD_LABELS: dict[str, str] = {
    "name": "ragione sociale",
    "tax_code": "codice fiscale",
    "vat_number": "partita IVA",
    "ateco": "codice ATECO",
    "employees": "addetti",
    "region": "regione",
}

REGIONS: tuple[str, ...] = (
    "Abruzzo", "Basilicata", "Calabria", "Campania", "Emilia-Romagna", "Friuli-Venezia Giulia", "Lazio",
    "Liguria", "Lombardia", "Marche", "Molise", "Piemonte", "Puglia", "Sardegna", "Sicilia", "Toscana",
    "Trentino-Alto Adige", "Umbria", "Valle d'Aosta", "Veneto",
)  # fmt: skip
ABROAD = "Estero"

# ATECO 2007 / 2025 divisions (NACE Rev. 2 / 2.1): the first two digits must be one of these
_ATECO_DIVISION_RANGES = (
    (1, 3), (5, 33), (35, 39), (41, 43), (45, 47), (49, 53), (55, 56), (58, 66), (68, 75), (77, 82), (84, 88), (90, 99),
)  # fmt: skip
_ATECO_DIVISIONS = frozenset(d for first, last in _ATECO_DIVISION_RANGES for d in range(first, last + 1))


def _fold(text: str) -> str:
    """Lower-case, accents removed, only letters and digits: the key for lenient matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


_REGION_KEYS: dict[str, str] = {_fold(r): r for r in (*REGIONS, ABROAD)}
_REGION_KEYS.update(
    {
        _fold(alias): official
        for alias, official in {
            "Trentino-Alto Adige/Südtirol": "Trentino-Alto Adige",
            "Trentino": "Trentino-Alto Adige",
            "Alto Adige": "Trentino-Alto Adige",
            "Südtirol": "Trentino-Alto Adige",
            "Valle d'Aosta/Vallée d'Aoste": "Valle d'Aosta",
            "Vallée d'Aoste": "Valle d'Aosta",
            "Val d'Aosta": "Valle d'Aosta",
            "Friuli": "Friuli-Venezia Giulia",
            "Emilia Romagna": "Emilia-Romagna",
        }.items()
    }
)

_HEADER_ALIASES: dict[str, str] = {
    _fold(alias): field
    for field, aliases in {
        "name": ("ragione sociale", "denominazione", "nome", "impresa", "denominazione impresa", "name"),
        "tax_code": ("codice fiscale", "cf", "c.f.", "cod. fiscale", "tax_code"),
        "vat_number": ("partita iva", "p.iva", "p. iva", "piva", "partita iva impresa", "vat_number"),
        "ateco": (
            "ateco",
            "codice ateco",
            "ateco 2007",
            "ateco 2025",
            "codice ateco 2007",
            "codice ateco 2025",
        ),
        "employees": (
            "addetti",
            "dipendenti",
            "numero addetti",
            "n. addetti",
            "numero dipendenti",
            "employees",
        ),
        "region": ("regione", "regione sede operativa", "regione della sede operativa", "region"),
    }.items()
    for alias in aliases
}


class RosterRow(BaseModel):
    """One valid member enterprise. `row_no` is the 1-based data row (header excluded)."""

    row_no: int
    name: str
    tax_code: str
    vat_number: str
    ateco: str
    employees: int = Field(ge=0)
    region: str


class RosterError(BaseModel):
    """One problem, with a message in Italian for the district representative. row_no 0 = whole file."""

    row_no: int
    field: str
    value: str
    message: str


class RosterParseResult(BaseModel):
    rows: list[RosterRow] = Field(default_factory=list)
    errors: list[RosterError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_employees(self) -> int:
        return sum(r.employees for r in self.rows)


class _Bad(Exception):
    """A field value is invalid; the argument is the Italian explanation (after "Riga N: ")."""


def _show(value: object, limit: int = 40) -> str:
    text = "" if value is None else str(value) if not isinstance(value, str) else value
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: object, label: str) -> str:
    """The value as stripped text; numbers from spreadsheets become their integer digits."""
    if value is None:
        raise _Bad(f"{label} mancante")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad(f"valore non ammesso per {label} (atteso un testo o un numero)")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Bad(f"valore {_show(value)} non ammesso per {label}")
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        raise _Bad(f"{label} mancante")
    return text


def _check_name(value: object) -> str:
    text = " ".join(_text(value, "ragione sociale").split())
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise _Bad("ragione sociale non valida (contiene caratteri di controllo)")
    if len(text) > MAX_NAME_LEN:
        raise _Bad(f"ragione sociale troppo lunga ({len(text)} caratteri, massimo {MAX_NAME_LEN})")
    if not any(c.isalnum() for c in text):
        raise _Bad(f"ragione sociale «{_show(text)}» non valida")
    return text


def _digits_only(value: object, label: str) -> str:
    """Upper-cased, spaces removed; integers from spreadsheets get back their leading zeros."""
    text = re.sub(r"[\s\-.]", "", _text(value, label)).upper()
    numeric_cell = isinstance(value, int | float) and not isinstance(value, bool)
    if text.isascii() and text.isdigit() and (numeric_cell or 8 <= len(text) < 11) and len(text) < 11:
        text = text.zfill(11)  # Excel drops the leading zeros of numeric cells (also when saving as CSV)
    return text


def _check_vat(value: object) -> str:
    text = _digits_only(value, "partita IVA")
    if text.startswith("IT"):
        text = text[2:].lstrip()
    shown = _show(value)
    if len(text) != 11 or not (text.isascii() and text.isdigit()):
        raise _Bad(f"partita IVA {shown} non valida (deve contenere 11 cifre)")
    try:
        return str(iva.validate(text))
    except InvalidChecksum:
        raise _Bad(f"partita IVA {shown} non valida (cifra di controllo errata)") from None
    except InvalidComponent:
        raise _Bad(f"partita IVA {shown} non valida (codice dell'ufficio provinciale inesistente)") from None
    except ValidationError:
        raise _Bad(f"partita IVA {shown} non valida") from None


def _check_tax_code(value: object) -> str:
    text = _digits_only(value, "codice fiscale")
    shown = _show(value)
    if len(text) not in (11, 16):
        raise _Bad(
            f"codice fiscale {shown} non valido (deve avere 11 cifre per le società "
            "o 16 caratteri per le persone fisiche)"
        )
    try:
        return str(codicefiscale.validate(text))
    except InvalidChecksum:
        raise _Bad(f"codice fiscale {shown} non valido (carattere di controllo errato)") from None
    except InvalidFormat:
        raise _Bad(f"codice fiscale {shown} non valido (formato errato)") from None
    except InvalidComponent:
        what = "codice dell'ufficio provinciale" if len(text) == 11 else "data di nascita"
        raise _Bad(f"codice fiscale {shown} non valido ({what} inesistente)") from None
    except (InvalidLength, ValidationError):
        raise _Bad(f"codice fiscale {shown} non valido") from None


def _check_ateco(value: object) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        value = f"{value:05.2f}"  # a numeric spreadsheet cell: 25.1 was typed as 25.10, 1.1 as 01.10
    text = _text(value, "codice ATECO")
    shown = _show(value)
    code = re.sub(r"^[A-Ua-u]\s*[-.]?\s*(?=\d)", "", text).replace(",", ".")
    if re.fullmatch(r"\d{2,6}", code):
        digits = code
    else:
        match = re.fullmatch(r"(\d{1,2})(?:\.(\d{1,2})(?:\.(\d{1,2}))?)?", code)
        if match is None or (match[3] is not None and len(match[2]) != 2):
            raise _Bad(f"codice ATECO {shown} non valido (formato atteso, ad esempio, 25.62 o 25.62.00)")
        digits = match[1].zfill(2) + (match[2] or "") + (match[3] or "")
    if len(digits) < 4:
        raise _Bad(f"codice ATECO {shown} incompleto (indicare almeno la classe, ad esempio 25.62)")
    if int(digits[:2]) not in _ATECO_DIVISIONS:
        raise _Bad(f"codice ATECO {shown} non valido (la divisione {digits[:2]} non esiste)")
    return ".".join(part for part in (digits[:2], digits[2:4], digits[4:6]) if part)


def _check_employees(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value, "numero di addetti").replace(" ", "")
        if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):  # Italian thousands separator: 1.250
            text = text.replace(".", "")
        text = re.sub(r"[.,]0+$", "", text)
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise _Bad(f"numero di addetti {_show(value)} non valido (indicare un numero intero, es. 12)")
        number = int(text)
    if number < 0:
        raise _Bad(f"numero di addetti {_show(value)} non valido (non può essere negativo)")
    if number > MAX_EMPLOYEES:
        raise _Bad(f"numero di addetti {_show(value)} non plausibile (massimo {thousands(MAX_EMPLOYEES)})")
    return number


def _check_region(value: object) -> str:
    text = _text(value, "regione")
    region = _REGION_KEYS.get(_fold(text)) if len(text) < 100 else None
    if region is None:
        raise _Bad(
            f"regione «{_show(value)}» non riconosciuta (indicare una delle 20 regioni italiane, "
            "ad esempio Puglia o Emilia-Romagna, oppure Estero)"
        )
    return region


_CHECKS = {
    "name": _check_name,
    "tax_code": _check_tax_code,
    "vat_number": _check_vat,
    "ateco": _check_ateco,
    "employees": _check_employees,
    "region": _check_region,
}


def _file_error(field: str, value: str, message: str) -> RosterParseResult:
    return RosterParseResult(errors=[RosterError(row_no=0, field=field, value=value, message=message)])


def _too_many(count: int) -> RosterParseResult:
    return _file_error(
        "file", str(count), f"Il file contiene troppe righe ({count}): il massimo è {thousands(MAX_ROWS)} imprese."
    )


def _row_error(row_no: int, field: str, value: str, message: str) -> RosterError:
    return RosterError(row_no=row_no, field=field, value=value, message=f"Riga {row_no}: {message}")


def _validate(records: Iterable[tuple[int, object]]) -> RosterParseResult:
    result = RosterParseResult()
    seen_vat: dict[str, int] = {}
    seen_tax: dict[str, int] = {}
    for row_no, record in records:
        if not isinstance(record, Mapping):
            result.errors.append(
                RosterError(
                    row_no=row_no,
                    field="row",
                    value=_show(record),
                    message=f"Riga {row_no}: riga non valida (attesi i campi {', '.join(FIELDS)})",
                )
            )
            continue
        values: dict[str, Any] = {}
        row_errors: list[RosterError] = []
        for field, check in _CHECKS.items():
            raw = record.get(field)
            try:
                values[field] = check(raw)
            except _Bad as bad:
                row_errors.append(_row_error(row_no, field, _show(raw, 100), str(bad)))
        vat, tax = values.get("vat_number"), values.get("tax_code")
        if vat and tax and len(tax) == 11 and tax != vat and tax[0] not in "89":
            # companies: numeric tax code = VAT number (8/9... codes of consortia and bodies may differ)
            message = f"il codice fiscale {tax} non coincide con la partita IVA {vat}"
            row_errors.append(_row_error(row_no, "tax_code", tax, message))
        for field, code, seen in (("vat_number", vat, seen_vat), ("tax_code", tax, seen_tax)):
            if not code or (field == "tax_code" and code == vat):
                continue
            if code in seen:
                message = f"{FIELD_LABELS[field]} {code} già presente alla riga {seen[code]} (impresa duplicata)"
                row_errors.append(_row_error(row_no, field, code, message))
            else:
                seen[code] = row_no
        if row_errors:
            result.errors.extend(row_errors)
        else:
            result.rows.append(RosterRow(row_no=row_no, **values))
    return result


def validate_rows(raw: list[dict[str, object]]) -> RosterParseResult:
    """Validate already-parsed rows (keys: name, tax_code, vat_number, ateco, employees, region)."""
    if not isinstance(raw, list | tuple):
        return _file_error("rows", _show(raw), "L'elenco delle imprese deve essere una lista di righe.")
    if not raw:
        return _file_error("rows", "", "L'elenco delle imprese è vuoto.")
    if len(raw) > MAX_ROWS:
        return _too_many(len(raw))
    return _validate(enumerate(raw, start=1))


def _map_header(cells: Iterable[object]) -> tuple[dict[str, int], RosterParseResult | None]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _HEADER_ALIASES.get(_fold(str(cell))) if cell is not None and len(str(cell)) < 100 else None
        if field is None:
            continue  # extra columns (note, PEC, ...) are ignored
        if field in columns:
            return columns, _file_error(
                "header",
                _show(cell),
                f"La colonna «{FIELD_LABELS[field]}» compare più volte nell'intestazione: lasciarne una sola.",
            )
        columns[field] = index
    missing = [FIELD_LABELS[f] for f in FIELDS if f not in columns]
    if missing:
        return columns, _file_error(
            "header",
            ", ".join(missing),
            "Nell'intestazione del file mancano le colonne obbligatorie: "
            f"{', '.join(missing)}. Intestazione attesa: {ROSTER_CSV_HEADER}",
        )
    return columns, None


def _from_table(table: Iterable[tuple[int, Any]]) -> RosterParseResult:
    """table: (index, cells) pairs, the index being the row's position in the file (from 0, blank rows
    counted), the first non-blank row being the header."""
    header_at: int | None = None
    columns: dict[str, int] = {}
    records: list[tuple[int, dict[str, object]]] = []
    for index, cells in table:
        if index >= MAX_TABLE_ROWS:
            return _file_error(
                "file",
                "",
                f"Il file contiene troppe righe (più di {thousands(MAX_TABLE_ROWS)}, contando anche le righe "
                f"vuote): il massimo è {thousands(MAX_ROWS)} imprese. Eliminare le righe vuote in fondo all'elenco.",
            )
        if len(cells) > MAX_ROW_CELLS:
            return _file_error(
                "file",
                str(len(cells)),
                f"La riga {index + 1} del file contiene troppe colonne ({thousands(len(cells))}, "
                f"massimo {thousands(MAX_ROW_CELLS)}): lasciare solo le colonne dell'elenco.",
            )
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        if header_at is None:
            header_at = index
            columns, error = _map_header(cells)
            if error is not None:
                return error
            continue
        if len(records) >= MAX_ROWS:
            return _too_many(MAX_ROWS + 1)
        records.append((index - header_at, {f: cells[i] if i < len(cells) else None for f, i in columns.items()}))
    if header_at is None:
        return _file_error("file", "", "Il file è vuoto: manca l'intestazione e l'elenco delle imprese.")
    if not records:
        return _file_error("file", "", "Il file contiene solo l'intestazione: nessuna impresa nell'elenco.")
    return _validate(records)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _LineTooLong(Exception):
    """A CSV line longer than MAX_LINE_CHARS; the argument is its number."""


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str, start: int) -> Iterator[str]:
    """The lines of ``text`` from ``start``, ends kept, one at a time (``splitlines`` would hold all of
    them at once: a 20 MB file of short lines is some 400 MB of strings)."""
    for number, match in enumerate(_LINE.finditer(text, start), start=1):
        if match.end() - match.start() > MAX_LINE_CHARS:
            raise _LineTooLong(number)
        yield match.group()


def parse_roster_csv(data: bytes) -> RosterParseResult:
    """A CSV roster with a header row; `;` or `,` (or tab) delimited; UTF-8 (BOM or not) or Latin-1."""
    if not isinstance(data, bytes | bytearray):
        return _file_error("file", "", "Il file CSV non è leggibile.")
    if len(data) > MAX_FILE_BYTES:
        return _file_error("file", str(len(data)), f"Il file è troppo grande (massimo {MAX_FILE_BYTES // 2**20} MB).")
    text = _decode(bytes(data)).replace("\x00", "")
    start = re.compile(r"\s*").match(text).end()  # type: ignore[union-attr]
    first_line = next(_LINE.finditer(text, start), None)
    if first_line is None:
        return _file_error("file", "", "Il file è vuoto: manca l'intestazione e l'elenco delle imprese.")
    first = text[first_line.start() : min(first_line.end(), first_line.start() + 1000)].strip()
    if re.fullmatch(r"sep=.", first, flags=re.IGNORECASE):  # Excel's delimiter hint line
        delimiter = first[4]
        start = first_line.end()
    else:
        delimiter = max(";,\t", key=first.count)
    lines = _lines(text, start)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        return _from_table(enumerate(reader))
    except _LineTooLong as exc:
        return _file_error(
            "file",
            "",
            f"Il file CSV contiene una riga troppo lunga (riga {exc.args[0]} del file, più di "
            f"{thousands(MAX_LINE_CHARS)} caratteri): salvarlo come CSV con separatore punto e virgola.",
        )
    except csv.Error as exc:
        return _file_error(
            "file",
            "",
            f"Il file CSV non è leggibile (riga {reader.line_num} del file): {exc}. "
            "Salvarlo come CSV con separatore punto e virgola.",
        )


def parse_roster_xlsx(data: bytes | BinaryIO) -> RosterParseResult:
    """An Excel roster (.xlsx): first sheet, header row, same column names as the CSV. Read by
    ``models.xlsx`` within ``SHEET_LIMITS``: a file past them is refused as a whole, quickly."""
    not_xlsx = (
        "Il file non è un foglio Excel .xlsx valido o è danneggiato: salvarlo di nuovo in formato .xlsx "
        "o usare il modello CSV."
    )
    if isinstance(data, bytes | bytearray):
        if not data:
            return _file_error("file", "", not_xlsx)
        if len(data) > MAX_FILE_BYTES:
            size = f"massimo {MAX_FILE_BYTES // 2**20} MB"
            return _file_error("file", str(len(data)), f"Il file è troppo grande ({size}).")
    elif not hasattr(data, "read"):
        return _file_error("file", "", not_xlsx)
    try:
        return _from_table(first_sheet_rows(data, SHEET_LIMITS))
    except SheetRefused as exc:
        return _file_error("file", "", f"Il file Excel non è stato letto: {exc}.")
    except Unreadable:
        return _file_error("file", "", not_xlsx)
