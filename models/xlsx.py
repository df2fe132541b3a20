"""The first worksheet of an .xlsx file as rows of cell values, read within stated bounds.

A spreadsheet is a zip of XML parts and a small upload can inflate to gigabytes: openpyxl, which read
the roster before (issue 15), grew the API past 11.7 GB on a 1.3 MB file of blank rows and kept
millions of shared strings. This reader inflates only the parts it needs (the workbook, its
relationships, the shared strings, the first worksheet), streams each through expat and stops at the
first bound passed, whatever the zip directory declares:

- bytes actually inflated: ``sheet_bytes`` for the worksheet, ``strings_bytes`` for the shared strings
  (one read inflates at most 64 kB; only *stored* and *deflate* parts, the two methods Excel and
  LibreOffice write: bzip2 or LZMA inflate hundreds of MB in one call);
- rows by their position in the sheet, blank rows included (``rows``), cells per row (``row_cells``),
  cells in all (``cells``), characters in a cell (``cell_chars``), shared strings (``strings``);
- no DTD (no entity expansion of any kind), no comments, CDATA or processing instructions, elements
  nested at most ``MAX_DEPTH`` deep with at most ``MAX_ATTRIBUTES`` attributes, and no stretch of
  ``MAX_TOKEN`` bytes without a ``<`` (``_TokenGuard``): a 63 kB file of 21 million unclosed elements
  took the API to 2.9 GB, one 60 MB attribute value 28.7 s of CPU, before these bounds.

Measured (2 cores, shared machine): a roster of 10,000 enterprises × 10 columns reads in 0.35 s
(openpyxl: 0.85 s). Through the API (``bench/upload_bombs.py``, files inflating to 900 MB) each
hostile file is refused in 0.06-0.15 s, the shared-strings one (500,000 strings read) in 1.1-1.5 s;
the API's memory peaks at 205-238 MB (141 MB idle). Memory here: the shared strings (at most
``strings_bytes`` of XML: 16 MB of text, under 70 MB as Python strings even in the worst encoding),
plus one row at a time.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.parsers import expat

from models import italian

MB = 1024 * 1024
READ_SIZE = 64 * 1024
META_BYTES = 4 * MB  # the workbook and its relationships
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
MAX_TOKEN = 1 * MB  # bytes without a "<": one tag, or the text between two tags (see _TokenGuard)
MAX_DEPTH = 32  # a sheet nests 6 deep (worksheet, sheetData, row, c, is, r, t)
MAX_ATTRIBUTES = 64  # a cell has 3 or 4
STRUCTURE = (
    "il file non ha la struttura di un foglio di calcolo (elementi troppo annidati o troppo lunghi, "
    "commenti o sezioni CDATA): salvarlo di nuovo in formato .xlsx da Excel o LibreOffice"
)


@dataclass(frozen=True)
class Limits:
    rows: int = 11_000
    columns: int = 200  # cells further right are ignored
    row_cells: int = 1_000
    cells: int = 500_000
    cell_chars: int = 32_767  # Excel's own limit for a cell
    sheet_bytes: int = 64 * MB
    strings: int = 500_000
    strings_bytes: int = 16 * MB
    entries: int = 10_000  # parts in the zip (a workbook has a dozen or so)


class SheetRefused(Exception):
    """A bound was passed; the argument is the Italian explanation for the person who uploaded it."""


class Unreadable(Exception):
    """Not a workbook this reader understands (damaged, encrypted, strict OOXML without a sheet...)."""


def first_sheet_rows(data: bytes | BinaryIO, limits: Limits = Limits()) -> Iterator[tuple[int, list[Any]]]:
    """(row index from 0, cell values) of every row present in the first worksheet, in order; values as
    openpyxl gives them with ``data_only``: str, int, float, bool or None. Raises ``SheetRefused`` or
    ``Unreadable`` (possibly after some rows were yielded)."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        with zipfile.ZipFile(source) as archive:
            if len(archive.infolist()) > limits.entries:
                raise SheetRefused(f"il file contiene troppe parti (più di {thousands(limits.entries)})")
            sheet, strings_part = _locate(archive)
            strings = _shared_strings(archive, strings_part, limits) if strings_part else []
            reader = _SheetReader(strings, limits)
            yield from _parse(_inflate(archive, sheet, limits.sheet_bytes, "il foglio"), reader, reader.rows)
    except (SheetRefused, Unreadable):
        raise
    except (zipfile.BadZipFile, expat.ExpatError, KeyError, ValueError, IndexError, EOFError, OSError,
            RuntimeError, NotImplementedError) as exc:  # fmt: skip
        raise Unreadable(str(exc)) from exc


def _inflate(archive: zipfile.ZipFile, name: str, cap: int, what: str) -> Iterator[bytes]:
    """The part's bytes as they inflate, refused past ``cap`` (counted here, not taken from the directory)."""
    info = archive.getinfo(name)
    if info.compress_type not in COMPRESSIONS:
        raise SheetRefused(
            "il file usa un metodo di compressione non ammesso: "
            "salvarlo di nuovo in formato .xlsx da Excel o LibreOffice"
        )
    inflated = 0
    with archive.open(info) as part:
        while chunk := part.read(READ_SIZE):
            inflated += len(chunk)
            if inflated > cap:
                raise SheetRefused(f"{what} supera i {cap // MB} MB una volta decompresso")
            yield chunk


class _Handler:
    def start(self, name: str, attrs: dict[str, str]) -> None: ...

    def end(self, name: str) -> None: ...

    def text(self, data: str) -> None: ...


class _TokenGuard:
    """Bounds what expat must hold and scan at once, before it sees the bytes.

    expat 2.5 (this Python's) re-scans an unfinished token from its start at every feed: one 60 MB
    attribute value cost 28.7 s of CPU in 64 kB feeds, and a start tag with millions of attributes
    1.3 GB. In a sheet every token — a tag, or the text between two tags — begins at a ``<`` and holds
    no other ``<`` (XML forbids it in attribute values and text), except comments, CDATA and processing
    instructions, which Excel and LibreOffice never write there: those are refused, and so is any
    stretch of ``MAX_TOKEN`` bytes without a ``<``. A legitimate cell holds at most 32,767 characters
    (128 kB in UTF-8)."""

    def __init__(self) -> None:
        self.offset = 0  # bytes seen
        self.since = 0  # bytes since the last "<"
        self.last = b""

    def check(self, chunk: bytes) -> None:
        data = self.last + chunk
        for marker in (b"<!", b"<?"):
            at = data.find(marker)
            while at >= 0:
                absolute = self.offset - len(self.last) + at
                if marker == b"<!" or absolute > 3:  # only the XML declaration, at the start (after a BOM)
                    raise SheetRefused(STRUCTURE)
                at = data.find(marker, at + 1)
        newest = chunk.rfind(b"<")
        self.since = self.since + len(chunk) if newest < 0 else len(chunk) - newest
        if self.since > MAX_TOKEN:
            raise SheetRefused(STRUCTURE)
        self.offset += len(chunk)
        self.last = chunk[-1:]


class _Bounded(_Handler):
    """``handler`` behind bounds on how deep elements nest and how many attributes one carries."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.depth = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH or len(attrs) > MAX_ATTRIBUTES:
            raise SheetRefused(STRUCTURE)
        self.handler.start(name, attrs)

    def end(self, name: str) -> None:
        self.depth -= 1
        self.handler.end(name)

    def text(self, data: str) -> None:
        self.handler.text(data)


def _parse(chunks: Iterator[bytes], handler: _Handler, ready: list[Any]) -> Iterator[Any]:
    """Feeds ``chunks`` to expat with ``handler``'s callbacks, yielding what it puts in ``ready``."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    bounded = _Bounded(handler)
    parser.StartElementHandler = bounded.start
    parser.EndElementHandler = bounded.end
    parser.CharacterDataHandler = bounded.text
    guard = _TokenGuard()
    for chunk in chunks:
        guard.check(chunk)
        parser.Parse(chunk, False)
        yield from ready
        ready.clear()
    parser.Parse(b"", True)
    yield from ready
    ready.clear()


def _no_dtd(*_: object) -> None:
    raise Unreadable("DTD non ammessa")


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


class _Collect(_Handler):
    """Collects the attributes of the elements named ``wanted`` (for the workbook and its relationships)."""

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        self.found: list[dict[str, str]] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if _local(name) == self.wanted:
            self.found.append({_local(key) if " " not in key else "r:" + _local(key): v for key, v in attrs.items()})


def _elements(archive: zipfile.ZipFile, part: str, wanted: str) -> list[dict[str, str]]:
    collect = _Collect(wanted)
    for _ in _parse(_inflate(archive, part, META_BYTES, "la descrizione del file"), collect, []):
        pass
    return collect.found


def _locate(archive: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part and the shared strings' part (if any), from the workbook's relationships."""
    relations = {r.get("Id"): r for r in _elements(archive, WORKBOOK_RELS, "Relationship")}

    def target(relation: dict[str, str]) -> str:
        path = relation.get("Target", "")
        return path.lstrip("/") if path.startswith("/") else posixpath.normpath(posixpath.join("xl", path))

    sheet = next(
        (
            target(relations[s["r:id"]])
            for s in _elements(archive, WORKBOOK, "sheet")
            if s.get("r:id") in relations and relations[s["r:id"]].get("Type", "").endswith("/worksheet")
        ),
        None,
    )
    if sheet is None:
        raise Unreadable("nessun foglio di lavoro")
    strings = next((target(r) for r in relations.values() if r.get("Type", "").endswith("/sharedStrings")), None)
    return sheet, strings


class _Strings(_Handler):
    """The shared strings: the text of each ``si`` (its ``t`` and its runs' ``t``, not the phonetic ``rPh``)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.strings: list[str] = []
        self.parts: list[str] = []
        self.chars = 0
        self.in_text = False
        self.in_phonetic = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            self.parts, self.chars = [], 0
        elif local == "t":
            self.in_text = not self.in_phonetic
        elif local == "rPh":
            self.in_phonetic = True

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "si":
            if len(self.strings) >= self.limits.strings:
                raise SheetRefused(f"il file contiene troppi testi (più di {thousands(self.limits.strings)})")
            self.strings.append("".join(self.parts))
        elif local == "t":
            self.in_text = False
        elif local == "rPh":
            self.in_phonetic = False

    def text(self, data: str) -> None:
        if self.in_text:
            self.chars += len(data)
            if self.chars > self.limits.cell_chars:
                raise SheetRefused(_long_text(self.limits))
            self.parts.append(data)


def _shared_strings(archive: zipfile.ZipFile, part: str, limits: Limits) -> list[str]:
    if part not in archive.NameToInfo:
        return []
    handler = _Strings(limits)
    for _ in _parse(_inflate(archive, part, limits.strings_bytes, "la tabella dei testi"), handler, []):
        pass
    return handler.strings


def _long_text(limits: Limits) -> str:
    return f"una cella contiene un testo troppo lungo (più di {thousands(limits.cell_chars)} caratteri)"


def thousands(number: int) -> str:
    """An integer as Italian writes it: 11.000."""
    return italian.number(number)


def _column(reference: str) -> int:
    """0-based column of a cell reference such as ``AB12``."""
    number = 0
    for char in reference:
        if not char.isalpha():
            break
        number = number * 26 + (ord(char.upper()) - 64)
    return number - 1


def _number(text: str) -> int | float:
    return float(text) if "." in text or "e" in text or "E" in text else int(text)


VALUES: dict[str, Callable[[str, list[str]], Any]] = {
    "s": lambda text, strings: strings[int(text)],
    "b": lambda text, _: text.strip() in ("1", "true"),
    "n": lambda text, _: _number(text),
    "str": lambda text, _: text,
    "inlineStr": lambda text, _: text,
    "e": lambda text, _: text,
    "d": lambda text, _: text,
}


class _SheetReader(_Handler):
    def __init__(self, strings: list[str], limits: Limits) -> None:
        self.strings, self.limits = strings, limits
        self.rows: list[tuple[int, list[Any]]] = []
        self.row_count = self.cell_count = 0
        self.position = -1  # the current row, from 0
        self.cells: list[Any] = []
        self.row_cells = self.column = 0
        self.kind = "n"
        self.parts: list[str] = []
        self.chars = 0
        self.in_value = False
        self.in_phonetic = False
        self.has_value = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "c":
            self._cell(attrs)
        elif local in ("v", "t"):
            self.in_value = not self.in_phonetic
            self.has_value = True
        elif local == "rPh":
            self.in_phonetic = True
        elif local == "row":
            self._row(attrs)

    def _row(self, attrs: dict[str, str]) -> None:
        self.row_count += 1
        number = attrs.get("r")
        position = int(number) - 1 if number else self.position + 1
        if position > self.position:
            self.position = position
        if self.row_count > self.limits.rows or self.position >= self.limits.rows:
            raise SheetRefused(
                f"il foglio contiene troppe righe (più di {thousands(self.limits.rows)}, "
                "contando anche le righe vuote): eliminare le righe vuote in fondo all'elenco"
            )
        self.cells, self.row_cells, self.column = [], 0, 0

    def _cell(self, attrs: dict[str, str]) -> None:
        self.row_cells += 1
        self.cell_count += 1
        if self.row_cells > self.limits.row_cells:
            raise SheetRefused(
                f"la riga {self.position + 1} del foglio contiene troppe celle (più di {self.limits.row_cells}): "
                "lasciare solo le colonne dell'elenco"
            )
        if self.cell_count > self.limits.cells:
            raise SheetRefused(
                f"il foglio contiene troppe celle (più di {thousands(self.limits.cells)}): "
                "lasciare solo le colonne dell'elenco"
            )
        reference = attrs.get("r")
        self.column = _column(reference) if reference else self.column
        self.kind = attrs.get("t", "n")
        self.parts, self.chars, self.has_value = [], 0, False

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "c":
            if self.has_value and self.column < self.limits.columns:
                if len(self.cells) <= self.column:
                    self.cells.extend([None] * (self.column + 1 - len(self.cells)))
                text = "".join(self.parts)
                self.cells[self.column] = VALUES.get(self.kind, VALUES["str"])(text, self.strings) if (
                    text or self.kind in ("str", "inlineStr")
                ) else None  # fmt: skip
            self.column += 1
        elif local in ("v", "t"):
            self.in_value = False
        elif local == "rPh":
            self.in_phonetic = False
        elif local == "row" and self.cells:
            self.rows.append((self.position, self.cells))

    def text(self, data: str) -> None:
        if self.in_value:
            self.chars += len(data)
            if self.chars > self.limits.cell_chars:
                raise SheetRefused(_long_text(self.limits))
            self.parts.append(data)
