"""Numbers of 16 digits or more in XLSX and Parquet sources: no digit is made up (QA
findings).

A float holds no exact integer from 2**53 on: a customer number typed into a numeric
cell as 1234567890123456789 is saved as 1.23456789012345E+18, and printing all its
digits (1234567890123450112) made up the last four. And a spreadsheet keeps 15
significant digits: an e-invoice address 1234567890123457 typed into a number cell is
saved as 1234567890123460, which was imported as a change of its last digit. Such a
cell keeps the scientific form a spreadsheet shows, so a key field rejects it as digits
lost."""

from __future__ import annotations

import math
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.readers import read_source
from sync.readers.table import IMPRECISE_NUMBERS, imprecise_number_text
from sync.readers.xlsx import read_xlsx
from tests.conftest import customers, load_register, report_rows, run_cli
from tests.workbooks import write_xlsx

HEADER = ["Asiakasnumero", "Nimi", "Verkkolaskuosoite", "Lisätiedot"]


@settings(max_examples=300)
@given(st.floats(min_value=IMPRECISE_NUMBERS, max_value=1e308, allow_infinity=False))
def test_imprecise_number_text_keeps_exactly_the_value_in_scientific_form(value: float) -> None:
    for signed in (value, -value):
        text = imprecise_number_text(signed)
        assert float(text) == signed
        assert re.fullmatch(r"-?\d(?:\.\d+)?E\+\d+", text), text


@pytest.mark.parametrize("stream_bytes", [0, 32 << 20], ids=["streamed", "small"])
def test_xlsx_numbers_past_2_53_keep_their_scientific_form(tmp_path: Path,
                                                          stream_bytes: int) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", [
        HEADER,
        [1.23456789012345e18, "Iso Oy", None, 3.70012345678901e17],
        [1001, "Pieni Oy", 3.70012345678901e17, 123456789012345],
        [1002, "Rivi Oy", None, 1234567890123456789],
    ])
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.drop("_row").rows() == [
        ("1.23456789012345E+18", "Iso Oy", None, "3.70012345678901E+17"),
        ("1001", "Pieni Oy", "3.70012345678901E+17", "123456789012345"),
        ("1002", "Rivi Oy", None, "1.234567890123457E+18"),
    ]


def test_parquet_floats_past_2_53_keep_their_scientific_form(tmp_path: Path) -> None:
    # A Parquet float is no spreadsheet's number cell: below 2**53 it is exact (pandas
    # writes an integer column with gaps as floats), so 16 digits are read in full there
    # (review: rejecting them as digits lost refused exact data).
    path = tmp_path / "big.parquet"
    pl.DataFrame({"Asiakasnumero": [1.2345678901234567e19, 1001.0, 9007199254740991.0,
                                    123456789012345.0, 1234567890123457.0],
                  "Nimi": ["Iso Oy", "Pieni Oy", "Raja Oy", "Viisitoista Oy", "Kuusitoista Oy"],
                  }).write_parquet(path)
    assert read_source(path).frame.drop("_row").rows() == [
        ("1.2345678901234567E+19", "Iso Oy"), ("1001", "Pieni Oy"),
        ("9007199254740991", "Raja Oy"), ("123456789012345", "Viisitoista Oy"),
        ("1234567890123457", "Kuusitoista Oy")]


def test_parquet_integers_keep_every_digit(tmp_path: Path) -> None:
    # An integer column is exact, whatever its length: no spreadsheet rounded it.
    path = tmp_path / "ints.parquet"
    pl.DataFrame({"Asiakasnumero": [1234567890123457, 9223372036854775807],
                  "Verkkolaskuosoite": [1234567890123457, None]},
                 schema={"Asiakasnumero": pl.Int64, "Verkkolaskuosoite": pl.Int64}
                 ).write_parquet(path)
    assert read_source(path).frame.drop("_row").rows() == [
        ("1234567890123457", "1234567890123457"), ("9223372036854775807", None)]


@pytest.mark.parametrize("stream_bytes", [0, 32 << 20], ids=["streamed", "small"])
def test_xlsx_numbers_of_16_digits_keep_their_scientific_form(tmp_path: Path,
                                                              stream_bytes: int) -> None:
    # 1234567890123460 is what a spreadsheet saves for 1234567890123457 typed; a number
    # of 15 digits is exact and read in full.
    path = write_xlsx(tmp_path / "16.xlsx", [
        HEADER,
        [1234567890123457, "Kuusitoista Oy", 1234567890123460, -1234567890123457],
        [123456789012345, "Viisitoista Oy", 999999999999999, 1e15],
    ])
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.drop("_row").rows() == [
        ("1.234567890123457E+15", "Kuusitoista Oy", "1.23456789012346E+15",
         "-1.234567890123457E+15"),
        ("123456789012345", "Viisitoista Oy", "999999999999999", "1E+15"),
    ]


def test_a_16_digit_number_cell_is_rejected_as_digits_lost_not_imported(
        tmp_path: Path) -> None:
    db = tmp_path / "register.db"
    load_register(db, "Asiakasnumero;Nimi;Verkkolaskuosoite\n"
                      "5001;Kuusitoista Oy;1234567890123457\n", tmp_path)
    before = customers(db)
    source = write_xlsx(tmp_path / "16.xlsx", [
        HEADER,
        [5001, "Kuusitoista Oy", 1234567890123457, None],  # as openpyxl writes it
        [5001, "Kuusitoista Oy", 1234567890123460, None],  # as a spreadsheet saves it
        [1234567890123457, "Uusi Oy", None, None],
        [123456789012345, "Viisitoista Oy", 123456789012345, None],
    ])
    report = tmp_path / "report.csv"
    result = run_cli("import", source, "--db", db, "--yes", "--report", report, "--json")
    assert result.exit_code == 1, result.stderr
    assert (result.json()["new"], result.json()["modified"], result.json()["rejected"]) == (
        1, 0, 3)
    rows = report_rows(report)
    assert [r["status"] for r in rows] == ["Rejected", "Rejected", "Rejected", "New"]
    assert rows[0]["message"] == ("einvoice_address: a number in scientific notation lost "
                                  "digits: '1.234567890123457E+15'")
    assert rows[1]["message"] == ("einvoice_address: a number in scientific notation lost "
                                  "digits: '1.23456789012346E+15'")
    assert rows[2]["message"] == ("customer_number: a number in scientific notation lost "
                                  "digits: '1.234567890123457E+15'")
    after = customers(db)
    assert after["5001"] == before["5001"]
    assert after["123456789012345"]["einvoice_address"] == "123456789012345"


def test_a_key_past_2_53_is_rejected_and_a_note_keeps_what_the_cell_holds(
        tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "big.xlsx", [
        HEADER,
        [1.23456789012345e18, "Iso Oy", None, None],
        [None, "Lasku Oy", 3.70012345678901e17, None],
        [2001, "Muistio Oy", None, 1.5e20],
    ])
    db = tmp_path / "register.db"
    report = tmp_path / "report.csv"
    result = run_cli("import", source, "--db", db, "--yes", "--report", report, "--json")
    assert result.exit_code == 1, result.stderr
    assert (result.json()["new"], result.json()["rejected"]) == (1, 2)
    rows = pl.read_csv(report, infer_schema=False)
    assert rows["status"].to_list() == ["Rejected", "Rejected", "New"]
    assert all("scientific notation" in m for m in rows["message"].to_list()[:2])
    registered = customers(db)
    assert list(registered) == ["2001"]
    assert registered["2001"]["notes"] == "1.5E+20"
    assert math.isclose(float(registered["2001"]["notes"]), 1.5e20)


def test_parquet_float32_past_2_24_keeps_only_the_digits_it_holds(tmp_path: Path) -> None:
    # QA: a float32 holds 24 bits; phone 358401234567 saved so is 358401245184, and was
    # imported as +358401245184 (and 123456789 as customer 123456792).
    path = tmp_path / "f32.parquet"
    pl.DataFrame({"Asiakasnumero": [1001.0, 123456789.0, 2.5],
                  "Nimi": ["Aho Oy", "Iso Oy", "Puoli Oy"],
                  "Puhelin": [358401234567.0, None, 12345.0]},
                 schema={"Asiakasnumero": pl.Float32, "Nimi": pl.String,
                         "Puhelin": pl.Float32}).write_parquet(path)
    assert read_source(path).frame.drop("_row").rows() == [
        ("1001", "Aho Oy", "3.5840125E+11"), ("1.2345679E+8", "Iso Oy", None),
        ("2.5", "Puoli Oy", "12345")]
