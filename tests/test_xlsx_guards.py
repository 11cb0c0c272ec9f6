"""XLSX reading users rely on that mutation testing found unguarded (branch mut-io).
Each is checked on both readers: calamine (a small sheet) and the streamed one."""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from sync.errors import SourceError
from sync.readers import xlsx
from sync.readers.xlsx import read_xlsx
from sync.readers.xlsx_merges import merge_warnings
from tests.test_xlsx_stream import _raw_book
from tests.workbooks import write_xlsx

_BOTH = [xlsx.STREAM_BYTES, 0]  # calamine (small sheet), streamed
_HEADER = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c></row>')


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_row_holding_only_an_error_cell_is_kept_to_be_rejected(
        tmp_path: Path, stream_bytes: int) -> None:
    # The error cell has no text; the row is no blank row, or its #N/A would vanish
    # from the preview along with it.
    path = _raw_book(tmp_path / "errors.xlsx", _HEADER + '<row r="2"><c r="A2" t="e">'
                     '<v>#N/A</v></c></row><row r="3"><c r="A3"><v>1002</v></c>'
                     '<c r="B3" t="inlineStr"><is><t>Aho Oy</t></is></c></row>')
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["_row"].to_list() == [2, 3]
    assert table.cell_errors == [(2, "c0", "#N/A")]


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_column_of_neutralised_cells_only_reads_back_without_the_quotes(
        tmp_path: Path, stream_bytes: int) -> None:
    # An export's XLSX opened and saved again: every cell of the column starts with
    # the `'` that kept it from running as a formula (no empty cell beside them).
    path = write_xlsx(tmp_path / "export.xlsx", [["customer_number", "phone"],
                                                  ["1001", "'+358401234567"],
                                                  ["1002", "'=Summa"]])
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c1"].to_list() == ["+358401234567", "=Summa"]


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_text_ending_like_a_midnight_date_keeps_all_its_text(
        tmp_path: Path, stream_bytes: int) -> None:
    # Only a date cell's own text ("2024-01-05 00:00:00") is cut to its date.
    path = write_xlsx(tmp_path / "notes.xlsx", [["Asiakasnumero", "Lisätiedot"],
                                                 ["1001", "Soitettu 2024-01-05 00:00:00"]])
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c1"].to_list() == ["Soitettu 2024-01-05 00:00:00"]


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_header_row_one_past_the_last_row_says_how_many_rows_the_sheet_has(
        tmp_path: Path, stream_bytes: int) -> None:
    path = write_xlsx(tmp_path / "short.xlsx", [["Asiakasnumero"], ["1001"]])
    with pytest.raises(SourceError, match="the sheet has 2 rows, fewer than 3 "
                                          r"\(check --header-row\)"):
        read_xlsx(path, header_row=3, stream_bytes=stream_bytes)


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_number_in_the_built_in_date_and_time_format_reads_as_its_date_and_time(
        tmp_path: Path, stream_bytes: int) -> None:
    # Built-in format 22 (m/d/yy h:mm) has no numFmt of its own in styles.xml.
    path = write_xlsx(tmp_path / "calls.xlsx", [["Asiakasnumero", "Soitettu"],
                                                 ["1001", 45000.5]])
    book = openpyxl.load_workbook(path)
    book.active["B2"].number_format = "m/d/yy h:mm"
    book.save(path)
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c1"].to_list() == ["2023-03-15 12:00:00"]


@pytest.mark.parametrize("flag", ["1", "true"])
@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_1904_workbook_reads_its_dates_as_the_sheet_shows_them(
        tmp_path: Path, stream_bytes: int, flag: str) -> None:
    # Excel writes date1904="1", LibreOffice "true": both mean the Mac's 1904 epoch,
    # four years and a day from the 1900 one.
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    book.active.append(["Asiakasnumero", "Asiakas alkaen"])
    book.active.append(["1001", datetime.date(2024, 1, 5)])
    saved = tmp_path / "saved.xlsx"
    book.save(saved)
    path = tmp_path / "mac.xlsx"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b'date1904="1"', f'date1904="{flag}"'.encode())
            out.writestr(info, data)
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c1"].to_list() == ["2024-01-05"]


def test_a_streamed_cell_one_column_past_xfd_is_refused_as_damage(tmp_path: Path) -> None:
    # XFD (16,384) is the last column of every spreadsheet: XFE is a damaged file.
    path = _raw_book(tmp_path / "wide.xlsx", _HEADER + '<row r="2"><c r="A2"><v>1001</v>'
                     '</c><c r="XFE2" t="inlineStr"><is><t>x</t></is></c></row>')
    with pytest.raises(SourceError):
        read_xlsx(path, stream_bytes=0)


_ROW_2 = '<row r="2"><c r="A2"><v>1001</v></c>{}</row>'


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_text_run_without_preserve_loses_its_outer_spaces_on_both_readers(
        tmp_path: Path, stream_bytes: int) -> None:
    path = _raw_book(tmp_path / "spaces.xlsx", _HEADER + _ROW_2.format(
        '<c r="B2" t="inlineStr"><is><t>  Aho Oy </t></is></c>'))
    assert read_xlsx(path, stream_bytes=stream_bytes).frame["c1"].to_list() == ["Aho Oy"]


@pytest.mark.parametrize("stream_bytes", _BOTH)
def test_a_prefixed_sheet_keeps_text_that_looks_like_an_entity_and_preserved_spaces(
        tmp_path: Path, stream_bytes: int) -> None:
    # A namespace prefix (<x:c>) sends the sheet through the XML parser's rewriting,
    # which must escape what it writes again: "&amp;" typed into a cell stays "&amp;".
    path = _raw_book(tmp_path / "prefixed.xlsx", _HEADER + _ROW_2.format(
        '<c r="B2" t="inlineStr"><is><t>Smith &amp;amp; Sons</t></is></c>')
        + '<row r="3"><c r="A3"><v>1002</v></c><c r="B3" t="inlineStr"><is>'
        '<t xml:space="preserve">  Aho Oy </t></is></c></row>', prefix="x")
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c1"].to_list() == ["Smith &amp; Sons", "  Aho Oy "]


@pytest.mark.parametrize(("serial", "shown"), [(59, "1900-02-28"), (60, "1900-02-28"),
                                               (61, "1900-03-01")])
def test_excels_invented_29_february_1900_reads_as_the_28th_on_both_readers(
        tmp_path: Path, serial: int, shown: str) -> None:
    path = write_xlsx(tmp_path / "old.xlsx", [["Asiakasnumero", "Pvm"], ["1001", serial]])
    book = openpyxl.load_workbook(path)
    book.active["B2"].number_format = "yyyy-mm-dd"
    book.save(path)
    assert [read_xlsx(path, stream_bytes=stream_bytes).frame["c1"][0]
            for stream_bytes in _BOTH] == [shown, shown]


def test_a_merged_range_written_bottom_up_warns_on_the_cells_it_covers() -> None:
    # "B3:B2" names the same cells as "B2:B3": B3 shows B2's value, the file holds none.
    warnings = merge_warnings(["B3:B2"], pl.Series([2, 3]), {1: "c1"}, {"c1": "Nimi"}, 1)
    assert [(row, column) for row, column, _ in warnings] == [(3, "c1")]
    assert "shows B2's value there" in warnings[0][2]
