"""The bounded reader of an .xlsx's first sheet: values as openpyxl gives them, every bound refused."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable

import openpyxl
import pytest

from models.roster import parse_roster_xlsx
from models.xlsx import Limits, SheetRefused, Unreadable, first_sheet_rows
from tests.security import bombs

SHEET = "xl/worksheets/sheet1.xml"
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for cells in rows:
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_parts(data: bytes, replaced: dict[str, bytes]) -> bytes:
    """The workbook with some parts replaced or added."""
    parts = dict(replaced)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, parts.pop(name, None) or source.read(name))
        for name, content in parts.items():
            target.writestr(name, content)
    return out.getvalue()


def sheet_xml(rows: bytes) -> bytes:
    return b"<worksheet " + NS + b"><sheetData>" + rows + b"</sheetData></worksheet>"


def test_values_as_openpyxl_gives_them() -> None:
    data = workbook([["testo", 12, 25.1, True, None, "=1+1"], [], ["dopo una riga vuota"]])
    assert list(first_sheet_rows(data)) == [
        (0, ["testo", 12, 25.1, True, None, None]),  # a formula never calculated: no value, as in openpyxl
        (2, ["dopo una riga vuota"]),
    ]


def test_shared_strings_rich_text_and_cell_types() -> None:
    strings = (
        b"<sst " + NS + b"><si><t>semplice</t></si>"
        b"<si><r><t>in </t></r><r><t>due parti</t></r><rPh><t>fonetica</t></rPh></si></sst>"
    )
    rows = (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>'
        b'<row r="3"><c r="B3" t="e"><v>#N/A</v></c><c t="str"><f>A1</f><v>calcolato</v></c>'
        b'<c t="n"><v>1E3</v></c><c t="b"><v>0</v></c><c t="inlineStr"><is><t>in linea</t></is></c></row>'
    )
    types = b"</Types>"
    ct = b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + bombs.STRINGS_TYPE.encode() + b'"/></Types>'
    rel = b'<Relationship Id="rIdS" Type="' + bombs.STRINGS_REL.encode() + b'" Target="sharedStrings.xml"/>'
    base = workbook([["x"]])
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        content_types = archive.read("[Content_Types].xml").replace(types, ct)
        relations = archive.read("xl/_rels/workbook.xml.rels").replace(b"</Relationships>", rel + b"</Relationships>")
    data = with_parts(
        base,
        {
            SHEET: sheet_xml(rows),
            "xl/sharedStrings.xml": strings,
            "xl/_rels/workbook.xml.rels": relations,
            "[Content_Types].xml": content_types,
        },
    )
    assert list(first_sheet_rows(data)) == [
        (0, ["semplice", None, "in due parti"]),
        (2, [None, "#N/A", "calcolato", 1000.0, False, "in linea"]),
    ]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (bombs.blank_rows, "troppe righe"),
        (bombs.far_row, "troppe righe"),
        (bombs.shared_strings, "troppi testi"),
        (lambda: bombs.lying_directory(declared=16 * bombs.MB), "troppe righe"),
        (bombs.other_compression, "compressione non ammesso"),
    ],
)
def test_every_bomb_is_refused_quickly(build: object, reason: str) -> None:
    data = build()  # type: ignore[operator]
    started = time.monotonic()
    result = parse_roster_xlsx(data)
    assert time.monotonic() - started < 3.0
    assert len(result.errors) == 1 and result.errors[0].row_no == 0
    assert (
        result.errors[0].message.startswith("Il file Excel non è stato letto: ") and reason in result.errors[0].message
    )


def test_bounds_each_refused_with_its_reason() -> None:
    wide = sheet_xml(b"<row>" + b"<c><v>1</v></c>" * 1_001 + b"</row>")
    long_text = sheet_xml(b'<row><c t="inlineStr"><is><t>' + b"x" * 40_000 + b"</t></is></c></row>")
    many_cells = sheet_xml(b"<row>" + b"<c><v>1</v></c>" * 10 + b"</row>")
    base = workbook([["x"]])
    cases = {
        "troppe celle (più di 1000)": with_parts(base, {SHEET: wide}),
        "testo troppo lungo (più di 32.767 caratteri)": with_parts(base, {SHEET: long_text}),
    }
    for reason, data in cases.items():
        with pytest.raises(SheetRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
            list(first_sheet_rows(data))
    with pytest.raises(SheetRefused, match="troppe celle"):
        list(first_sheet_rows(with_parts(base, {SHEET: many_cells}), Limits(cells=5)))
    with pytest.raises(SheetRefused, match="supera i 1 MB"):
        list(first_sheet_rows(bombs.blank_rows(2 * bombs.MB), Limits(sheet_bytes=bombs.MB, rows=10**9)))
    with pytest.raises(SheetRefused, match="troppe parti"):
        list(first_sheet_rows(base, Limits(entries=3)))


def test_columns_beyond_the_limit_are_ignored() -> None:
    row = b'<row><c r="A1"><v>1</v></c><c r="HZ1"><v>2</v></c></row>'
    data = with_parts(workbook([["x"]]), {SHEET: sheet_xml(row)})
    assert list(first_sheet_rows(data)) == [(0, [1])]


def test_a_dtd_or_entities_make_it_unreadable() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' + sheet_xml(
        b'<row><c t="inlineStr"><is><t>&lol2;</t></is></c></row>'
    )
    with pytest.raises((Unreadable, SheetRefused)):
        list(first_sheet_rows(with_parts(workbook([["x"]]), {SHEET: laughs})))


@pytest.mark.parametrize(
    "bomb", [bombs.deep_elements, bombs.long_attribute, bombs.many_attributes, bombs.comment], ids=lambda b: b.__name__
)
def test_structure_bombs_are_refused_at_once(bomb: Callable[[], bytes]) -> None:
    data = bomb()
    started = time.process_time()
    with pytest.raises(SheetRefused, match="struttura di un foglio di calcolo"):
        list(first_sheet_rows(data))
    assert time.process_time() - started < 1.0


def test_the_xml_declaration_and_long_cells_are_fine() -> None:
    text = "è" * 32_000  # 64 kB of UTF-8 in one cell
    rows = list(first_sheet_rows(workbook([["Ragione sociale"], [text]])))
    assert rows[1][1][0] == text


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04garbage", bombs.MB * b"x"])
def test_not_a_workbook(data: bytes) -> None:
    with pytest.raises(Unreadable):
        list(first_sheet_rows(data))


def test_a_roster_of_ten_thousand_rows_is_read() -> None:
    from tests.api_support import roster_rows

    keys = ["name", "tax_code", "vat_number", "ateco", "employees", "region"]
    rows = [[*keys, "note"]] + [[row[k] for k in keys] + ["nota"] for row in roster_rows(10_000)]
    started = time.monotonic()
    result = parse_roster_xlsx(workbook(rows))
    assert result.ok and len(result.rows) == 10_000, result.errors[:3]
    assert time.monotonic() - started < 10
