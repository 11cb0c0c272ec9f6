"""Text a spreadsheet re-typed on a round trip (a day and month read as a date, `50%` as
0.5, `1e5` as 100000, `1:30` as a time, `true` as TRUE) keeps the register's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.retyped import DATE, LOGICAL, NUMBER, PERCENTAGE, TIME, retyped_as
from sync.writers.register import open_register
from tests.conftest import customers, load_register, report_rows, run_cli, write_csv

HEADER = "customer_number;name;street_address;city;customer_group;notes\n"
REGISTER = (HEADER
            + "7001;True;1/12;1.12.;1.12.;50%\n"
            + "7002;Kahvila Aurinko Oy;1-12;12/1;1:30;1e5\n"
            + "7003;Matti Virtanen;;1.12.;;50%\n"
            + "7004;Liisa Laine;;;;false\n")


@pytest.fixture
def register(register_url: str, tmp_path: Path) -> str:
    """The customers above, on each engine."""
    load_register(register_url, REGISTER, tmp_path)
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


@pytest.mark.parametrize(("old", "new", "kind"), [
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
    # Not what a spreadsheet makes of the value: an edit, or another value.
    ("1.12.", "2.12.", None), ("1.12.", "02.12.26", None), ("1.12.", "2026-01-12", None),
    ("12.1", "1.12.26", None), ("1.12.2026", "2025-12-01", None), ("31.2.", "2026-03-03", None),
    ("1.12.", "1.12", None), ("1.12.", "1.12.", None), ("1/12", "2026-12-02", None),
    ("50%", "0.6", None), ("50%", "50", None), ("50%", "5", None),
    ("1e5", "100001", None), ("1e5", "1e6", None), ("1.5", "1,5", None),
    ("1:30", "01:31:00", None), ("1:30", "1:30:00 PM", None), ("1:30", "13:30:00", None),
    ("TRUE", "0", None), ("TRUE", "FALSE", None), ("pravda", "NEPRAVDA", None),
    ("Oy True Ab", "OY TRUE AB", None), ("1001", "1001.0", None),
])
def test_what_a_spreadsheet_makes_of_a_value(old, new, kind):
    assert retyped_as(old, new) == kind
