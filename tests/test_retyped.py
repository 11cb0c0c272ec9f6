"""Text a spreadsheet re-typed on a round trip (a day and month read as a date, `50%` as
0.5, `1e5` as 100000, `1:30` as a time, `true` as TRUE) keeps the register's value."""

from __future__ import annotations

import datetime
from pathlib import Path

import polars as pl
import pytest

from sync.lost_characters import _same_digits_or_not_a_number
from sync.retyped import (
    AMOUNT,
    DATE,
    FRACTION,
    LOGICAL,
    NUMBER,
    PERCENTAGE,
    RETYPED_LOOK,
    TIME,
    WRITTEN_LOOK,
    retyped_as,
)
from sync.writers.register import open_register
from tests.conftest import customers, report_rows, run_cli, seed_register, write_csv
from tests.workbooks import write_xlsx

HEADER = "customer_number;name;street_address;city;customer_group;notes\n"
REGISTER = (HEADER
            + "7001;True;1/12;1.12.;1.12.;50%\n"
            + "7002;Kahvila Aurinko Oy;1-12;12/1;1:30;1e5\n"
            + "7003;Matti Virtanen;;1.12.;;50%\n"
            + "7004;Liisa Laine;;;;false\n")


@pytest.fixture
def register(register_url: str, tmp_path: Path) -> str:
    """The customers above, on each engine."""
    seed_register(register_url, REGISTER, tmp_path)
    return register_url


def preview(db: str, tmp_path: Path, text: str, *options: str) -> tuple[dict, dict[int, dict]]:
    """Preview CSV text against `db`: the --json answer and the report's lines by row."""
    source = write_csv(tmp_path / "source.csv", text)
    report = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report, "--json", *options)
    assert result.exit_code in (0, 1), result.stderr
    return result.json(), {int(r["row"]): r for r in report_rows(report)}


def test_values_a_spreadsheet_retyped_keep_the_registers(register, tmp_path):
    # QA (LibreOffice round trips, fi/sv/cs): every one of these rows was Modified, and
    # group '01.12.26' was created.
    answer, rows = preview(register, tmp_path, HEADER
                           + "7001;TRUE;2026-12-01;01.12.26;01.12.26;0.5\n"
                           + "7002;Kahvila Aurinko Oy;2026-01-12;12/1/26;01:30:00;100000\n"
                           + "7004;Liisa Laine;;;;EPÄTOSI\n")
    assert [rows[n]["status"] for n in (2, 3, 4)] == ["No change"] * 3
    assert rows[2]["message"] == (
        "name: kept 'True': the file has 'TRUE' (a spreadsheet read it as TRUE or FALSE); "
        "street_address: kept '1/12': the file has '2026-12-01' (a spreadsheet read it as "
        "a date); city: kept '1.12.': the file has '01.12.26' (a spreadsheet read it as a "
        "date); customer_group: kept '1.12.': the file has '01.12.26' (a spreadsheet read "
        "it as a date); notes: kept '50%': the file has '0.5' (a spreadsheet read it as a "
        "percentage)")
    assert rows[3]["message"] == (
        "street_address: kept '1-12': the file has '2026-01-12' (a spreadsheet read it as "
        "a date); city: kept '12/1': the file has '12/1/26' (a spreadsheet read it as a "
        "date); customer_group: kept '1:30': the file has '01:30:00' (a spreadsheet read it "
        "as a time); notes: kept '1e5': the file has '100000' (a spreadsheet read it as a "
        "number)")
    assert rows[4]["message"] == ("notes: kept 'false': the file has 'EPÄTOSI' (a "
                                  "spreadsheet read it as TRUE or FALSE)")
    assert answer["groups_to_create"] == []


def test_an_edit_that_looks_retyped_is_still_an_edit(register, tmp_path):
    _, rows = preview(register, tmp_path, HEADER
                      + "7003;Matti Virtanen;;2.12.;;0.6\n"
                      + "7001;True;1/12;1.12.;1.12.;0,5\n")
    assert (rows[2]["status"], rows[2]["changed_fields"]) == ("Modified", "city|notes")
    assert "kept" not in rows[2]["message"]
    # Another change in the row stays a change; the re-typed value is kept beside it.
    _, rows = preview(register, tmp_path, HEADER + "7003;Matti Virtanen;Katu 1;02.12.26;;0,5\n")
    assert (rows[2]["status"], rows[2]["changed_fields"]) == ("Modified",
                                                              "street_address|city")
    assert rows[2]["message"] == ("notes: kept '50%': the file has '0,5' (a spreadsheet "
                                  "read it as a percentage)")


def test_a_new_row_is_stored_as_the_file_has_it(register, tmp_path):
    # No register value, no evidence: nothing is guessed.
    answer, rows = preview(register, tmp_path, HEADER
                           + ";Uusi Asiakas;2026-12-01;01.12.26;01.12.26;0.5\n")
    assert (rows[2]["status"], rows[2]["message"]) == ("New", "")
    assert answer["groups_to_create"] == ["01.12.26"]


def test_a_retyped_group_creates_no_group_and_the_customer_stays_in_its_own(register,
                                                                            tmp_path):
    source = write_csv(tmp_path / "back.csv", HEADER
                       + "7001;True;1/12;01.12.26;01.12.26;50%\n"
                       + "7002;Kahvila Aurinko Oy;1-12;12/1;01:30:00;1e5\n")
    result = run_cli("import", source, "--db", register, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["unchanged"] == 2
    stored = customers(register)
    assert [(stored[n]["city"], stored[n]["customer_group"]) for n in ("7001", "7002")] == [
        ("1.12.", "1.12."), ("12/1", "1:30")]
    opened = open_register(register, create=False)
    try:
        assert sorted(opened.group_names()["name"].to_list()) == ["1.12.", "1:30"]
    finally:
        opened.close()


def test_fields_with_a_normaliser_of_their_own_keep_their_behaviour(register_url, tmp_path):
    # A code a spreadsheet re-types is read as that field reads codes; a custom free-text
    # field is kept as the built-in ones are.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.reference]\nnormaliser = "key"\n'
                     '[fields.memo]\naliases = ["Muistio"]\n')
    header = "customer_number;name;postal_code;country;reference;Muistio\n"
    first = write_csv(tmp_path / "first.csv", header + "7101;Aho Oy;00100;FI;1.12.;1.12.\n")
    assert run_cli("import", first, "--db", register_url, "--yes", "--rules",
                   rules).exit_code == 0
    _, rows = preview(register_url, tmp_path, header + "7101;Aho Oy;100;FI;01.12.26;01.12.26\n",
                      "--rules", str(rules))
    assert (rows[2]["status"], rows[2]["changed_fields"]) == ("Modified", "reference")
    assert rows[2]["message"] == ("memo: kept '1.12.': the file has '01.12.26' (a "
                                  "spreadsheet read it as a date)")


CASES = [
    # A day and month, with the year a spreadsheet adds, as the fi, sv, cs and en
    # locales write dates.
    ("1.12.", "01.12.26", DATE), ("1.12.", "2026-12-01", DATE), ("1.12", "1.12.2026", DATE),
    ("1.12.", "1. 12. 2026", DATE), ("1.12.", "01.12.2031", DATE),
    ("1/12", "2026-12-01", DATE), ("1/12", "1/12/26", DATE), ("1/12", "12/1/2026", DATE),
    ("12/1", "2026-12-01", DATE), ("1-12", "01.12.26", DATE),
    ("1.12.2026", "2026-12-01", DATE), ("1.12.2026", "01.12.26", DATE),
    ("29.2.", "29.02.28", DATE),
    ("50%", "0.5", PERCENTAGE), ("50 %", "0,5", PERCENTAGE), ("12,5%", "0.125", PERCENTAGE),
    ("1e5", "100000", NUMBER), ("1E5", "100 000", NUMBER), ("1,5e3", "1500", NUMBER),
    ("2.5e-2", "0,025", NUMBER), ("1e5", "1.00E+05", NUMBER),
    ("1:30", "01:30:00", TIME), ("1:30", "1:30:00 AM", TIME), ("13:05", "1:05:00 PM", TIME),
    ("TRUE", "true", LOGICAL), ("True", "TRUE", LOGICAL), ("false", "FALSE", LOGICAL),
    ("true", "TOSI", LOGICAL), ("false", "EPÄTOSI", LOGICAL), ("TRUE", "SANT", LOGICAL),
    ("false", "falskt", LOGICAL), ("true", "PRAVDA", LOGICAL), ("FALSE", "NEPRAVDA", LOGICAL),
    ("TRUE", "1", LOGICAL), ("false", "0", LOGICAL),
    # A date cell shown as its serial number (the column's format made General; QA).
    ("1.12.", "46357", DATE), ("2026-12-01", "46357", DATE), ("1/12", "46357", DATE),
    ("1.1.1990", "32874", DATE), ("1.12.2025", "46357", None), ("2.12.", "46357", None),
    ("3.4", "94", None), ("31.12.1989", "32873", None), ("1.12.", "146357", None),
    ("1.12.", "0", None), ("1.12.", "46357.5", None), ("1.12.", "046357", None),
    # Not what a spreadsheet makes of the value: an edit, or another value.
    ("1.12.", "2.12.", None), ("1.12.", "02.12.26", None), ("1.12.", "2026-01-12", None),
    ("12.1", "1.12.26", None), ("1.12.2026", "2025-12-01", None), ("31.2.", "2026-03-03", None),
    ("1.12.", "1.12", None), ("1.12.", "1.12.", None), ("1/12", "2026-12-02", None),
    ("50%", "0.6", None), ("50%", "50", None), ("50%", "5", None),
    ("1e5", "100001", None), ("1e5", "1e6", None), ("1.5", "1,6", None),
    ("1:30", "01:31:00", None), ("1:30", "1:30:00 PM", None), ("1:30", "13:30:00", None),
    ("TRUE", "0", None), ("TRUE", "FALSE", None), ("pravda", "NEPRAVDA", None),
    ("Oy True Ab", "OY TRUE AB", None), ("1001", "1001.0", None),
    # No date a spreadsheet writes: its day and month run into the year.
    ("1.12.", "1.122026", None), ("1.122026", "01.12.2026", None),
    # No time a spreadsheet writes: a 24-hour clock with PM, minutes past 59.
    ("13:30", "13:30 PM", None), ("1:90", "01:90:00", None),
    # No fraction: a zero under the line is no number to compare (nor a crash).
    ("1 1/0", "1", None),
    # No number: two minus signs are text to a spreadsheet.
    ("--5", "-5", None), ("(5-)", "-5", None),
]


@pytest.mark.parametrize(("old", "new", "kind"), CASES)
def test_what_a_spreadsheet_makes_of_a_value(old, new, kind):
    assert retyped_as(old, new) == kind


NUMBER_CASES = [
    # QA, LibreOffice 7.4 in fi, sv, cs and en locales: a negative number.
    ("(100)", "-100", NUMBER), ("( 5 )", "-5", NUMBER), ("100-", "-100", NUMBER),
    ("5,-", "-5", NUMBER), ("5,-", "5", NUMBER),  # `5,-`: whole units, or 5 and a minus
    # Thousands separators, decimal commas and points, as each locale reads them.
    ("1 000", "1000", NUMBER), ("1 234,5", "1234,5", NUMBER), ("5 000,00", "5000", NUMBER),
    ("1\u00a0000", "1000", NUMBER), ("1\u202f000", "1000", NUMBER),
    ("3,0", "3", NUMBER), (",5", "0,5", NUMBER), ("5,", "5", NUMBER), ("1,50", "1,5", NUMBER),
    ("1,000", "1", NUMBER), ("1,000", "1000", NUMBER), (".5", "0.5", NUMBER),
    ("5.", "5", NUMBER), ("1.000", "1", NUMBER), ("1.000", "1000", NUMBER),
    ("1 001", "1001", NUMBER), ("12", "12,00", None),
    # An XLSX written in one locale, saved as a CSV in another.
    ("1.5", "1,5", NUMBER),
    # 15 significant digits kept; long digit strings in scientific notation.
    ("3.14159265358979323", "3.14159265358979", NUMBER),
    ("12345678901234567890", "1,23456789012346E+019", NUMBER),
    ("12345678901234567890", "1.23456789012346E+19", NUMBER),
    ("12345678901234567890", "1.23E+19", NUMBER),
    ("12345678901234567890", "12345678901234600000", NUMBER),
    ("7350012345678901", "7350012345678900", NUMBER),
    # Rounding that carries past the 15th digit (review).
    ("12345678901239999", "12345678901240000", NUMBER),
    ("999999999999999999", "1000000000000000000", NUMBER),
    ("0.1234567890123999", "0.1234567890124", NUMBER),
    # Currencies, before or after, as symbols or codes.
    ("$1,000.00", "1000", AMOUNT), ("€ 5,00", "5", AMOUNT), ("5 €", "5", AMOUNT),
    ("€5", "5", AMOUNT), ("5 kr", "5,00 kr", AMOUNT), ("5 000 kr", "5\u00a0000,00 kr", AMOUNT),
    ("100 Kč", "100,00 Kč", AMOUNT), ("$5", "$5.00", AMOUNT), ("5 EUR", "5,00 €", AMOUNT),
    ("(€5)", "-5", AMOUNT), ("5,- Kč", "5,00 Kč", AMOUNT),
    # Saved as XLSX: a number cell, read back with a decimal point.
    ("12,5", "12.5", NUMBER), ("0,75", "0.75", NUMBER), ("1 1/4", "1.25", FRACTION),
    ("1 1/3", "1.33333333333333", FRACTION), ("1 1/3", "1.3333333333333333", FRACTION),
    ("2024-01-05 00:00:00", "2024-01-05", DATE),
    # Times and dates with times.
    ("10:", "10:00:00", TIME), ("12:00 PM", "12:00:00 PM", TIME),
    ("2026-12-01T10:00", "2026-12-01T10:00:00", DATE),
    ("2026-12-01T10:00", "2026-12-01 10:00:00", DATE),
    # A month by its name.
    ("Jan 5", "2026-01-05", DATE), ("Jan 5", "01/05/26", DATE), ("5 maj", "05.05.26", DATE),
    ("5. ledna 2027", "05.01.2027", DATE), ("Jan 5, 2027", "2027-01-05", DATE),
    # A year of one to three digits, written with two or four.
    ("1.2.3", "01.02.03", DATE), ("1.2.3", "01.02.2003", DATE), ("1/1/1", "01/01/01", DATE),
    ("3/4/5", "03/04/05", DATE), ("1.2.123", "01.02.0123", DATE),
]


@pytest.mark.parametrize(("old", "new", "kind"), NUMBER_CASES)
def test_what_a_spreadsheet_makes_of_a_number_amount_or_date(old, new, kind):
    assert retyped_as(old, new) == kind


def test_the_cheap_tests_pass_every_value_a_spreadsheet_retyped():
    # The import runs retyped_as only on the pairs that pass the two column regexes:
    # a pair they miss would be stored re-typed.
    accepted = [(old, new) for old, new, kind in CASES + NUMBER_CASES if kind]
    frame = pl.DataFrame(accepted, schema=["old", "new"], orient="row")
    missed = frame.filter(~pl.col("old").str.contains(RETYPED_LOOK)
                          | ~pl.col("new").str.contains(WRITTEN_LOOK)
                          | ~_same_digits_or_not_a_number(pl.col("new"), pl.col("old")))
    assert missed.rows() == []
    # And the digits test stops an edit of a number before any Python runs.
    edits = pl.DataFrame([("7", "10"), ("1 234,50", "1 300,00"), ("(100)", "-200")],
                         schema=["old", "new"], orient="row")
    assert not edits.select(
        _same_digits_or_not_a_number(pl.col("new"), pl.col("old")).any()).item()


@pytest.mark.parametrize(("old", "new"), [
    # Another number, sign or currency: an edit.
    ("1 000", "2000"), ("(100)", "100"), ("100-", "100"), ("3,0", "3,1"), ("1,000", "10"),
    ("5 kr", "6,00 kr"), ("5", "5,00 kr"), ("$5", "5,00 kr"), ("1 234,5", "1234"),
    ("12345678901234567890", "1.23456789012347E+19"),
    ("12345678901234567890", "12345678901234500000"), ("3.14159265358979323", "3.1415926535898"),
    # Leading zeros dropped from free text is an edit there (a group `7` beside `007`).
    ("007", "7"), ("01", "1"), ("0 800", "800"),
    # Not a form a spreadsheet writes: one trailing zero, leading zeros.
    ("1001", "1001.0"), ("7", "007"),
    ("1 1/4", "1.5"), ("1 1/4", "1 1/2"), ("10:", "10:01:00"), ("12:00 PM", "12:00:00 AM"),
    ("2026-12-01T10:00", "2026-12-01T11:00:00"), ("2026-12-01T10:00", "2026-12-01"),
    ("2024-01-05 00:00:00", "2024-01-06"), ("Jan 5", "2026-01-06"), ("Jan 5", "2026-05-02"),
    ("Katu 5", "2026-01-05"), ("1.2.3", "01.02.04"), ("1.2.3", "02.01.03"),
    ("3/4/5", "03/04/06"),
])
def test_an_edit_of_a_number_amount_or_date_is_not_taken_for_one(old, new):
    assert retyped_as(old, new) is None


NUMBERS = (HEADER
           + "7201;Numerot Oy;(100);1 000;5,-;12345678901234567890\n"
           + "7202;Summat Oy;€5;5 kr;100 Kč;3.14159265358979323\n"
           + "7203;Ajat Oy;10:;Jan 5;1.2.3;2026-12-01T10:00\n"
           + "7204;Murtoluvut Oy;1 1/4;12,5;0,75;2024-01-05 00:00:00\n")


def groups_of(db: str) -> list[str]:
    opened = open_register(db, create=False)
    try:
        return sorted(opened.group_names()["name"].to_list())
    finally:
        opened.close()


def test_numbers_amounts_and_dates_a_spreadsheet_retyped_keep_the_registers(register_url,
                                                                            tmp_path):
    # QA (LibreOffice 7.4, fi/sv/cs/en): each of these came back re-typed, the import
    # stored it (exit 0) and created groups '-5', '100,00 Kč', '01.02.2003', '0.75'.
    seed_register(register_url, NUMBERS, tmp_path)
    before = customers(register_url)
    source = write_csv(tmp_path / "back.csv", HEADER
                       + "7201;Numerot Oy;-100;1000;-5;1,23456789012346E+019\n"
                       + "7202;Summat Oy;5;5,00 kr;100,00 Kč;3.14159265358979\n"
                       + "7203;Ajat Oy;10:00:00;2026-01-05;01.02.2003;2026-12-01T10:00:00\n"
                       + "7204;Murtoluvut Oy;1.25;12.5;0.75;2024-01-05\n")
    report = tmp_path / "report.csv"
    result = run_cli("import", source, "--db", register_url, "--yes", "--json",
                     "--report", report)
    assert result.exit_code == 0, result.stderr
    assert result.json()["unchanged"] == 4
    assert customers(register_url) == before
    assert groups_of(register_url) == ["0,75", "1.2.3", "100 Kč", "5,-"]
    rows = {int(r["row"]): r for r in report_rows(report)}
    assert rows[2]["message"] == (
        "street_address: kept '(100)': the file has '-100' (a spreadsheet read it as a "
        "number); city: kept '1 000': the file has '1000' (a spreadsheet read it as a "
        "number); customer_group: kept '5,-': the file has '-5' (a spreadsheet read it as "
        "a number); notes: kept '12345678901234567890': the file has "
        "'1,23456789012346E+019' (a spreadsheet read it as a number)")
    assert rows[3]["message"].startswith(
        "street_address: kept '€5': the file has '5' (a spreadsheet read it as an amount)")
    assert "customer_group: kept '1.2.3': the file has '01.02.2003' (a spreadsheet read it " \
           "as a date)" in rows[4]["message"]
    assert "street_address: kept '1 1/4': the file has '1.25' (a spreadsheet read it as a " \
           "fraction)" in rows[5]["message"]


def test_numbers_a_spreadsheet_saved_in_an_xlsx_keep_the_registers(register_url, tmp_path):
    # The same file opened in a spreadsheet and saved as XLSX: number and date cells.
    seed_register(register_url, NUMBERS, tmp_path)
    before = customers(register_url)
    source = write_xlsx(tmp_path / "back.xlsx", [
        HEADER.strip().split(";"),
        [7201, "Numerot Oy", -100, 1000, -5, 12345678901234567890.0],
        [7202, "Summat Oy", 5, "5,00 kr", "100,00 Kč", 3.14159265358979323],
        [7203, "Ajat Oy", "10:00:00", datetime.date(2026, 1, 5), datetime.date(2003, 2, 1),
         datetime.datetime(2026, 12, 1, 10, 0)],
        [7204, "Murtoluvut Oy", 1.25, 12.5, 0.75, datetime.date(2024, 1, 5)]])
    result = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["unchanged"] == 4
    assert customers(register_url) == before
    assert groups_of(register_url) == ["0,75", "1.2.3", "100 Kč", "5,-"]


def test_an_edited_number_is_stored(register_url, tmp_path):
    seed_register(register_url, NUMBERS, tmp_path)
    _, rows = preview(register_url, tmp_path, HEADER
                      + "7201;Numerot Oy;100;2000;-6;1,23456789012347E+019\n"
                      + "7202;Summat Oy;5;6,00 kr;100,00 Kč;3.14159265358979\n")
    assert (rows[2]["status"], rows[2]["changed_fields"]) == (
        "Modified", "street_address|city|customer_group|notes")
    assert "kept" not in rows[2]["message"]
    assert (rows[3]["status"], rows[3]["changed_fields"]) == ("Modified", "city")


def test_a_new_value_in_scientific_notation_is_stored_with_a_warning(register_url, tmp_path):
    # QA: notes 12345678901234567890 came back as 1,23456789012346E+019; with no register
    # value to compare, the digits it lost are gone: stored (notes are free text), said.
    seed_register(register_url, NUMBERS, tmp_path)
    answer, rows = preview(register_url, tmp_path, HEADER
                           + "7301;Uusi Oy;;;;1,23456789012346E+019\n"
                           + "7204;Murtoluvut Oy;;;;1.23457E+19\n"
                           + "7201;Numerot Oy;;;;1.23456789012346E+19\n"
                           + "7302;Toinen Oy;;;;1e19\n"
                           + "7303;Kolmas Oy;;;;1E+5\n")
    assert (rows[2]["status"], rows[2]["message"]) == (
        "New", "notes: '1,23456789012346E+019' looks like a number a spreadsheet wrote in "
               "scientific notation, which keeps its first digits only; check it")
    assert (rows[3]["status"], rows[3]["message"]) == (
        "Modified", "notes: '1.23457E+19' looks like a number a spreadsheet wrote in "
                    "scientific notation, which keeps its first digits only; check it")
    assert (rows[4]["status"], rows[4]["message"]) == (
        "No change", "notes: kept '12345678901234567890': the file has "
                     "'1.23456789012346E+19' (a spreadsheet read it as a number)")
    assert (rows[5]["status"], rows[5]["message"]) == ("New", "")  # typed so
    # A spreadsheet writes two exponent digits at least (1E+05): typed so too.
    assert (rows[6]["status"], rows[6]["message"]) == ("New", "")


def test_an_id_in_scientific_notation_rejects_its_row(register_url, tmp_path):
    # QA: `5,56036E+11` replaced a customer's VAT number, and a New German customer
    # was stored with a business id of `1,23457E+11`, both with exit 0 and no word.
    source = write_csv(tmp_path / "s.csv", "customer_number;name;country;vat_id\n"
                                           "1005;Berg AB;SE;SE556036079301\n")
    assert run_cli("import", source, "--db", register_url, "--yes").exit_code == 0
    answer, rows = preview(register_url, tmp_path,
                           "customer_number;name;country;business_id;vat_id\n"
                           "1005;Berg AB;SE;;5,56036E+11\n"
                           ";Beispiel GmbH;DE;1,23457E+11;\n")
    assert answer["rejected"] == 2
    assert rows[2]["message"] == ("vat_id: a number in scientific notation lost digits: "
                                  "'5,56036E+11'")
    assert rows[3]["message"] == ("business_id: a number in scientific notation lost "
                                  "digits: '1,23457E+11'")


def test_long_whole_numbers_that_share_a_double_are_an_edit() -> None:
    # Review: any two numbers of 17+ digits that land on one double counted as re-typed,
    # so an edit of a 20-digit reference number's last digits was swallowed.
    assert retyped_as("12345678901234567890", "12345678901234567891") is None
    assert retyped_as("12345678901234567", "12345678901234568") is None
    assert retyped_as("12345678901234567890", "12345678901234600000") is not None


def test_a_fraction_of_thousands_of_digits_is_no_crash() -> None:
    assert retyped_as("1 " + "9" * 5000 + "/4", "5") is None


@pytest.mark.parametrize(("old", "new"), [
    ("2.1", "2.10"), ("1.2", "1.20"), ("1,5", "1,50"), ("3", "3.00"), ("10", "10,00"),
    ("5", "+5")])
def test_decimals_or_a_plus_added_to_a_plain_number_are_an_edit(old: str, new: str) -> None:
    # QA: a version number 2.1 edited to 2.10 was kept as re-typed; a spreadsheet writes
    # two decimals only in an amount's format, and never a plus sign.
    assert retyped_as(old, new) is None


def test_an_amount_may_come_back_with_two_decimals() -> None:
    assert retyped_as("5 kr", "5,00 kr") is not None
    assert retyped_as("€5", "5,00 €") is not None


def test_values_of_thousands_of_digits_are_no_crash() -> None:
    big = "9" * 5000
    for old, new in ((big, big + "e5"), ("1e5", big), ("5 kr", big), ("1 1/4", big),
                     (f"({big})", big)):
        assert retyped_as(old, new) is None
