"""Export behaviour users rely on that mutation testing found unguarded (branch mut-io)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest

import sync.writers.export_xlsx as export_xlsx
import sync.writers.report as report
from sync.errors import ExportError
from sync.readers import read_source
from sync.writers.export_csv import write_csv
from sync.writers.export_xlsx import write_xlsx
from sync.writers.labels import address_lines
from sync.writers.vcard import fold, write_vcards
from tests.conftest import load_register, run_cli

HEADERS = {"customer_number": "Asiakasnumero", "notes": "Lisätiedot"}


def test_a_guarded_value_holding_a_quote_reads_back_exactly(tmp_path: Path) -> None:
    # The guard ="..." doubles the quotes inside, as a spreadsheet writes them; a lone
    # quote would end the text there (12" putki would come back as 12).
    dest = tmp_path / "out.csv"
    chunk = pl.DataFrame({"customer_number": ["00100", "1002"],
                          "notes": ['12" putki', '5 "kr"']})
    write_csv([chunk], dest, HEADERS, delimiter=";", guard_zeros=True)
    table = read_source(dest)
    assert table.frame.select("c0", "c1").rows() == [("00100", '12" putki'),
                                                      ("1002", '5 "kr"')]


def test_a_csv_export_of_several_chunks_has_one_header_line(tmp_path: Path) -> None:
    # The register is exported chunk by chunk; only the first writes the header.
    dest = tmp_path / "out.csv"
    chunks = [pl.DataFrame({"customer_number": ["1001"], "notes": ["a"]}),
              pl.DataFrame({"customer_number": ["1002", "1003"], "notes": ["b", None]})]
    assert write_csv(chunks, dest, HEADERS, delimiter=";") == 3
    assert dest.read_bytes() == ("\ufeffAsiakasnumero;Lisätiedot\r\n1001;a\r\n1002;b\r\n"
                                 "1003;\r\n").encode()


def test_a_long_value_of_letters_past_ascii_that_fits_an_xlsx_cell_is_written(
        tmp_path: Path) -> None:
    # 32,767 "ä" are 65,534 UTF-8 bytes but 32,767 UTF-16 units, Excel's measure: they
    # fit one cell, and refusing them would make a register unexportable as XLSX.
    dest = tmp_path / "out.xlsx"
    notes = "ä" * 32_767
    chunk = pl.DataFrame({"customer_number": ["1001"], "notes": [notes]})
    assert write_xlsx([chunk], dest, HEADERS) == 1
    assert openpyxl.load_workbook(dest).active["B2"].value == notes


def test_an_xlsx_export_of_exactly_a_sheets_rows_is_written_and_one_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sheet holds MAX_ROWS rows, the header one of them.
    monkeypatch.setattr(export_xlsx, "MAX_ROWS", 4)
    rows = pl.DataFrame({"customer_number": ["1001", "1002", "1003"], "notes": ["a"] * 3})
    assert write_xlsx([rows], tmp_path / "full.xlsx", HEADERS) == 3
    with pytest.raises(ExportError, match=r"more rows than one XLSX sheet holds \(3\)"):
        write_xlsx([rows, rows.head(1)], tmp_path / "over.xlsx", HEADERS)


@pytest.mark.parametrize(("since", "refused"), [("9223372036854775807", False),
                                                 ("9223372036854775808", True)])
def test_changed_since_a_batch_id_past_64_bits_is_a_usage_error(
        tmp_path: Path, since: str, refused: bool) -> None:
    # Batch ids are 64-bit integers on both engines: 2**63 names no batch, and would
    # overflow the query instead of being told.
    db = tmp_path / "r.db"
    load_register(db, "customer_number;name\n1001;Aho Oy\n", tmp_path)
    dest = tmp_path / "out.csv"
    result = run_cli("export", dest, "--db", db, "--json", "--changed-since", since)
    if refused:
        assert result.exit_code == 2
        assert "no batch id is that large (at most 9223372036854775807)" in \
            result.json()["error"]
    else:
        assert result.exit_code == 0, result.stderr
        assert result.json()["count"] == 0


def test_every_folded_vcard_line_is_at_most_75_octets_with_its_leading_space() -> None:
    # RFC 6350 3.2: a continuation line's leading space counts towards its 75 octets.
    line = "NOTE:" + "Soita ennen kymmentä, kysy Mattia. " * 10
    folded = fold(line).encode()
    pieces = folded.split(b"\r\n")
    assert len(pieces) > 2
    assert max(len(piece) for piece in pieces) <= 75
    assert folded.replace(b"\r\n ", b"") == line.encode()


@pytest.mark.parametrize(("phone", "written"), [
    ("+358401234567", "TEL;VALUE=uri;TYPE=home:tel:+358401234567"),
    ("+123456789012345", "TEL;VALUE=uri;TYPE=home:tel:+123456789012345"),  # 15 digits
    ("+1234567890123456", "TEL;VALUE=text;TYPE=home:+1234567890123456")])  # 16: no E.164
def test_a_vcard_phone_is_a_tel_uri_only_as_an_e164_number(tmp_path: Path, phone: str,
                                                           written: str) -> None:
    dest = tmp_path / "c.vcf"
    write_vcards([pl.DataFrame({"customer_number": ["1001"], "name": ["Matti Aho"],
                                "customer_type": ["person"], "phone": [phone]})], dest)
    assert written in dest.read_bytes().decode().split("\r\n")


@pytest.mark.parametrize("country", ["SE", "CZ", "SK"])
def test_only_a_five_digit_postal_code_is_spaced_on_a_label(country: str) -> None:
    row = {"name": "N", "street_address": "S 1", "city": "C"}
    assert address_lines({**row, "postal_code": "11455", "country": country}, country) == \
        ["N", "S 1", "114 55 C"]
    assert address_lines({**row, "postal_code": "1145", "country": country}, country) == \
        ["N", "S 1", "1145 C"]


def test_a_report_written_in_slices_has_one_header_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_SLICE_ROWS", 2)
    source = tmp_path / "s.csv"
    source.write_text("customer_number;name\n" + "".join(f"{n};Yritys {n} Oy\n"
                                                         for n in range(1001, 1006)))
    dest = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--report", dest)
    assert result.exit_code == 0, result.stderr
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    assert [line.split(",")[0] == lines[0].split(",")[0] for line in lines].count(True) == 1
