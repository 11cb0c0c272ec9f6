"""XLSX: a number in a time-only format (`hh:mm:ss`, `[hh]:mm:ss`) reads as the time
the sheet shows, on both readers; date and date-time formats keep their ISO text.

QA: a CSV with notes `0:00` and `25:00`, opened in LibreOffice and saved as XLSX, read
back as `1899-12-31` and `1900-01-01 01:00:00`, and its rows came back Modified."""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from sync.readers import xlsx, xlsx_book
from sync.readers.xlsx import read_xlsx
from tests.conftest import customers, load_register, run_cli
from tests.test_xlsx_stream import _same

# (serial, number format, text the reader gives: the time the sheet shows)
CELLS = [
    (0, "hh:mm:ss", "00:00:00"),  # LibreOffice's 0:00 (en)
    (0, "[$-40B]HH:MM:SS", "00:00:00"),  # LibreOffice's 0:00 (fi)
    (0.0625, "hh:mm", "01:30:00"),
    (0.5, "h:mm AM/PM", "12:00:00"),
    (0.99999, "hh:mm:ss", "23:59:59"),
    (1.041667, "[hh]:mm:ss", "25:00:00"),  # an elapsed time: hours past a day kept
    (1.04166666666667, "[hh]:mm:ss", "25:00:00"),  # as LibreOffice saves 25:00
    (1.041667, "hh:mm:ss", "01:00:00"),  # a time of day: as the sheet shows it
    (0.0625, "[mm]:ss", "01:30:00"),
    (0.0630266203703704, "h:mm:ss.0", "01:30:45.5"),  # 1:30:45.5
    (0.0630266203703704, "[hh]:mm:ss.00", "01:30:45.50"),  # as LibreOffice saves it (en)
    (0.021354745, "h:mm:ss.0", "00:30:45.0"),  # 0:30:45.05, to a tenth as shown
    (45000, "d.m.yyyy", "2023-03-15"),  # a date: as before
    (45000.5, "yyyy-mm-dd hh:mm:ss", "2023-03-15 12:00:00"),  # a date and time: as before
    (45000.5, "hh:mm", "12:00:00"),  # a date's time of day, in a time format
]


def _xlsxwriter_times(path: Path, cells: list[tuple[float, str, str]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    sheet.write_row(0, 0, ["Asiakasnumero", "Nimi", "Lisätiedot"])
    for row, (serial, code, _) in enumerate(cells, start=1):
        sheet.write_row(row, 0, [1000 + row, f"Asiakas {row}"])
        sheet.write_number(row, 2, serial, book.add_format({"num_format": code}))
    book.close()
    return path


def _openpyxl_times(path: Path, cells: list[tuple[float, str, str]]) -> Path:
    # openpyxl saves Excel's built-in formats by their number (h:mm:ss is 21, [h]:mm:ss
    # 46, mm:ss 45), with no format code in the workbook.
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Asiakasnumero", "Nimi", "Lisätiedot"])
    for row, (serial, code, _) in enumerate(cells, start=2):
        sheet.append([1000 + row, f"Asiakas {row}", serial])
        sheet.cell(row, 3).number_format = code
    book.save(path)
    return path


BUILT_IN = [(0, "h:mm:ss", "00:00:00"), (1.041667, "[h]:mm:ss", "25:00:00"),
            (0.0625, "mm:ss", "01:30:00"), (0.75, "h:mm AM/PM", "18:00:00"),
            (45000, "mm-dd-yy", "2023-03-15")]

Writer = Callable[[Path, list[tuple[float, str, str]]], Path]


@pytest.mark.parametrize(("write", "cells"), [
    (_xlsxwriter_times, CELLS), (_openpyxl_times, CELLS), (_openpyxl_times, BUILT_IN)])
def test_times_read_as_the_sheet_shows_them_on_both_readers(
        tmp_path: Path, write: Writer, cells: list[tuple[float, str, str]]) -> None:
    path = write(tmp_path / "times.xlsx", cells)
    whole, streamed = read_xlsx(path), read_xlsx(path, stream_bytes=0)
    _same(streamed, whole)
    assert whole.frame["c2"].to_list() == [shown for _, _, shown in cells]


def test_built_in_time_formats_are_saved_by_number(tmp_path: Path) -> None:
    # What the test above relies on: the built-in formats carry no format code.
    path = _openpyxl_times(tmp_path / "times.xlsx", BUILT_IN)
    styles = zipfile.ZipFile(path).read("xl/styles.xml").decode()
    assert 'numFmtId="21"' in styles and 'numFmtId="46"' in styles
    assert "h:mm" not in styles


@pytest.mark.parametrize("stream_bytes", [xlsx.STREAM_BYTES, 0])
def test_a_sheet_of_whole_number_times_reads_them_as_times(
        tmp_path: Path, stream_bytes: int) -> None:
    # A sheet with no fraction anywhere is read whole by calamine, which knows no
    # cell's format: 0 in hh:mm:ss was its day zero, 1899-12-31.
    cells = [(0, "hh:mm:ss", "00:00:00"), (1, "[h]:mm:ss", "24:00:00"),
             (2, "hh:mm", "00:00:00"), (45000, "d.m.yyyy", "2023-03-15")]
    path = _xlsxwriter_times(tmp_path / "whole.xlsx", cells)
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame["c2"].to_list() == [shown for _, _, shown in cells]


@pytest.mark.parametrize(("code", "shown"), [
    ("hh:mm:ss", (False, 0)), ("[$-40B]HH:MM:SS", (False, 0)),
    ("hh:mm:ss\\ AM/PM", (False, 0)), ("[hh]:mm:ss.00", (True, 2)), ("[mm]:ss", (True, 0)),
    ("mm:ss.0", (False, 1)), ('"klo "hh:mm', (False, 0)), ("hh:mm;@", (False, 0)),
    # A year, month or day: a date, shown as before.
    ("d.m.yyyy", None), ("yyyy-mm-dd hh:mm:ss", None), ("m/d/yy h:mm", None),
    ("mm", None), ("mmm", None), ("aaa hh:mm", None), ("dd hh:mm", None),
])
def test_a_format_shows_a_time_only_with_hours_minutes_or_seconds_alone(
        code: str, shown: tuple[bool, int] | None) -> None:
    # (hours past a day shown, digits of a second's fraction shown)
    found = xlsx_book.time_format(code)
    assert (found and (found.elapsed, found.decimals)) == shown


def _register_and_workbook(tmp_path: Path, notes: tuple[str, str]) -> tuple[Path, Path]:
    """A register whose customers 1001 and 1002 have `notes`, and the workbook
    LibreOffice saves from its export of them: 0:00 and 25:00 as time cells."""
    db = tmp_path / "register.db"
    load_register(db, "Asiakasnumero;Nimi;Lisätiedot\n"
                      f"1001;Aho Oy;{notes[0]}\n1002;Beta Oy;{notes[1]}\n", tmp_path)
    path = tmp_path / "takaisin.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    sheet.write_row(0, 0, ["Asiakasnumero", "Nimi", "Lisätiedot"])
    sheet.write_row(1, 0, [1001, "Aho Oy"])
    sheet.write_number(1, 2, 0, book.add_format({"num_format": "[$-40B]HH:MM:SS"}))
    sheet.write_row(2, 0, [1002, "Beta Oy"])
    sheet.write_datetime(2, 2, datetime.timedelta(hours=25),
                         book.add_format({"num_format": "[hh]:mm:ss"}))
    book.close()
    return db, path


@pytest.mark.parametrize("notes", [("00:00:00", "25:00:00"), ("0:00", "25:00")])
def test_times_a_spreadsheet_saved_import_as_no_change(
        tmp_path: Path, notes: tuple[str, str]) -> None:
    # The register's own text, or the text the spreadsheet re-typed as a time (kept).
    db, path = _register_and_workbook(tmp_path, notes)
    result = run_cli("import", path, "--db", db, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    answer = result.json()
    assert (answer["unchanged"], answer["modified"]) == (2, 0)
    stored = customers(db)
    assert (stored["1001"]["notes"], stored["1002"]["notes"]) == notes
