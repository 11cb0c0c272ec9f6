"""XLSX cells in the spellings no spreadsheet program writes, or only some do: both
readers (calamine for small sheets, the streamed reader) give each the same, safe
reading; merged ranges warn on the cells they cover."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from sync.errors import SourceError
from sync.readers import xlsx
from sync.readers.table import SourceTable
from sync.readers.xlsx import read_xlsx
from sync.readers.xlsx_stream import FORMULA_WITHOUT_VALUE
from tests.conftest import run_cli
from tests.test_xlsx_stream import _raw_book

_HEADER = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c>'
           '<c r="C1" t="inlineStr"><is><t>Lisätiedot</t></is></c></row>')
_BOTH = [xlsx.STREAM_BYTES, 0]  # calamine (small sheet), streamed


def _book(path: Path, cell: str, prefix: str = "", calc: str = "") -> Path:
    """A sheet with a header and row 2: 1001, Aho Oy and `cell` (the cell C2's XML)."""
    row = (f'<row r="2"><c r="A2"><v>1001</v></c><c r="B2" t="inlineStr"><is><t>Aho Oy'
           f'</t></is></c>{cell}</row>')
    return _raw_book(path, _HEADER + row, prefix=prefix, calc=calc)


def _report(tmp_path: Path, source: Path) -> tuple[int, dict[str, dict[str, str]]]:
    """Preview `source`: the exit code and the report's rows by row number."""
    report = tmp_path / "r.csv"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--report", report,
                     "--plan", tmp_path / "p.plan")
    with report.open(encoding="utf-8", newline="") as handle:
        return result.exit_code, {r["row"]: r for r in csv.DictReader(handle)}


def _read_both(path: Path) -> list[SourceTable]:
    return [read_xlsx(path, stream_bytes=stream_bytes) for stream_bytes in _BOTH]


@pytest.mark.parametrize("prefix", ["", "x"])
@pytest.mark.parametrize("cell", [
    '<c r="C2"><f>A2</f><v></v></c>',  # <v /> written out
    '<c r="C2"><f>A2</f><v/></c>',
    '<c r="C2"><f>A2</f><v> </v></c>',
    '<c r="C2" t="str"><f>A2</f></c>',  # a text result without its value
    '<c r="C2" t="b"><f>A2</f><v></v></c>',
])
def test_a_formula_saved_without_its_value_is_an_error_cell_in_every_spelling(
        tmp_path: Path, cell: str, prefix: str) -> None:
    # QA: read as an empty cell, a customer number's formula matched by name or made a
    # New customer with a made-up number.
    for table in _read_both(_book(tmp_path / "f.xlsx", cell, prefix=prefix)):
        assert table.frame.rows() == [(2, "1001", "Aho Oy", None)]
        assert table.cell_errors == [(2, "c2", FORMULA_WITHOUT_VALUE)]


def test_a_text_formula_saved_as_empty_text_is_an_empty_cell(tmp_path: Path) -> None:
    # Excel saves `=""` so: its value is the empty text.
    for table in _read_both(_book(tmp_path / "f.xlsx", '<c r="C2" t="str"><f>""</f><v></v></c>')):
        assert table.frame.rows() == [(2, "1001", "Aho Oy", None)]
        assert table.cell_errors == []


def test_a_prefixed_key_formula_without_its_value_rejects_its_row(tmp_path: Path) -> None:
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
            '<row r="2"><c r="A2"><f>1000+1</f></c>'
            '<c r="B2" t="inlineStr"><is><t>Aho Oy</t></is></c></row>')
    path = _raw_book(tmp_path / "x.xlsx", rows, prefix="x")
    result = run_cli("import", path, "--db", tmp_path / "r.db", "--yes", "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 1
    assert result.json()["new"] == 0


@pytest.mark.parametrize(("cell", "refusal"), [
    ('<c r="C2"><v>abc</v></c>', "cell C2 is a number cell holding 'abc', which is no number"),
    ('<c r="C2" t="b"><v></v></c>', "cell C2 is a boolean cell holding '', which is no boolean"),
    ('<c r="C2" t="b"><v/></c>', "cell C2 is a boolean cell holding '', which is no boolean"),
    ('<c r="C2" t="b"><v>abc</v></c>', "cell C2 is a boolean cell holding 'abc'"),
    ('<c r="C2" t="s"><v></v></c>', "cell C2 is a shared-string cell holding '', which names no"),
    ('<c r="C2" t="d"><v></v></c>', "cell C2 is a date cell holding '', which is no date"),
    ('<c r="C2" t="d"><v>garbage</v></c>', "cell C2 is a date cell holding 'garbage'"),
    ('<c r="C2" t="zz"><v>1</v></c>', None),
])
def test_a_typed_cell_holding_no_value_of_its_type_is_refused_by_both_readers(
        tmp_path: Path, cell: str, refusal: str | None) -> None:
    # A cell holding what its type can't hold is a damaged file: which value was meant
    # is unknown, and reading it as empty (or as true) would be a guess.
    path = _book(tmp_path / "d.xlsx", cell)
    for stream_bytes in _BOTH:
        with pytest.raises(SourceError, match=r"d\.xlsx: sheet 'Taul1' cannot be read"
                           + (f" \\({refusal}" if refusal else "")):
            read_xlsx(path, stream_bytes=stream_bytes)


@pytest.mark.parametrize("cell", ['<c r="C2" t="e"><v></v></c>', '<c r="C2" t="e"/>'])
def test_an_error_cell_without_its_error_is_an_error_cell(tmp_path: Path, cell: str) -> None:
    for table in _read_both(_book(tmp_path / "e.xlsx", cell)):
        assert table.cell_errors == [(2, "c2", "#ERROR")]


@pytest.mark.parametrize("cell", ['<c r="C2" t="b"/>', '<c r="C2" t="s"/>', '<c r="C2" s="0"/>',
                                  '<c r="C2"><v></v></c>', '<c r="C2"><v> </v></c>'])
def test_a_cell_with_no_value_is_empty(tmp_path: Path, cell: str) -> None:
    for table in _read_both(_book(tmp_path / "n.xlsx", cell)):
        assert table.frame.rows() == [(2, "1001", "Aho Oy", None)]
        assert table.cell_errors == []


@pytest.mark.parametrize(("value", "shown"), [
    ("2024-03-01T00:00:00", "2024-03-01"), ("2024-03-01", "2024-03-01"),
    ("2024-03-01T10:30:00", "2024-03-01 10:30:00"), ("2024-03-01T10:30", "2024-03-01 10:30:00"),
    ("2024-03-01T10:30:00.250Z", "2024-03-01 10:30:00.250"), ("10:30:00", "10:30:00")])
def test_an_iso_date_cell_reads_as_a_number_date_cell(tmp_path: Path, value: str,
                                                     shown: str) -> None:
    # QA: t="d" cells kept their ISO text ("2024-03-01T00:00:00"), not the date.
    for table in _read_both(_book(tmp_path / "d.xlsx", f'<c r="C2" t="d"><v>{value}</v></c>')):
        assert table.frame.rows() == [(2, "1001", "Aho Oy", shown)]


def _merged(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Asiakkaat"
    for row in (["Asiakasnumero", "Nimi", "Asiakasryhmä", "Postinumero", None, None],
                [1002, "Matti Virtanen", "Tampere", 33100, None, "x"],
                [1003, "Liisa Virtanen", None, None, None, "y"],
                [1004, "Pekka Aho", None, None, None, "z"]):
        sheet.append(row)
    sheet.merge_cells("C2:C3")
    sheet.merge_cells("D2:E4")
    workbook.save(path)
    return path


def test_cells_a_merged_range_covers_are_read_empty_with_a_warning(tmp_path: Path) -> None:
    # QA: the sheet shows Tampere on rows 2-3, the file holds it in C2 only; rows 3-4
    # read as empty in silence.
    path = _merged(tmp_path / "m.xlsx")
    tables = _read_both(path)
    assert tables[0].cell_warnings == tables[1].cell_warnings
    assert tables[0].frame.rows() == tables[1].frame.rows()
    warned = [(row, column) for row, column, _ in tables[0].cell_warnings]
    assert warned == [(3, "c2"), (3, "c3"), (3, "c4"), (4, "c3"), (4, "c4"), (2, "c4")] or \
        sorted(warned) == [(2, "c4"), (3, "c2"), (3, "c3"), (3, "c4"), (4, "c3"), (4, "c4")]
    assert tables[0].frame.rows()[1][3] is None  # C3: not filled
    code, rows = _report(tmp_path, path)
    assert code == 0  # a warning keeps the status
    assert rows["3"]["status"] == "New"
    assert ("customer_group: the cell C3 (column 'Asiakasryhmä') is in the merged range "
            "C2:C3: the sheet shows C2's value there") in rows["3"]["message"]
    assert "the cell D4 (column 'Postinumero') is in the merged range D2:E4" in rows["4"]["message"]


def test_an_error_cell_in_a_column_without_a_header_names_its_column_letter(
        tmp_path: Path) -> None:
    rows = ('<row r="1"><c r="B1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
            '<c r="C1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
            '<row r="2"><c r="B2"><v>1001</v></c><c r="C2" t="inlineStr"><is><t>Aho</t>'
            '</is></c><c r="D2" t="e"><v>#N/A</v></c></row>')
    path = _raw_book(tmp_path / "u.xlsx", rows)
    _, rows = _report(tmp_path, path)
    assert rows["2"]["message"].startswith("column D: the cell in column 'column D' holds "
                                           "the spreadsheet error #N/A")


def test_a_merged_range_is_warned_on_its_own_column_in_a_sheet_not_starting_at_a(
        tmp_path: Path) -> None:
    # Review: calamine's grid starts at the leftmost column in use, merged ranges name
    # sheet columns: a sheet in B:D warned on the wrong column, or not at all.
    path = tmp_path / "b.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, row in enumerate((["Asiakasnumero", "Nimi", "Asiakasryhmä"],
                             [1002, "Matti Virtanen", "Tampere"],
                             [1003, "Liisa Virtanen", None]), start=1):
        for c, value in enumerate(row, start=2):
            sheet.cell(row=r, column=c, value=value)
    sheet.merge_cells("D2:D3")
    workbook.save(path)
    tables = _read_both(path)
    assert tables[0].cell_warnings == tables[1].cell_warnings
    assert [(row, column) for row, column, _ in tables[0].cell_warnings] == [(3, "c2")]
    assert "the cell D3 (column 'Asiakasryhmä')" in tables[0].cell_warnings[0][2]
