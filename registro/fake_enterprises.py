"""Deterministic fake member enterprises for demo data, tests and benchmarks.

Every VAT number is valid (check digit computed here, verified against python-stdnum in the tests) and
unique per (seed, index), also across seeds.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping

from stdnum.it import codicefiscale

from models.roster import FIELDS, ROSTER_COLUMNS

# provincial office codes (digits 8-10) of Puglia: Foggia, Bari, Taranto, Brindisi, Lecce
OFFICE_CODES: tuple[str, ...] = ("071", "072", "073", "074", "075")
_SERIALS = 9_999_999  # first 7 digits: 0000001 .. 9999999 (all zeros is not a valid VAT number)
_SCRAMBLE = 7_654_321  # coprime with _SERIALS: spreads consecutive n over the serial range
MAX_VAT_INDEX = _SERIALS * len(OFFICE_CODES)
ROWS_PER_SEED = 100_000
MAX_SEED = MAX_VAT_INDEX // ROWS_PER_SEED - 1

_ACTIVITIES = (
    ("Meccanica", "25.62.00"),
    ("Carpenteria Metallica", "25.11.00"),
    ("Officine", "28.41.00"),
    ("Tessitura", "13.20.00"),
    ("Maglificio", "14.39.00"),
    ("Calzaturificio", "15.20.10"),
    ("Mobilificio", "31.09.10"),
    ("Oleificio", "10.41.10"),
    ("Pastificio", "10.73.00"),
    ("Plastica", "22.29.09"),
    ("Elettronica", "26.11.09"),
    ("Software", "62.01.00"),
    ("Manutenzioni Industriali", "33.12.10"),
    ("Trasporti", "49.41.00"),
)
_SURNAMES = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
    "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
    "Caputo", "Lorusso", "Cassano", "Semeraro", "Palmisano", "Loiacono", "D'Amico", "Lattanzio",
)  # fmt: skip
_FIRST_NAMES = (
    "Mario",
    "Giuseppe",
    "Antonio",
    "Francesco",
    "Vito",
    "Nicola",
    "Maria",
    "Anna",
    "Rosa",
    "Lucia",
)
_LEGAL_FORMS = ("S.r.l.", "S.r.l.", "S.r.l.s.", "S.p.A.", "S.n.c.", "S.a.s.", "Soc. Coop.")
_MONTHS = "ABCDEHLMPRST"
_SOLE_TRADER_EVERY = 10  # one row in ten is a sole trader (ditta individuale) with a personal tax code


def vat_check_digit(first_ten: str) -> str:
    """The partita IVA check digit (Luhn over the first ten digits)."""
    total = 0
    for position, char in enumerate(first_ten):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def make_vat_number(n: int) -> str:
    """A valid 11-digit partita IVA, distinct for each n in 0 .. MAX_VAT_INDEX - 1."""
    if not 0 <= n < MAX_VAT_INDEX:
        raise ValueError(f"n must be in 0..{MAX_VAT_INDEX - 1}, got {n}")
    block, position = divmod(n, _SERIALS)
    serial = (position * _SCRAMBLE) % _SERIALS + 1
    first_ten = f"{serial:07d}{OFFICE_CODES[(block + 1) % len(OFFICE_CODES)]}"  # block 0 → 072 (Bari)
    return first_ten + vat_check_digit(first_ten)


def _consonants(word: str) -> str:
    letters = [c for c in word.upper() if c.isalpha()]
    cons = [c for c in letters if c not in "AEIOU"]
    vowels = [c for c in letters if c in "AEIOU"]
    return "".join(cons + vowels + ["X", "X", "X"])[:3]


def make_personal_tax_code(surname: str, first_name: str, rng: random.Random) -> str:
    """A syntactically valid 16-character codice fiscale (born in Bari, code A662)."""
    year, month, day = rng.randint(50, 99), rng.randrange(12), rng.randint(1, 28)
    day += 40 if first_name.endswith("a") else 0
    body = f"{_consonants(surname)}{_consonants(first_name)}{year:02d}{_MONTHS[month]}{day:02d}A662"
    return body + codicefiscale.calc_check_digit(body)


def make_roster(
    count: int, *, seed: int = 0, region: str = "Puglia", employees_each: int = 4
) -> list[dict[str, object]]:
    """`count` member enterprises in the `models.roster.validate_rows` input shape."""
    if not 0 <= count <= ROWS_PER_SEED:
        raise ValueError(f"count must be in 0..{ROWS_PER_SEED}, got {count}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for index in range(count):
        vat = make_vat_number(seed * ROWS_PER_SEED + index)
        activity, ateco = rng.choice(_ACTIVITIES)
        surname = rng.choice(_SURNAMES)
        if index % _SOLE_TRADER_EVERY == _SOLE_TRADER_EVERY - 1:
            first_name = rng.choice(_FIRST_NAMES)
            name = f"{activity} di {first_name} {surname}"
            tax_code = make_personal_tax_code(surname, first_name, rng)
        else:
            name = f"{activity} {surname} {rng.choice(_LEGAL_FORMS)}"
            tax_code = vat
        rows.append(
            {
                "name": name,
                "tax_code": tax_code,
                "vat_number": vat,
                "ateco": ateco,
                "employees": employees_each,
                "region": region,
            }
        )
    return rows


def roster_csv(rows: Iterable[Mapping[str, object]], *, bom: bool = False) -> bytes:
    """The rows as a `;`-separated UTF-8 CSV with the canonical Italian header (ROSTER_CSV_HEADER)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(ROSTER_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(f) is None else str(row.get(f)) for f in FIELDS])
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")
