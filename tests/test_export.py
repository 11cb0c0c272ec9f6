"""`regsync export` as users run it: formats, headers, selection, formula safety."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.readers.neutralise import TRIGGERS, unneutralise
from sync.writers.cells import neutralise, spreadsheet_safe
from tests.conftest import (
    customers,
    load_register,
    register_state,
    run_cli,
    seed_register,
    write_csv,
)

SEED = ("customer_number;customer_type;name;business_id;phone;postal_code;city;country;"
        "customer_group;notes\n"
        "1001;company;Kahvila Aurinko Oy;0112038-9;+358401234567;00100;Helsinki;FI;Helsinki;\n"
        "1002;person;Matti Virtanen;;040 123 4567;33100;Tampere;FI;;-huom\n"
        "007;company;=Summa;;;02100;Espoo;FI;Helsinki;\n"
        "1004;company;-Oy-;;;11455;Stockholm;SE;Oulu;\n")


@pytest.fixture
def db(register_url: str, tmp_path: Path) -> str:
    """The register above, on each engine."""
    seed_register(register_url, SEED, tmp_path)
    return register_url


def export(db: Path, dest: Path, *args: str) -> dict:
    result = run_cli("export", dest, "--db", db, "--json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


def rows_of(path: Path, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")),
                           delimiter=delimiter))


def test_csv_is_utf8_with_bom_comma_for_english_and_neutralised(db: Path,
                                                                  tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    assert export(db, dest) == {"count": 4, "path": str(dest), "format": "csv",
                                "not_found": 0}
    assert dest.read_bytes().startswith(b"\xef\xbb\xbfcustomer_number,customer_type,name,")
    table = rows_of(dest, ",")
    by_number = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert by_number["1001"]["phone"] == "'+358401234567"
    assert by_number["1002"]["phone"] == "'+358401234567"  # canonical E.164
    assert by_number["007"]["name"] == "'=Summa"
    assert by_number["1004"]["name"] == "'-Oy-"
    assert by_number["1002"]["notes"] == "'-huom"
    assert by_number["1001"]["customer_group"] == "Helsinki"  # the group's name
    assert all(not cell or cell[0] not in TRIGGERS for row in table for cell in row)


def test_finnish_headers_semicolon_and_spreadsheet_guard(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "asiakkaat.csv"
    export(db, dest, "--headers", "fi", "--spreadsheet-safe")
    table = rows_of(dest, ";")
    assert table[0][:4] == ["Asiakasnumero", "Asiakastyyppi", "Nimi", "Y-tunnus"]
    guarded = {r[0]: r for r in table[1:]}
    assert guarded['="007"'][8] == '="02100"'
    assert guarded['="007"'][2] == "'=Summa"
    again = run_cli("preview", dest, "--db", db, "--plan", tmp_path / "p.plan", "--json")
    assert again.json()["unchanged"] == 4


@pytest.mark.parametrize(("value", "written"), [
    ("00100", '="00100"'), ("358401234567", '="358401234567"'),
    ("12345678901234567890", '="12345678901234567890"'), ("35840123456", "35840123456"),
    ("1001", "1001"), ("+358401234567", "'+358401234567")])
def test_the_spreadsheet_guard_covers_values_a_spreadsheet_would_damage(
        value: str, written: str) -> None:
    # QA: 12 digits or more were written bare, and a spreadsheet saved them as
    # 1.23457E+19, which the import then rejects (or, in a custom field, stores).
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(spreadsheet_safe(pl.col("v")))["v"][0] == written


@pytest.mark.parametrize(("value", "written"), [
    ("1.12.", '="1.12."'), ("1/12", '="1/12"'), ("12-1", '="12-1"'),
    ("1.12.2026", '="1.12.2026"'), ("50%", '="50%"'), ("12,5 %", '="12,5 %"'),
    ("1e5", '="1e5"'), ("1:30", '="1:30"'), ("TRUE", '="TRUE"'), ("epätosi", '="epätosi"'),
    ("Katu 1/12 B", "Katu 1/12 B"), ("Kahvila Aurinko Oy", "Kahvila Aurinko Oy"),
    ("2617416-4", '="2617416-4"'),  # starts with a digit: guarded, harmlessly
    # Excel takes no text of more than 255 characters in a formula (#VALUE!, review),
    # and no long or multi-line value is a number, date or time a spreadsheet re-types.
    ("1. " + "x" * 253, "1. " + "x" * 253), ("1. " + "x" * 252, '="1. ' + "x" * 252 + '"'),
    ("1. soitto\n2. soitto", "1. soitto\n2. soitto")])
def test_the_spreadsheet_guard_covers_text_a_spreadsheet_would_retype(value: str,
                                                                      written: str) -> None:
    # QA (LibreOffice round trips): 1.12. came back as 01.12.26, 50% as 0.5, 1e5 as
    # 100000, 1:30 as 01:30:00, TRUE as true.
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(spreadsheet_safe(pl.col("v")))["v"][0] == written


@pytest.mark.parametrize("value", [
    # QA (LibreOffice 7.4, fi/sv/cs/en): each was read as a number, amount, date, time or
    # fraction and saved so, though exported with --spreadsheet-safe.
    "(100)", "( 5 )", "100-", "5,-", "1 000", "1 234,5", "5 000,00", "3,0", ",5", "5,",
    "1,50", "1,000", ".5", "5.", "1.000", "$1,000.00", "3.14159265358979323", "€ 5,00",
    "5 €", "€5", "5 kr", "5\u00a0000 kr", "100 Kč", "$5", "EUR 5", "10:",
    "2026-12-01T10:00", "12:00 PM", "Jan 5", "maj 5", "5. ledna", "12,5", "0,75", "1 1/4",
    "2024-01-05 00:00:00", "1.2.3", "1/1/1", "1 001", "10 Downing Street"])
def test_the_spreadsheet_guard_covers_every_value_a_spreadsheet_may_read_as_a_number(
        value: str) -> None:
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(spreadsheet_safe(pl.col("v")))["v"][0] == f'="{value}"'


def test_a_customer_number_with_a_space_is_guarded_and_reads_back_as_it_is(
        register_url: str, tmp_path: Path) -> None:
    # QA: 1 001 came back as 1001 through --spreadsheet-safe, and the row overwrote
    # customer 1001's name and city.
    load_register(register_url, "Asiakasnumero;Nimi;Postitoimipaikka\n"
                                "1 001;Aho Oy;Espoo\n1001;Laine Oy;Oulu\n", tmp_path)
    dest = tmp_path / "asiakkaat.csv"
    export(register_url, dest, "--headers", "fi", "--spreadsheet-safe")
    assert [row[0] for row in rows_of(dest, ";")] == ["Asiakasnumero", '="1 001"', "1001"]
    before = customers(register_url)
    again = run_cli("import", dest, "--db", register_url, "--yes", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["unchanged"] == 2
    assert customers(register_url) == before


def test_text_a_spreadsheet_would_retype_is_guarded_and_reads_back_unchanged(
        register_url: str, tmp_path: Path) -> None:
    load_register(register_url, "Asiakasnumero;Nimi;Katuosoite;Postitoimipaikka;"
                                "Asiakasryhmä;Lisätiedot\n"
                                "7001;True;1/12;1.12.;1.12.;50%\n"
                                "7002;Aho Oy;1-12;12/1;1:30;1e5\n", tmp_path)
    dest = tmp_path / "asiakkaat.csv"
    export(register_url, dest, "--headers", "fi", "--spreadsheet-safe")
    table = rows_of(dest, ";")
    by_number = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert [by_number["7001"][h] for h in ("Nimi", "Postitoimipaikka", "Asiakasryhmä",
                                           "Lisätiedot")] == [
        '="True"', '="1.12."', '="1.12."', '="50%"']
    assert [by_number["7002"][h] for h in ("Katuosoite", "Asiakasryhmä", "Lisätiedot")] == [
        '="1-12"', '="1:30"', '="1e5"']
    report = tmp_path / "r.csv"
    again = run_cli("preview", dest, "--db", register_url, "--plan", tmp_path / "p.plan",
                    "--report", report, "--json")
    assert again.json()["unchanged"] == 2
    assert [row["message"] for row in csv.DictReader(report.open(encoding="utf-8"))] == [
        "", ""]


def test_no_bom_and_explicit_delimiter(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.txt"
    export(db, dest, "--no-bom", "--delimiter", "tab", "--headers", "sv")
    assert dest.read_bytes().startswith(b"Kundnummer\tKundtyp\t")


def test_xlsx_cells_are_text_header_frozen_widths_fit(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.xlsx"
    export(db, dest, "--headers", "cs")
    sheet = openpyxl.load_workbook(dest).active
    assert sheet.title == "Zákazníci"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]][:3] == ["Číslo zákazníka", "Typ zákazníka", "Název"]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.number_format == "@"
            assert cell.value is None or cell.data_type == "s"
    numbers = [r[0].value for r in sheet.iter_rows(min_row=2)]
    assert "007" in numbers
    names = [r[2].value for r in sheet.iter_rows(min_row=2)]
    assert "'=Summa" in names and "'-Oy-" in names
    assert sheet.column_dimensions["C"].width >= len("Kahvila Aurinko Oy")


def test_parquet_is_text_columns_with_exact_values(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    export(db, dest)
    frame = pl.read_parquet(dest)
    assert frame.schema == {c: pl.String for c in frame.columns}
    assert frame.filter(pl.col("customer_number") == "007")["name"].to_list() == ["=Summa"]
    assert frame["postal_code"].to_list() == ["00100", "33100", "02100", "11455"]


def test_selection_options(db: Path, tmp_path: Path) -> None:
    def numbers(*args: str) -> list[str]:
        dest = tmp_path / "sel.parquet"
        export(db, dest, *args)
        return pl.read_parquet(dest)["customer_number"].to_list()

    assert numbers("--group", "HELSINKI") == ["1001", "007"]
    assert numbers("--type", "person") == ["1002"]
    assert numbers("--where", "city=Espoo") == ["007"]
    assert numbers("--where", "Postinumero=2100", "--where", "customer_type=Yritys") == ["007"]
    assert numbers("--where", "customer_group=") == ["1002"]
    # A name is compared as matching compares names: case and spacing are ignored.
    assert numbers("--where", "name=kahvila   AURINKO oy") == ["1001"]
    assert numbers("--include-invalidated") == ["1001", "1002", "007", "1004"]
    listed = write_csv(tmp_path / "numbers.txt", "1004\n\n007\n9999\n")
    result = run_cli("export", tmp_path / "l.csv", "--db", db, "--customers", listed, "--json")
    assert (result.json()["count"], result.json()["not_found"]) == (2, 1)


def test_where_the_default_country_finds_customers_without_a_country(db: Path,
                                                                     tmp_path: Path) -> None:
    # QA: docs/export.md's `--where country=FI` left out customers imported from a file
    # without a country column, which every other step reads as Finnish.
    plain = write_csv(tmp_path / "plain.csv", "customer_number;name\n3001;Liisa Laine\n")
    assert run_cli("import", plain, "--db", db, "--yes").exit_code == 0
    dest = tmp_path / "sel.parquet"
    export(db, dest, "--where", "country=Suomi")
    assert pl.read_parquet(dest)["customer_number"].to_list() == ["1001", "1002", "007",
                                                                  "3001"]
    export(db, dest, "--where", "country=SE")
    assert pl.read_parquet(dest)["customer_number"].to_list() == ["1004"]


def test_changed_since_batch_and_date(db: Path, tmp_path: Path) -> None:
    edit = write_csv(tmp_path / "e.csv", "customer_number;city\n1002;Pori\n")
    assert run_cli("import", edit, "--db", db, "--yes").exit_code == 0  # batch 2
    for since, expected in (("2", 1), ("1", 4), ("3", 0), ("2000-01-01", 4),
                            ("2999-01-01T00:00+00:00", 0)):
        assert export(db, tmp_path / "c.csv", "--changed-since", since)["count"] == expected


@pytest.mark.parametrize(("args", "message"), [
    (("--group", "Nowhere"), "no such group"),
    (("--where", "colour=red"), "unknown field"),
    (("--where", "city"), "FIELD=VALUE"),
    # Values an import rejects: no customer has them, so an empty export would mislead.
    (("--where", "country=Sweeden"), "an import rejects this value"),
    (("--where", "business_id=1234567-8"), "invalid FI business ID"),
    (("--where", "customer_type=firm"), "unknown customer type"),
    (("--changed-since", "yesterday"), "batch id"),
    (("--delimiter", ":"), "--delimiter"),
    # An option of another format was ignored without a word (QA).
    (("--labels", "8x3"), "--labels applies to labels exports only, not csv"),
    (("--format", "xlsx", "--no-bom"), "--bom/--no-bom applies to csv exports only"),
    (("--format", "parquet", "--delimiter", ";"), "--delimiter applies to csv exports only"),
])
def test_bad_selection_is_exit_2_and_writes_nothing(db: Path, tmp_path: Path, args, message):
    dest = tmp_path / "out.csv"
    result = run_cli("export", dest, "--db", db, "--json", *args)
    assert result.exit_code == 2
    assert message in result.json()["error"]
    assert not dest.exists() and list(tmp_path.glob(".out.csv*")) == []


def test_export_never_writes_to_the_register(db: Path, tmp_path: Path) -> None:
    before = register_state(db)
    listed = write_csv(tmp_path / "n.txt", "1001\n")
    for name in ("a.csv", "a.xlsx", "a.parquet", "a.vcf", "a.pdf"):
        export(db, tmp_path / name, "--customers", listed)
    assert register_state(db) == before


def test_a_value_too_long_for_an_xlsx_cell_names_its_customer_and_field(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    long_notes = "x" * 40_000
    source = write_csv(tmp_path / "s.csv", f"customer_number;name;notes\n1001;Aho Oy;\n"
                                           f"1002;Berg AB;\n-5;Miinus Oy;{long_notes}\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    dest = tmp_path / "out.xlsx"
    result = run_cli("export", dest, "--db", db, "--json")
    assert result.exit_code == 2
    # The number as the register holds it, not as guarded for the sheet ('-5).
    assert "customer -5, notes (row 4," in result.json()["error"]
    assert "40000 characters" in result.json()["error"] and not dest.exists()


def test_a_value_shaped_like_a_text_guard_survives_a_parquet_round_trip(tmp_path: Path) -> None:
    # `'="00100"` in a CSV is the text `="00100"` (the quote says: not a guard). A
    # Parquet export writes it as it is, and reading it back must not unwrap it.
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "customer_number;name;notes\n"
                                           "1;\"'=\"\"00100\"\"\";\"'=\"\"abc\"\"\"\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    assert customers(db)["1"]["name"] == '="00100"'
    dest = tmp_path / "out.parquet"
    export(db, dest)
    result = run_cli("preview", dest, "--db", db, "--json")
    assert result.exit_code == 0 and result.json()["unchanged"] == 1, result.stdout


def test_missing_register_and_unknown_extension_are_exit_2(tmp_path: Path) -> None:
    result = run_cli("export", tmp_path / "a.csv", "--db", tmp_path / "none.db", "--json")
    assert result.exit_code == 2 and "no register" in result.json()["error"]
    assert not (tmp_path / "none.db").exists()
    result = run_cli("export", tmp_path / "a.json", "--db", tmp_path / "none.db", "--json")
    assert result.exit_code == 2 and "--format" in result.json()["error"]


def test_format_option_overrides_the_extension(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "customers.dat"
    assert export(db, dest, "--format", "parquet")["format"] == "parquet"
    assert pl.read_parquet(dest).height == 4


def test_reimport_into_an_empty_register_copies_every_value(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.xlsx"
    export(db, dest, "--headers", "fi")
    copy = tmp_path / "copy.db"
    assert run_cli("import", dest, "--db", copy, "--yes").exit_code == 0
    strip = ("id", "group_id", "created_batch", "updated_batch")
    original, copied = customers(db), customers(copy)
    assert {n: {k: v for k, v in c.items() if k not in strip} for n, c in copied.items()} == \
           {n: {k: v for k, v in c.items() if k not in strip} for n, c in original.items()}


@given(st.text(alphabet="'=+-@\t\rab0 \"", max_size=8))
def test_neutralisation_is_undone_exactly(value: str) -> None:
    frame = pl.DataFrame({"v": [value]})
    written = frame.select(neutralise(pl.col("v")))["v"][0]
    assert not written or written[0] not in TRIGGERS
    assert pl.DataFrame({"v": [written]}).select(unneutralise(pl.col("v")))["v"][0] == value
    guarded = frame.select(spreadsheet_safe(pl.col("v")))["v"][0]
    assert guarded.startswith('="') or not guarded or guarded[0] not in TRIGGERS


def test_an_export_without_the_rules_keeps_the_registers_custom_fields(register_url: str,
                                                                        tmp_path: Path):
    # Exported without --rules, the custom column was left out: moving a register by
    # export and import lost its values without a word.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.loyalty_id]\naliases = ["Kanta-asiakasnumero"]\n'
                     'normaliser = "compact"\n')
    source = write_csv(tmp_path / "s.csv", "Asiakasnumero;Nimi;Kanta-asiakasnumero\n"
                                           "1001;Aho Oy;AB 12\n1002;Laine Oy;\n")
    assert run_cli("import", source, "--db", register_url, "--yes", "--rules",
                   rules).exit_code == 0
    for fmt in ("csv", "parquet", "xlsx"):
        out = tmp_path / f"plain.{fmt}"
        assert run_cli("export", out, "--db", register_url).exit_code == 0
        frame = (pl.read_csv(out, infer_schema=False) if fmt == "csv"
                 else pl.read_parquet(out) if fmt == "parquet"
                 else pl.read_excel(out, infer_schema_length=0))
        assert frame.columns[-1] == "loyalty_id", fmt
        assert frame.sort("customer_number")["loyalty_id"].to_list() == ["AB12", None], fmt
    with_rules = tmp_path / "with_rules.csv"
    assert run_cli("export", with_rules, "--db", register_url, "--rules", rules).exit_code == 0
    assert pl.read_csv(with_rules, infer_schema=False).columns.count("loyalty_id") == 1
    # Imported back with the rules, the export changes nothing.
    again = run_cli("preview", tmp_path / "plain.csv", "--db", register_url, "--rules", rules,
                    "--json")
    assert again.json()["unchanged"] == 2, again.stdout
    # Without them, its edits would be ignored with exit 0 (QA): refused instead.
    for fmt in ("csv", "parquet", "xlsx"):
        refused = run_cli("import", tmp_path / f"plain.{fmt}", "--db", register_url, "--yes",
                          "--json")
        assert refused.exit_code == 2, refused.stdout
        assert refused.json()["error"] == (
            f"{tmp_path / f'plain.{fmt}'}: column 'loyalty_id' is the register's custom field "
            "loyalty_id, which the rules in use do not define, so its values would be "
            "ignored; pass the rule file that defines it (--rules), or remove the column")



def test_an_export_under_the_rules_headers_is_refused_without_the_rules(register_url: str,
                                                                        tmp_path: Path):
    # QA: exported with the rule file, the custom field's header was the rules' alias;
    # imported back without the rule file, the column was only "ignored", exit 0, and
    # every edit in it was lost. The register now remembers the headers its rules named.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.loyalty_id]\naliases = ["Loyalty ID"]\nnormaliser = "compact"\n'
                     'headers = { fi = "Kanta-asiakasnumero", sv = "Stamkundsnummer", '
                     'cs = "Věrnostní číslo" }\n')
    source = write_csv(tmp_path / "s.csv", "Asiakasnumero;Nimi;Loyalty ID\n"
                                           "1001;Aho Oy;AB 12\n")
    assert run_cli("import", source, "--db", register_url, "--yes", "--rules",
                   rules).exit_code == 0
    for lang, header in (("fi", "Kanta-asiakasnumero"), ("sv", "Stamkundsnummer")):
        out = tmp_path / f"{lang}.csv"
        assert run_cli("export", out, "--db", register_url, "--rules", rules,
                       "--headers", lang).exit_code == 0
        edited = out.read_text(encoding="utf-8-sig").replace("AB12", "AB13")
        out.write_text(edited, encoding="utf-8")
        assert edited.splitlines()[0].endswith(header)
        refused = run_cli("import", out, "--db", register_url, "--yes", "--json")
        assert refused.exit_code == 2, refused.stdout
        assert refused.json()["error"] == (
            f"{out}: column '{header}' is the register's custom field loyalty_id, which the "
            "rules in use do not define, so its values would be ignored; pass the rule file "
            "that defines it (--rules), or remove the column")
    # Saved in an encoding without its letters (QA: `V?rnostní ?íslo` was ignored).
    damaged = write_csv(tmp_path / "cp1252.csv", "Asiakasnumero;V?rnostní ?íslo\n1001;AB 15\n")
    refused = run_cli("preview", damaged, "--db", register_url, "--json")
    assert refused.exit_code == 2, refused.stdout
    assert "column 'V?rnostní ?íslo' is the register's custom field loyalty_id" \
        in refused.json()["error"]
    # Another source's column of the alias too; with the rules the edit is taken.
    other = write_csv(tmp_path / "o.csv", "Asiakasnumero;LOYALTY-ID\n1001;AB 14\n")
    assert run_cli("preview", other, "--db", register_url).exit_code == 2
    assert run_cli("import", tmp_path / "fi.csv", "--db", register_url, "--yes",
                   "--rules", rules).exit_code == 0
    assert customers(register_url)["1001"]["loyalty_id"] == "AB13"


class _FullDisk:
    """A file on a disk that is full: every write fails with ENOSPC, as write(2) does."""

    def __init__(self, file: object) -> None:
        self._file = file

    def write(self, _data: bytes) -> int:
        import errno
        import os

        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> object:
        return getattr(self._file, name)


def test_an_xlsx_export_onto_a_full_disk_is_one_line_exit_2_with_no_stray_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: exit 70, "internal error (FileCreateError: [Errno 28] ...)", then "Exception
    # ignored in ZipFile.__del__" and a traceback, where csv, parquet, vcf and pdf say
    # "cannot write the export (No space left on device)", exit 2.
    import gc
    import sys
    import zipfile

    import xlsxwriter.workbook

    db = tmp_path / "r.db"
    load_register(db, SEED, tmp_path)

    class ZipOnFullDisk(zipfile.ZipFile):  # the zip file xlsxwriter writes the book to
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.fp = _FullDisk(self.fp)  # type: ignore[assignment]

    monkeypatch.setattr(xlsxwriter.workbook, "ZipFile", ZipOnFullDisk)
    stray: list[object] = []  # what Python prints as "Exception ignored in ..."
    monkeypatch.setattr(sys, "unraisablehook", stray.append)
    out = tmp_path / "out" / "customers.xlsx"
    out.parent.mkdir()
    result = run_cli("export", out, "--db", db)
    gc.collect()
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (f"regsync: error: {out}: cannot write the export (No space "
                             f"left on device); nothing was written\n")
    assert stray == []
    assert list(out.parent.iterdir()) == []  # neither the export nor its row files


def test_an_xlsx_export_whose_sheet_fills_the_disk_is_one_line_exit_2_with_nothing_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The data rows are written by regsync, into a zip file of its own (xlsxwriter writes
    # the workbook's other parts): the disk filling up there is told the same way.
    import gc
    import sys
    import zipfile

    import sync.writers.export_xlsx as export_xlsx

    db = tmp_path / "r.db"
    load_register(db, SEED, tmp_path)

    class ExportOnFullDisk(zipfile.ZipFile):
        def __init__(self, file: object, mode: str = "r", *args: object,
                     **kwargs: object) -> None:
            super().__init__(file, mode, *args, **kwargs)  # type: ignore[arg-type]
            if mode == "w":
                self.fp = _FullDisk(self.fp)  # type: ignore[assignment]

    monkeypatch.setattr(export_xlsx.zipfile, "ZipFile", ExportOnFullDisk)
    stray: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", stray.append)
    out = tmp_path / "out" / "customers.xlsx"
    out.parent.mkdir()
    result = run_cli("export", out, "--db", db)
    gc.collect()
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (f"regsync: error: {out}: cannot write the export (No space "
                             f"left on device); nothing was written\n")
    assert stray == []
    assert list(out.parent.iterdir()) == []


def test_a_where_value_holding_a_control_character_is_refused(tmp_path: Path) -> None:
    # QA: `--where name=<ESC>` exported an empty file, as if no customer matched; an
    # import rejects such a value, so it is refused as other values an import rejects.
    db = tmp_path / "r.db"
    load_register(db, "customer_number;name\n1001;Aho Oy\n", tmp_path)
    dest = tmp_path / "out.csv"
    result = run_cli("export", dest, "--db", db, "--where", "name=Aho\x1bOy", "--json")
    assert result.exit_code == 2
    assert result.json()["error"] == (
        "--where name=Aho\\x1bOy: the value holds a control character; an import rejects "
        "such a value, so no customer has it")
    assert not dest.exists()


def test_where_finds_a_number_with_a_line_break_a_register_took_before_they_were_refused(
        tmp_path: Path) -> None:
    # Review: such a number (imported by an older regsync) was "rejected by an import, so
    # no customer has it", while the customer was there.
    from tests.conftest import execute_sql

    db = tmp_path / "r.db"
    load_register(db, "customer_number;name\n2002;Aho Oy\n1001;Berg AB\n", tmp_path)
    execute_sql(db, "UPDATE {customers} SET customer_number = ? WHERE customer_number = ?",
                ("20\n02", "2002"))
    dest = tmp_path / "out.csv"
    result = run_cli("export", dest, "--db", db, "--where", "customer_number=20\n02", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["count"] == 1
