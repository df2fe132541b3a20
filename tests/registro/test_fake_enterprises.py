"""Fake enterprises: valid, unique, deterministic; the CSV round-trips through the roster parser."""

from __future__ import annotations

import pytest
from stdnum.it import codicefiscale, iva

from models.roster import ROSTER_CSV_HEADER, parse_roster_csv, validate_rows
from registro.fake_enterprises import MAX_VAT_INDEX, make_roster, make_vat_number, roster_csv


def test_vat_numbers_are_valid_and_distinct() -> None:
    numbers = [make_vat_number(n) for n in [*range(2000), *range(MAX_VAT_INDEX - 2000, MAX_VAT_INDEX)]]
    assert all(len(v) == 11 and iva.is_valid(v) for v in numbers)
    assert len(set(numbers)) == len(numbers)
    assert make_vat_number(0)[7:10] == "072"  # Bari


def test_vat_number_out_of_range() -> None:
    with pytest.raises(ValueError):
        make_vat_number(-1)
    with pytest.raises(ValueError):
        make_vat_number(MAX_VAT_INDEX)


def test_roster_is_deterministic_and_valid() -> None:
    rows = make_roster(60, seed=7, region="Basilicata", employees_each=3)
    assert rows == make_roster(60, seed=7, region="Basilicata", employees_each=3)
    result = validate_rows(rows)
    assert result.ok, result.errors[:3]
    assert len(result.rows) == 60 and result.total_employees == 180
    assert {r.region for r in result.rows} == {"Basilicata"}
    assert all(codicefiscale.is_valid(str(r["tax_code"])) for r in rows)
    assert any(len(str(r["tax_code"])) == 16 for r in rows)  # some sole traders
    assert all(str(r["name"]).strip() for r in rows)


def test_vat_numbers_unique_across_seeds() -> None:
    numbers = [r["vat_number"] for seed in range(5) for r in make_roster(1000, seed=seed)]
    assert len(set(numbers)) == len(numbers) == 5000
    assert all(iva.is_valid(str(v)) for v in numbers)


def test_roster_csv_round_trip() -> None:
    rows = make_roster(120, seed=1)
    data = roster_csv(rows)
    assert data.decode().startswith(ROSTER_CSV_HEADER + "\r\n")
    for payload in (data, roster_csv(rows, bom=True)):
        result = parse_roster_csv(payload)
        assert result.ok, result.errors[:3]
        assert [r.vat_number for r in result.rows] == [r["vat_number"] for r in rows]
