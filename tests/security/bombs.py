"""Hostile roster spreadsheets (issue 15, attack 3), built in a second or two from a real workbook.

Each is a genuine .xlsx (openpyxl writes it, with the roster's header row) with one part made hostile:
a million blank rows, a row numbered far down, a shared-strings table of millions of entries, or a
zip directory that declares sizes far smaller than what its parts inflate to. Used by
``tests/security/test_upload_bombs.py`` and ``bench/upload_bombs.py``.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator

import openpyxl

from models.roster import ROSTER_COLUMNS

MB = 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
STRINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def _parts() -> dict[str, bytes]:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(ROSTER_COLUMNS))
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _repeat(unit: bytes, total: int) -> Iterator[bytes]:
    chunk = unit * (MB // len(unit))
    for _ in range(total // len(chunk)):
        yield chunk


def _zip(parts: dict[str, bytes | Iterable[bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression, compresslevel=1) as archive:
        for name, content in parts.items():
            with archive.open(name, "w") as member:
                for chunk in [content] if isinstance(content, bytes) else content:
                    member.write(chunk)
    return out.getvalue()


def _with_rows(rows: Iterable[bytes]) -> dict[str, bytes | Iterable[bytes]]:
    """The rows appended to the sheet, whose declared dimension (A1:F1, which a reader may trust to
    stop early) is taken out."""
    parts: dict[str, bytes | Iterable[bytes]] = dict(_parts())
    sheet = bytes(parts[SHEET]).replace(b'<dimension ref="A1:F1"/>', b"")  # type: ignore[arg-type]
    before, after = sheet.split(b"</sheetData>")
    parts[SHEET] = [before, *rows, b"</sheetData>", after]
    return parts


def blank_rows(inflated: int = 150 * MB) -> bytes:
    """The roster's header, then ``<row/>`` until the sheet inflates to ``inflated`` bytes (900 MB
    in the attack: a 1.3 MB file)."""
    return _zip(_with_rows(_repeat(b"<row/>", inflated)))


def far_row() -> bytes:
    """The header on row 1 and one enterprise on row 1,048,576 (Excel's last): a reader that fills the
    gap yields a million blank rows from a 6 kB file."""
    row = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>Officina</t></is></c></row>'
    return _zip(_with_rows([row]))


def shared_strings(inflated: int = 150 * MB) -> bytes:
    """A shared-strings table of millions of two-letter strings (a reader that loads the table keeps
    every one), the header's cells pointing at its first six."""
    parts: dict[str, bytes | Iterable[bytes]] = dict(_parts())
    header = b"".join(b"<si><t>%s</t></si>" % name.encode() for name in ROSTER_COLUMNS)
    parts[STRINGS] = [b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">', header,
                      *_repeat(b"<si><t>ab</t></si>", inflated), b"</sst>"]  # fmt: skip
    cells = b"".join(b'<c r="%s1" t="s"><v>%d</v></c>' % (bytes([65 + i]), i) for i in range(len(ROSTER_COLUMNS)))
    sheet = bytes(parts[SHEET])  # type: ignore[arg-type]
    start, end = sheet.index(b'<row r="1">'), sheet.index(b"</row>")
    parts[SHEET] = sheet[:start] + b'<row r="1">' + cells + sheet[end:]
    types = bytes(parts["[Content_Types].xml"])  # type: ignore[arg-type]
    parts["[Content_Types].xml"] = types.replace(
        b"</Types>", b'<Override PartName="/%s" ContentType="%s"/></Types>' % (STRINGS.encode(), STRINGS_TYPE.encode())
    )
    rels = bytes(parts["xl/_rels/workbook.xml.rels"])  # type: ignore[arg-type]
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSst" Type="%s" Target="sharedStrings.xml"/></Relationships>' % STRINGS_REL.encode(),
    )
    return _zip(parts)


def lying_directory(inflated: int = 150 * MB, declared: int = 2 * MB) -> bytes:
    """The blank-row bomb whose zip directory (and local header) declares the sheet ``declared`` bytes
    long: a check of the declared sizes lets it through."""
    data = bytearray(blank_rows(inflated))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(SHEET)
    struct.pack_into("<I", data, info.header_offset + 22, declared)  # local header: uncompressed size
    entry = struct.unpack_from("<I", data, data.rindex(b"PK\x05\x06") + 16)[0]  # the directory's start
    while True:
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, entry + 28)
        if data[entry + 46 : entry + 46 + name_length] == SHEET.encode():
            struct.pack_into("<I", data, entry + 24, declared)
            break
        entry += 46 + name_length + extra_length + comment_length
    return bytes(data)


def other_compression(inflated: int = 64 * MB) -> bytes:
    """The sheet compressed with bzip2 (zip method 12: one read of 4 kB can inflate to hundreds of MB),
    ``inflated`` bytes of spaces between its rows."""
    return _zip(_with_rows(_repeat(b" ", inflated)), zipfile.ZIP_BZIP2)


def deep_elements(inflated: int = 63 * MB) -> bytes:
    """Millions of unclosed elements in one row, under the reader's 64 MB sheet cap (found by a tester:
    a 63 kB file took the API to 2.9 GB, expat keeping every open element)."""
    return _zip(_with_rows([b'<row r="2">', *_repeat(b"<x>", inflated)]))


def long_attribute(inflated: int = 60 * MB) -> bytes:
    """One attribute value of 60 MB (with ``>`` in it): expat 2.5 re-scans the unfinished token at every
    feed, 28.7 s of CPU for a 60 kB file."""
    return _zip(_with_rows([b'<row r="2" x="', *_repeat(b"a>", inflated), b'"/>']))


def many_attributes(count: int = 2_000_000) -> bytes:
    """One start tag with millions of distinct attributes: expat builds them all before any callback."""
    attributes = (b" a%d=''" % i for i in range(count))
    return _zip(_with_rows([b'<row r="2"', *attributes, b"/>"]))


def comment(inflated: int = 60 * MB) -> bytes:
    """A 60 MB comment full of ``<``: one token for expat, whatever counts the tags."""
    return _zip(_with_rows([b"<!--", *_repeat(b"<a ", inflated), b"-->"]))


BOMBS: dict[str, Callable[[], bytes]] = {
    "righe vuote": blank_rows,
    "riga lontana": far_row,
    "testi condivisi": shared_strings,
    "directory falsa": lying_directory,
    "elementi annidati": deep_elements,
    "attributo lungo": long_attribute,
    "molti attributi": many_attributes,
    "commento": comment,
}
