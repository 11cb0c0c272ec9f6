"""XLSX: the streamed reader (large sheets) reads exactly as calamine (small sheets);
error cells are reported; the first visible sheet is read by default."""

from __future__ import annotations

import datetime
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sync.errors import SourceError
from sync.readers import xlsx, xlsx_book, xlsx_canonical, xlsx_stream
from sync.readers.table import SourceTable
from sync.readers.xlsx import read_xlsx
from sync.readers.xlsx_stream import DATE_OUT_OF_RANGE
from tests.conftest import run_cli
from tests.workbooks import Formula, computed, write_xlsx


def _xlsxwriter_book(path: Path) -> Path:
    """Shared strings, rich text, styles, formulas (with their computed values), errors,
    gaps, as Excel saves them."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    bold = book.add_format({"bold": True})
    date = book.add_format({"num_format": "d.m.yyyy"})
    time = book.add_format({"num_format": "hh:mm"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, ["Otsikko & <ohje>"])
    sheet.write_row(2, 0, ["Asiakasnumero", "Nimi", "Pvm", "Aika", "Kaava", "Virhe", "Rich",
                           "Tyhjä", "Iso"])
    sheet.write_number(3, 0, 1001)
    sheet.write_string(3, 1, "Aho & Co <x>")
    sheet.write_datetime(3, 2, datetime.datetime(2024, 1, 5), date)
    sheet.write_datetime(3, 3, datetime.datetime(1899, 12, 31, 13, 45), time)
    sheet.write_formula(3, 4, "=1+1", None, 2)
    sheet.write_formula(3, 5, "=1/0", None, "#DIV/0!")
    sheet.write_rich_string(3, 6, "a", bold, "bold", " tail ")
    sheet.write_string(3, 7, "")
    sheet.write_number(3, 8, 1.2345678901234567e19)
    sheet.write_row(4, 0, [1002, "  Välilyönnit  ", 45000.25, 0.5, "rivi\nvaihto", "#N/A",
                           "x\u00e4\u20ac\U0001f600", "_x000D_", -0.5])
    sheet.write_datetime(4, 2, datetime.datetime(2024, 1, 5, 13, 45, 10, 500000), stamp)
    sheet.write_formula(5, 0, '="00100"', None, "00100")
    sheet.write_formula(5, 1, "=TRUE()", None, True)
    sheet.write_row(5, 2, [0.1 + 0.2, 1e-7, 123456789012.0, -1.5e20, 358401234567.0])
    sheet.write_formula(5, 7, "=NA()", None, "#N/A")
    sheet.write_string(7, 1, "rivin 7 jälkeen tyhjä rivi")
    sheet.write_boolean(8, 0, False)
    sheet.write_string(8, 10, "sarake K")
    book.close()
    return computed(path)


def _openpyxl_book(path: Path) -> Path:
    """Inline strings, number formats openpyxl writes, formulas with saved values."""
    return write_xlsx(path, [
        ["Asiakasnumero", "Nimi", "Postinumero", "Puhelin", "Pvm", "Kaava", "Suoja", None],
        [1001, "Aho", 100, 358401234567.0, datetime.date(2024, 1, 5), Formula("=1+1", 2),
         Formula('="00100"', "00100"), None],
        [None, None, None, None, None, None, None, None],
        [1002, " ", 0.1, 1e21, datetime.datetime(2024, 1, 5, 6, 7, 8), True, "'=x", None],
        [1003, "Ääkköset ja \"lainaus\"", -3.25, 12.0, datetime.time(13, 45), False, "a\tb",
         None],
    ])


def _times_book(path: Path) -> Path:
    """Numbers in time-only formats beside dates, as LibreOffice saves typed times: the
    sheet shows 00:00:00, 25:00:00, 01:00:00, 01:30:45.50."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    sheet.write_row(0, 0, ["Asiakasnumero", "Aika", "Pvm"])
    times = [(0, "[$-40B]HH:MM:SS"), (1.04166666666667, "[hh]:mm:ss"), (1.041667, "hh:mm:ss"),
             (0.0630266203703704, "[hh]:mm:ss.00")]
    for row, (serial, code) in enumerate(times, start=1):
        sheet.write_number(row, 0, 1000 + row)
        sheet.write_number(row, 1, serial, book.add_format({"num_format": code}))
        sheet.write_number(row, 2, 45000 + serial, book.add_format({"num_format": "d.m.yyyy"}))
    book.close()
    return path


def _unreferenced_book(path: Path) -> Path:
    """Rows and cells without r="..." references, as some generators write them."""
    rows = ('<row><c t="inlineStr"><is><t>Nimi</t></is></c><c t="inlineStr"><is><t>Numero'
            '</t></is></c></row><row><c t="inlineStr"><is><t xml:space="preserve"> Aho </t>'
            '</is></c><c><v>7</v></c></row><row/><row><c t="inlineStr"><is><r><t>Be</t></r>'
            '<r><t>ta</t></r><rPh><t>BETA</t></rPh></is></c><c t="e"><v>#REF!</v></c></row>')
    return _raw_book(path, rows)


def _raw_book(path: Path, rows: str, prefix: str = "", calc: str = "") -> Path:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="'
            'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="'
            'xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
            'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            f'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        archive.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}">'
            f'<sheets><sheet name="Taul1" sheetId="1" r:id="rId1"/></sheets>{calc}</workbook>'))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'))
        p = f"{prefix}:" if prefix else ""
        xmlns = f"xmlns:{prefix}" if prefix else "xmlns"
        archive.writestr("xl/worksheets/sheet1.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet {xmlns}="{ns}">'
            f'<{p}sheetData>{rows.replace("<", f"<{p}").replace(f"<{p}/", f"</{p}")}'
            f'</{p}sheetData></{p}worksheet>'))
    return path


def _same(streamed: SourceTable, whole: SourceTable) -> None:
    assert streamed.headers == whole.headers
    assert streamed.head == whole.head
    assert streamed.skipped == whole.skipped
    assert streamed.cell_errors == whole.cell_errors
    assert_frame_equal(streamed.frame, whole.frame)


@pytest.mark.parametrize(("make", "header_row"), [
    (_xlsxwriter_book, 3), (_xlsxwriter_book, 4), (_openpyxl_book, 1), (_openpyxl_book, 2),
    (_unreferenced_book, 1), (_times_book, 1)])
def test_streamed_sheet_reads_exactly_as_calamine(tmp_path: Path, make, header_row) -> None:
    path = make(tmp_path / "book.xlsx")
    whole = read_xlsx(path, header_row=header_row)
    streamed = read_xlsx(path, header_row=header_row, stream_bytes=0)
    _same(streamed, whole)
    assert whole.frame.height > 0


def _long_book(path: Path, shared: bool) -> Path:
    """400 rows of long and short text, numbers and a column filled in some rows only;
    text as shared strings (xlsxwriter) or inline strings (raw XML)."""
    rows = [["Asiakasnumero", "Nimi", "Lisätiedot", "Postinumero"]]
    for n in range(400):
        rows.append([1000 + n, f"Asiakas numero {n} Oy ä & <b>", "vain välillä" * (n % 3)
                     if 120 <= n < 260 else None, f"{n:05d}"])
    rows[131][2], rows[300][3] = "'=summa", '="00100"'  # in one window each: unwrapped
    if shared:
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("Asiakkaat")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif value is not None:
                    sheet.write_number(r, c, value)
        book.close()
        return path

    def cell(value: object) -> str:
        if isinstance(value, int):
            return f"<c><v>{value}</v></c>"
        text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c t="inlineStr"><is><t>{text}</t></is></c>'

    return _raw_book(path, "".join("<row>" + "".join(cell(v) if v is not None else "<c/>"
                                                     for v in row) + "</row>" for row in rows))


@pytest.mark.parametrize("shared", [True, False])
def test_many_windows_gather_into_few_chunks_and_read_as_calamine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool) -> None:
    # Tiny windows and chunks: windows with and without column C are gathered together.
    monkeypatch.setattr(xlsx_book, "WINDOW_BYTES", 1 << 10)
    monkeypatch.setattr(xlsx, "CHUNK_BYTES", 4 << 10)
    path = _long_book(tmp_path / "long.xlsx", shared)
    whole = read_xlsx(path)
    streamed = read_xlsx(path, stream_bytes=0)
    _same(streamed, whole)
    assert streamed.frame.height == 400 and streamed.frame["c2"].null_count() == 260 + 47
    assert streamed.frame.row(130)[3] == "=summa" and streamed.frame.row(299)[4] == "00100"
    # about 60 windows, packed into a few chunks of at least 4 KiB of text each
    assert 1 < streamed.frame.n_chunks() <= 12


def test_streamed_values_are_the_sheets_text(tmp_path: Path) -> None:
    table = read_xlsx(_xlsxwriter_book(tmp_path / "book.xlsx"), header_row=3, stream_bytes=0)
    rows = {row[0]: row[1:] for row in table.frame.rows()}
    assert rows[4][:8] == ("1001", "Aho & Co <x>", "2024-01-05", "13:45:00", "2", None,
                           "abold tail ", None)
    # Past 2**53 the double holds no exact integer: printed in full (calamine's
    # 12345678901234569216) its last digits would be made up. (xlsxwriter saves 16
    # significant digits of the 1.2345678901234567e19 written.)
    assert rows[4][8] == "1.234567890123457E+19"
    assert rows[5][2] == "2024-01-05 13:45:10.500" and rows[5][4:6] == ("rivi\nvaihto", "#N/A")
    assert rows[5][7:9] == ("_x000D_", "-0.5")  # saved escaped, as _x005F_x000D_
    assert rows[6][:7] == ("00100", "true", "0.3", "0.0000001",
                           "123456789012", "-1.5E+20", "358401234567")
    assert table.cell_errors == [(4, "c5", "#DIV/0!"), (6, "c7", "#N/A")]
    assert table.headers[-1] == "" and rows[9][-1] == "sarake K"  # data beyond the header
    assert table.skipped == 1  # row 8


def _dated_book(path: Path, cells: list[str | float]) -> tuple[SourceTable, SourceTable]:
    """A workbook with a name column and a date-formatted column holding `cells` (numbers
    as date serials, strings as text), read through calamine and streamed; checked equal.
    """
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    date = book.add_format({"num_format": "d.m.yyyy"})
    sheet.write_row(0, 0, ["Nimi", "Pvm"])
    for row, cell in enumerate(cells, start=1):
        sheet.write_string(row, 0, f"Asiakas {row}")
        if isinstance(cell, str):
            sheet.write_string(row, 1, cell)
        else:
            sheet.write_number(row, 1, cell, date)
    book.close()
    whole, streamed = read_xlsx(path), read_xlsx(path, stream_bytes=0)
    _same(streamed, whole)
    return whole, streamed


def test_a_date_past_9999_or_of_a_negative_number_is_an_error_cell_on_both_paths(
        tmp_path: Path) -> None:
    # Excel shows ######## for such a date; calamine wrote +10000-01-01, the stream the
    # serial number: neither is a date anyone typed, so the cell is an error (never a value).
    # A negative number too (XLSX QA: -1 read as 1899-12-30, where Excel shows ######## and
    # LibreOffice 1899-12-29: no date is the safe one); 0 is day zero, as calamine reads it.
    serials = [2958465, 2958465.5, 2958466, 2958466.25, 3e6, 1e10, -693594, -693595, -30000,
               -1, 0, 1]
    _, streamed = _dated_book(tmp_path / "dates.xlsx", serials)
    assert streamed.frame["c1"].to_list() == [
        "9999-12-31", "9999-12-31 12:00:00", None, None, None, None, None, None, None, None,
        "1899-12-31", "1900-01-01"]
    assert streamed.cell_errors == [(row, "c1", DATE_OUT_OF_RANGE)
                                    for row in (4, 5, 6, 7, 8, 9, 10, 11)]


def test_text_that_looks_like_an_impossible_date_stays_text_on_both_paths(
        tmp_path: Path) -> None:
    # calamine gives every cell as text: a text cell holding a database's zero date must
    # not be taken for a date cell past the calendar (an error cell rejects the row).
    texts = ["0000-00-00 00:00:00", "-2024-01-01 00:00:00 BC", "+10000-01-01 00:00:00"]
    # ... beside a real date cell past 9999
    whole, _ = _dated_book(tmp_path / "texts.xlsx", [*texts, 2958466])
    kept = whole.frame["c1"].to_list()
    assert [text.startswith(kept[i]) for i, text in enumerate(texts)] == [True] * 3
    assert kept[3] is None and whole.cell_errors == [(5, "c1", DATE_OUT_OF_RANGE)]


_STRICT = {
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main":
        "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships":
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
}


def _strict(source: Path, target: Path) -> Path:
    """`source` saved as Strict OOXML: the strict namespaces and relationship types."""
    with zipfile.ZipFile(source) as book, zipfile.ZipFile(target, "w") as out:
        for info in book.infolist():
            data = book.read(info)
            if info.filename.endswith((".xml", ".rels")):
                text = data.decode("utf-8")
                for transitional, strict in _STRICT.items():
                    text = text.replace(transitional, strict)
                text = text.replace("<workbook ", '<workbook conformance="strict" ')
                data = text.encode("utf-8")
            out.writestr(info, data)
    return target


@pytest.mark.parametrize("make", [_xlsxwriter_book, _openpyxl_book])
def test_a_strict_ooxml_workbook_is_streamed_as_its_transitional_twin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make) -> None:
    transitional = make(tmp_path / "t.xlsx")
    strict = _strict(transitional, tmp_path / "strict.xlsx")
    assert b"purl.oclc.org" in zipfile.ZipFile(strict).read("xl/worksheets/sheet1.xml")
    expected = read_xlsx(transitional, header_row=3 if make is _xlsxwriter_book else 1)
    _same(read_xlsx(strict, header_row=expected.header_row), expected)  # calamine

    def no_fallback(path: Path, name: str) -> None:
        raise AssertionError("the streamed reader left the strict sheet to calamine")

    monkeypatch.setattr(xlsx, "_calamine", no_fallback)
    _same(read_xlsx(strict, header_row=expected.header_row, stream_bytes=0), expected)


@pytest.mark.parametrize(("name", "prefix"), [("Aho", "x"), ("<![CDATA[Aho]]>", "")])
def test_a_sheet_the_stream_does_not_handle_is_read_whole(tmp_path: Path, name: str,
                                                          prefix: str) -> None:
    # A namespace prefix (<x:row>) or CDATA: the streamed reader leaves it to calamine.
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
            f'<row r="2"><c r="A2" t="inlineStr"><is><t>{name}</t></is></c></row>')
    path = _raw_book(tmp_path / "x.xlsx", rows, prefix=prefix)
    assert read_xlsx(path, stream_bytes=0).frame.rows() == [(2, "Aho")]


def test_error_cells_reject_the_row_or_warn_when_the_column_is_ignored(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "s.xlsx", [
        ["Asiakasnumero", "Nimi", "Puhelin", "Laskelma"],
        [1001, "Aho", Formula("=NA()", "#N/A"), 1],
        [1002, "Beta Oy", "0401234567", Formula("=1/0", "#DIV/0!")],
        [Formula("=A1", "#REF!"), "Cee", None, None],
    ])
    _mark_errors(source)
    report = tmp_path / "r.csv"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--report", report,
                     "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 1, result.stderr
    lines = report.read_text(encoding="utf-8").splitlines()[1:]
    assert lines[0].startswith("2,Rejected,") and (
        "phone: the cell in column 'Puhelin' holds the spreadsheet error #N/A" in lines[0])
    assert lines[1].startswith("3,New,") and "Laskelma: the cell in column 'Laskelma' holds " \
        "the spreadsheet error #DIV/0!" in lines[1]
    assert lines[2].startswith("4,Rejected,") and "#REF!" in lines[2]
    assert json.loads(result.stdout)["rejected"] == 2


def _mark_errors(path: Path) -> None:
    """openpyxl saves a cached error as a string; make those cells error cells (t="e")."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    xml = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    xml = re.sub(r' t="str"(><f>[^<]*</f><v>#[A-Z0-9/!?]+</v>)', r' t="e"\1', xml)
    members["xl/worksheets/sheet1.xml"] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


@pytest.mark.parametrize("stream_bytes", [0, 1 << 30])
def test_error_cells_are_listed_by_both_readers(tmp_path: Path, stream_bytes: int) -> None:
    path = _unreferenced_book(tmp_path / "u.xlsx")
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.cell_errors == [(4, "c1", "#REF!")]
    assert table.frame.rows() == [(2, " Aho ", "7"), (4, "Beta", None)]
    assert table.skipped == 1


def _hidden_first(path: Path) -> Path:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Ohje"
    notes["A1"] = "Täytä asiakkaat toiselle välilehdelle"
    notes.sheet_state = "hidden"
    data = book.create_sheet("Asiakkaat")
    data.append(["Nimi", "Postinumero"])
    data.append(["Aho", "00100"])
    book.active = 1
    book.save(path)
    return path


def test_the_first_visible_sheet_is_read_by_default(tmp_path: Path) -> None:
    path = _hidden_first(tmp_path / "h.xlsx")
    assert read_xlsx(path).sheet == "Asiakkaat"
    assert read_xlsx(path, sheet="ohje").sheet == "Ohje"  # named, a hidden sheet is read
    result = run_cli("preview", path, "--db", tmp_path / "r.db", "--plan", tmp_path / "p",
                     "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["source"]["sheet"] == "Asiakkaat"
    assert "sheet 'Asiakkaat'" in result.stderr


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_damaged_zip_headers_are_a_one_line_error(tmp_path: Path, stream_bytes: int) -> None:
    # A damaged flag or method in a zip header makes zipfile raise RuntimeError ("is
    # encrypted") or NotImplementedError; both must be the one-line SourceError.
    original = _xlsxwriter_book(tmp_path / "book.xlsx").read_bytes()
    # The version needed, the flags and the method of each local and central header.
    fields = {b"PK\x03\x04": (4, 6, 8), b"PK\x01\x02": (6, 8, 10)}
    targets = [m.start() + k for m in re.finditer(rb"PK\x01\x02|PK\x03\x04", original)
               for k in fields[m.group()]]
    damaged = tmp_path / "damaged.xlsx"
    refused = 0
    for at in targets:
        for flip in (0x01, 0xFF):
            data = bytearray(original)
            data[at] ^= flip
            damaged.write_bytes(bytes(data))
            try:
                read_xlsx(damaged, stream_bytes=stream_bytes)
            except SourceError as exc:
                assert "\n" not in exc.message and exc.message.startswith(str(damaged))
                refused += 1
    assert refused > 0


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_text_typed_like_a_date_is_kept_as_typed(tmp_path: Path, stream_bytes: int) -> None:
    # calamine shows a date cell as "2024-01-05 00:00:00" and a time cell as
    # "1899-12-31 13:45:00"; the reader shortens those. A text cell typed exactly so
    # (a shared string) is what the user wrote and stays whole.
    path = tmp_path / "dates.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date = book.add_format({"num_format": "d.m.yyyy"})
    time = book.add_format({"num_format": "hh:mm"})
    sheet.write_row(0, 0, ["Asiakasnumero", "Pvm", "Lisätiedot"])
    sheet.write_number(1, 0, 1001)
    sheet.write_datetime(1, 1, datetime.datetime(2024, 1, 5), date)
    sheet.write_string(1, 2, "2024-02-01 00:00:00")
    sheet.write_number(2, 0, 1002)
    sheet.write_datetime(2, 1, datetime.datetime(1899, 12, 31, 13, 45), time)
    sheet.write_string(2, 2, "1899-12-31 08:30:00")
    # A date cell equal to such text keeps its midnight too (the reader can't tell them
    # apart by text): nothing is lost either way.
    sheet.write_number(3, 0, 1003)
    sheet.write_datetime(3, 1, datetime.datetime(2024, 2, 1), date)
    book.close()
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.select("c1", "c2").rows() == [
        ("2024-01-05", "2024-02-01 00:00:00"), ("13:45:00", "1899-12-31 08:30:00"),
        ("2024-02-01 00:00:00", None)]


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_inline_text_and_formula_text_typed_like_a_date_are_kept(
        tmp_path: Path, stream_bytes: int) -> None:
    # Programs that write large sheets row by row (xlsxwriter's constant_memory mode,
    # many exporters) store text as inline strings, not shared ones; a formula's text
    # result is stored in the cell too. Both are text the user typed or computed, and
    # stay whole beside a real date cell that is shortened.
    path = tmp_path / "inline.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    date = book.add_format({"num_format": "d.m.yyyy"})
    sheet.write_row(0, 0, ["Asiakasnumero", "Pvm", "Lisätiedot", "Kaava"])
    sheet.write_number(1, 0, 1001)
    sheet.write_datetime(1, 1, datetime.datetime(2024, 1, 5), date)
    sheet.write_string(1, 2, "2024-02-01 00:00:00")
    sheet.write_formula(1, 3, '="1899-12-31 08:30:00"', None, "1899-12-31 08:30:00")
    book.close()
    computed(path)
    assert b't="inlineStr"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.select("c1", "c2", "c3").rows() == [
        ("2024-01-05", "2024-02-01 00:00:00", "1899-12-31 08:30:00")]


@pytest.mark.parametrize("block", [1, 7, 20, 21, 22, 64])
def test_date_like_text_cut_by_a_scan_block_is_still_found(
        tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "inline.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    for row in range(30):
        sheet.write_string(row, 0, f"2024-02-{row % 28 + 1:02} 00:00:00")
    book.close()
    monkeypatch.setattr(xlsx_book, "WINDOW_BYTES", block)
    book_read = xlsx_book.open_book(path)
    try:
        found = xlsx_stream.survey_sheet(book_read, book_read.sheets[0], xlsx._DATE_IN_XML,
                                         (xlsx._MIDNIGHT_END, xlsx._DAY_ZERO_START)).texts
    finally:
        book_read.close()
    assert found == {f"2024-02-{day:02} 00:00:00" for day in range(1, 29)}


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_numbers_in_a_zero_padding_format_read_as_the_sheet_shows_them(
        tmp_path: Path, stream_bytes: int) -> None:
    # Spreadsheet users keep customer numbers and postal codes as numbers formatted
    # "0000" / "00000" (Excel's Zip Code format): the sheet shows 0042 and 00100.
    path = tmp_path / "padded.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    four, five = book.add_format({"num_format": "0000"}), book.add_format({"num_format": "00000"})
    sheet.write_row(0, 0, ["Asiakasnumero", "Postinumero", "Muu"])
    sheet.write_number(1, 0, 42, four)
    sheet.write_number(1, 1, 100, five)
    sheet.write_number(1, 2, 42)  # no format: as typed
    sheet.write_number(2, 0, 12345, four)  # wider than the format: all its digits
    sheet.write_number(2, 1, 1.5, five)  # not an integer: the value, never a guess
    sheet.write_number(2, 2, -7, four)
    book.close()
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.select("c0", "c1", "c2").rows() == [
        ("0042", "00100", "42"), ("12345", "1.5", "-7")]


def test_a_cell_in_the_last_row_and_column_is_read_without_a_full_grid(tmp_path: Path) -> None:
    # calamine would hold a grid from A1 to XFD1048576 (17 billion cells): the process
    # aborted asking for 512 GiB. Such a sheet is read by the streamed reader.
    path = tmp_path / "corner.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Asiakasnumero", "Nimi"])
    sheet.append(["1001", "Aho Oy"])
    sheet["XFD1048576"] = "kaukana"
    book.save(path)
    table = read_xlsx(path)
    assert table.headers[:2] == ["Asiakasnumero", "Nimi"]
    assert table.frame.select("_row", "c0", "c1").rows()[0] == (2, "1001", "Aho Oy")
    assert table.frame["_row"].to_list()[-1] == 1_048_576


@pytest.mark.parametrize(("bad", "stream_bytes"), [
    ('<c r="ZZZZZ2" t="inlineStr"><is><t>x</t></is></c>', 0),
    ('<c r="ZZZZZ2" t="inlineStr"><is><t>x</t></is></c>', xlsx.STREAM_BYTES),
    # The streamed reader takes a cell's row from its <row>; calamine from the cell.
    ('<c r="B99999999" t="inlineStr"><is><t>x</t></is></c>', xlsx.STREAM_BYTES),
])
def test_a_cell_beyond_any_spreadsheets_limits_is_a_damaged_file(
        tmp_path: Path, stream_bytes: int, bad: str) -> None:
    path = tmp_path / "beyond.xlsx"
    write_xlsx(path, [["Asiakasnumero", "Nimi"], ["1001", "Aho Oy"]])
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = xml.replace("</row></sheetData>",
                                                    f"{bad}</row></sheetData>").encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(SourceError, match=r"beyond\.xlsx: sheet .*(beyond row|cannot be read)"):
        read_xlsx(path, stream_bytes=stream_bytes)


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_a_formula_saved_without_its_value_is_never_an_empty_cell(
        tmp_path: Path, stream_bytes: int) -> None:
    # openpyxl and other libraries save formulas without computing them. Read as an
    # empty cell, a customer number "=1000+1" would make a New customer with the next
    # free number; it is an error cell, and a formula with a value reads as that value.
    path = write_xlsx(tmp_path / "f.xlsx", [
        ["Asiakasnumero", "Nimi"], ["=1000+1", "Aho Oy"], ["1002", Formula('="B"&"eta"', "Beta")],
        ["1003", Formula('=""', "")]])
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.rows() == [(2, None, "Aho Oy"), (3, "1002", "Beta"), (4, "1003", None)]
    assert table.cell_errors == [(2, "c0", xlsx_stream.FORMULA_WITHOUT_VALUE)]


def test_a_key_formula_without_its_value_rejects_its_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "f.xlsx", [["Asiakasnumero", "Nimi"], ["=1000+1", "Aho Oy"]])
    result = run_cli("import", path, "--db", tmp_path / "r.db", "--yes", "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 1
    assert result.json()["new"] == 0


def test_a_workbook_whose_every_sheet_is_hidden_needs_sheet(tmp_path: Path) -> None:
    path = _hidden_first(tmp_path / "h.xlsx")
    # No spreadsheet program saves this (openpyxl refuses to); a script can.
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    workbook = parts["xl/workbook.xml"].decode()
    sheet = re.search(r'<sheet [^>]*name="Asiakkaat"[^>]*>', workbook)
    assert sheet is not None
    hidden = re.sub(r'\sstate="[^"]*"', "", sheet.group(0)).replace(
        "<sheet ", '<sheet state="hidden" ')
    parts["xl/workbook.xml"] = workbook.replace(sheet.group(0), hidden).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(SourceError, match=r"h\.xlsx: every sheet is hidden \('Ohje', "
                                          r"'Asiakkaat'\); name the one to read with --sheet"):
        read_xlsx(path)
    assert read_xlsx(path, sheet="Asiakkaat").frame.rows() == [(2, "Aho", "00100")]


def _not_xml(*_args, **_kwargs):
    raise xlsx_canonical.NotXml("not well formed")


def test_a_huge_grid_the_streamed_reader_cannot_take_is_never_given_to_calamine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # XML no reader path here takes is left to calamine; with a cell at XFD1048576 that
    # would be a 17-billion-cell grid (the process aborts), so the file is refused.
    monkeypatch.setattr(xlsx_stream, "canonical_windows", _not_xml)
    path = tmp_path / "prefixed.xlsx"
    write_xlsx(path, [["Nimi"], ["Aho"]])
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/worksheets/sheet1.xml"] = (
        f'<x:worksheet xmlns:x="{main}"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>Nimi</x:t></x:is></x:c></x:row>'
        '<x:row r="1048576"><x:c r="XFD1048576" t="inlineStr"><x:is><x:t>far</x:t></x:is>'
        "</x:c></x:row></x:sheetData></x:worksheet>").encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(SourceError, match=r"prefixed\.xlsx: sheet .* spans 1,048,576 rows "
                                          r"x 16,384 columns"):
        read_xlsx(path, stream_bytes=0)


def _rewritten(path: Path, part: str, change) -> Path:
    """`path` with its member `part` replaced by `change(text)`."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part].decode()).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def _padded_customers(path: Path, shared: bool) -> Path:
    """Five customers with a postal code in Excel's Zip Code format `00000` (such a
    workbook is streamed); text as shared strings (xlsxwriter) or inline (openpyxl)."""
    rows = [["Asiakasnumero", "Nimi", "Postinumero"],
            *[[str(1000 + i), f"Nimi {i}", 100] for i in range(1, 6)]]
    if not shared:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "Asiakkaat"
        for row in rows:
            sheet.append(row)
        sheet["C2"].number_format = "00000"
        workbook.save(path)
        return path
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    zip_code = book.add_format({"num_format": "00000"})
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row[:2])
        sheet.write(r, 2, row[2], zip_code if r else None)
    book.close()
    return path


_SHEET, _STRINGS = "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"


@pytest.mark.parametrize(("shared", "part", "change", "reason"), [
    # The sheet's XML cut in the middle of row 5 (in a cell, and in a tag), or just
    # after a row's end: rows 2-4 alone were imported, exit 0.
    (False, _SHEET, lambda x: x[:x.find('<row r="5"') + 30], "its XML is cut off after row 4"),
    (False, _SHEET, lambda x: x[:x.find('<row r="5"') + 3], "its XML is cut off after row 4"),
    (False, _SHEET, lambda x: x[:x.find('<row r="5"')], "its XML is cut off after row 4"),
    (True, _SHEET, lambda x: x[:x.find("</sheetData>")], "its XML is cut off after row 6"),
    (False, _SHEET, lambda x: x[:x.find("<sheetData>") + 20], "its XML is cut off before"),
    # Strings missing from a cut-off string table read as empty cells (a name missing).
    (True, _STRINGS, lambda x: x[:x.find("<si><t>Nimi 3")], "shared strings"),
    (True, _STRINGS, lambda x: x[:x.find("</sst>")], "shared strings"),
    (True, _STRINGS, lambda x: x.replace("<si><t>Nimi 5</t></si>", ""),
     "cell B6 names shared string '12', which the workbook does not have (it has 12)"),
    (True, _SHEET, lambda x: x.replace('<c r="B3" t="s"><v>', '<c r="B3" t="s"><v>x'),
     "cell B3 names shared string 'x"),
    (False, _SHEET, lambda x: x.replace('<c r="C3" t="n"><v>100</v>',
                                        '<c r="C3" t="n"><v>abc</v>'),
     "cell C3 is a number cell holding 'abc', which is no number"),
    (False, _SHEET, lambda x: x.replace('<c r="C3" t="n">', '<c r="C0" t="n">'),
     "row 3 has a cell with the reference 'C0'"),
    (False, _SHEET, lambda x: x.replace('<c r="C3" t="n">', '<c r="3C" t="n">'),
     "row 3 has a cell with the reference '3C'"),
])
def test_a_damaged_streamed_sheet_is_refused_never_read_in_part(
        tmp_path: Path, shared: bool, part: str, change, reason: str) -> None:
    # A zero-padding format sends the workbook to the streamed reader; calamine refuses
    # all of these, and so must it: one line, exit 2, nothing written.
    path = _rewritten(_padded_customers(tmp_path / "cut.xlsx", shared), part, change)
    db = tmp_path / "r.db"
    result = run_cli("import", path, "--db", db, "--yes")
    assert result.exit_code == 2, result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"regsync: error: {path}: sheet 'Asiakkaat' cannot be read ("), line
    assert reason in line and line.endswith("save it again from the spreadsheet as .xlsx or "
                                            "as CSV"), line
    assert not db.exists()


def test_a_sheet_with_no_rows_and_a_complete_string_table_still_read(tmp_path: Path) -> None:
    # The end checks take a complete part of any form: <sheetData/>, <sst .../>.
    path = _rewritten(_padded_customers(tmp_path / "empty.xlsx", shared=True), _SHEET,
                      lambda x: re.sub(r"<sheetData>.*</sheetData>", "<sheetData/>", x))
    path = _rewritten(path, _STRINGS, lambda x: re.sub(r"<sst ([^>]*)>.*</sst>",
                                                      r'<sst \1/>', x, flags=re.S))
    with pytest.raises(SourceError, match=r"empty\.xlsx: sheet 'Asiakkaat' is empty"):
        read_xlsx(path, stream_bytes=0)
    table = read_xlsx(_padded_customers(tmp_path / "whole.xlsx", shared=True), stream_bytes=0)
    assert table.frame.height == 5 and table.frame["c2"].to_list() == ["00100"] * 5


_QA_NUMBERS = [123456789.123, 123456789.12, 3.14159265358979, 0.1234567891, 0.1 + 0.2,
               -0.5, 1e-7, 1.5e-10, 0.9999999999, 45000.25, 100, -7, 0, 9007199254740991,
               1.2345678901234567e19, 123456789012345, 1234567890123460]


def _numbers_book(path: Path, numbers: list[float], prefix: str = "") -> Path:
    """A name and a number cell a row (the value as Excel writes it, shortest digits),
    and a text cell that looks like calamine's own text of such a number."""
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
    for row, number in enumerate(numbers, start=2):
        rows += (f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>n{row}</t></is></c>'
                 f'<c r="B{row}"><v>{number!r}</v></c></row>')
    row = len(numbers) + 2
    for text in ("123456789.1230", "1.50", "3.141592654", "0"):
        rows += (f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>t{row}</t></is></c>'
                 f'<c r="B{row}" t="inlineStr"><is><t>{text}</t></is></c></row>')
        row += 1
    return _raw_book(path, rows, prefix)


def test_numbers_with_a_fraction_keep_their_digits_on_both_paths(tmp_path: Path) -> None:
    # fastexcel printed them with 9 decimals: 123456789.122999996, 3.141592654. (openpyxl
    # saves 0.1 + 0.2 with 16 significant digits: 0.3.)
    path = write_xlsx(tmp_path / "n.xlsx", [["Asiakasnumero", "Nimi", "Saldo"],
                                            *[[1000 + i, f"N{i}", v]
                                              for i, v in enumerate(_QA_NUMBERS)]])
    whole, streamed = read_xlsx(path), read_xlsx(path, stream_bytes=0)
    _same(streamed, whole)
    assert whole.frame["c2"].to_list()[:10] == [
        "123456789.123", "123456789.12", "3.14159265358979", "0.1234567891",
        "0.3", "-0.5", "0.0000001", "0.00000000015", "0.9999999999",
        "45000.25"]
    # XML the streamed reader does not handle (a namespace prefix) goes to calamine, whose
    # text is mended from the sheet read as numbers; text cells keep their text.
    prefixed = read_xlsx(_numbers_book(tmp_path / "x.xlsx", _QA_NUMBERS, prefix="x"))
    plain = read_xlsx(_numbers_book(tmp_path / "p.xlsx", _QA_NUMBERS), stream_bytes=0)
    assert prefixed.frame["c1"].to_list() == plain.frame["c1"].to_list()
    # A spreadsheet shows 15 significant digits: 0.1 + 0.2 (a formula's value, saved
    # as 0.30000000000000004) is 0.3 (QA).
    assert plain.frame["c1"].to_list()[3:6] == ["0.1234567891", "0.3", "-0.5"]
    assert plain.frame["c1"].to_list()[13:15] == ["9.007199254740991E+15",
                                                  "1.2345678901234567E+19"]
    # A spreadsheet keeps 15 digits: from 16 on they can't be trusted (see
    # test_imprecise_numbers.py), on both paths.
    assert plain.frame["c1"].to_list()[15:17] == ["123456789012345", "1.23456789012346E+15"]
    assert plain.frame["c1"].to_list()[-4:] == ["123456789.1230", "1.50", "3.141592654", "0"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                          st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                          st.integers(min_value=-(2**53), max_value=2**53)),
                min_size=1, max_size=40))
def test_calamine_and_the_streamed_reader_give_every_number_the_same_text(
        tmp_path: Path, numbers: list[float]) -> None:
    prefixed = read_xlsx(_numbers_book(tmp_path / "x.xlsx", numbers, prefix="x"))
    plain = read_xlsx(_numbers_book(tmp_path / "p.xlsx", numbers), stream_bytes=0)
    assert prefixed.frame["c1"].to_list() == plain.frame["c1"].to_list()


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_formula_values_a_workbook_marks_as_not_computed_are_never_read(
        tmp_path: Path, stream_bytes: int) -> None:
    # xlsxwriter saves a formula written without its value as <v>0</v> and marks the
    # workbook fullCalcOnLoad="1": a customer number "=1000+1" was imported as 0.
    path = tmp_path / "xw.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Asiakkaat")
    sheet.write_row(0, 0, ["Asiakasnumero", "Nimi", "Postinumero"])
    sheet.write_formula(1, 0, "=1000+1")
    sheet.write_string(1, 1, "Aho Oy")
    sheet.write_row(2, 0, [1002, "Beta Oy"])
    sheet.write_formula(2, 2, '="00"&"100"', None, "00100")  # a value, but not computed
    sheet.write_row(3, 0, [1003, "Cee Oy", "00200"])
    book.close()
    assert b'fullCalcOnLoad="1"' in zipfile.ZipFile(path).read("xl/workbook.xml")
    table = read_xlsx(path, stream_bytes=stream_bytes)
    assert table.frame.rows() == [(2, None, "Aho Oy", None), (3, "1002", "Beta Oy", None),
                                  (4, "1003", "Cee Oy", "00200")]
    assert table.cell_errors == [(2, "c0", xlsx_stream.FORMULA_WITHOUT_VALUE),
                                 (3, "c2", xlsx_stream.FORMULA_WITHOUT_VALUE)]
    result = run_cli("import", path, "--db", tmp_path / "r.db", "--yes", "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 2
    # Once a spreadsheet program has computed and saved them, they are the values (0 is
    # xlsxwriter's; a spreadsheet would have saved 1001).
    assert read_xlsx(computed(path), stream_bytes=stream_bytes).frame.rows()[:2] == [
        (2, "0", "Aho Oy", None), (3, "1002", "Beta Oy", "00100")]


@pytest.mark.parametrize(("code", "shown"), [
    ("[$-40B]00000", "00042"), ("[Red]00000", "00042"), ("00000_ ", "00042"),
    ("00000_);[Red](00000)", "00042"), ("0000#", "00042"), ("#0000", "0042"),
    ("[Color10]000", "042"),
    # Text of its own, a fill, a condition, decimals: shown otherwise; read as typed.
    ('"FI-"00000', "42"), ("\\A0000", "42"), ("[$EUR-40B]00000", "42"), ("*00000", "42"),
    ("[>99999]00000", "42"), ("00000.0", "42"), ("#,##0", "42"), ("0", "42"),
])
def test_zero_padding_formats_with_colours_locales_and_spacing_pad_as_shown(
        tmp_path: Path, code: str, shown: str) -> None:
    # Only a format of nothing but zeros was taken: [$-40B]00000 (a Finnish locale) or
    # [Red]00000 read 42 where the sheet shows 00042.
    assert xlsx_book.padded_width(code) == (len(shown) if shown != "42" else None)
    path = tmp_path / "padded.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Asiakasnumero", "Nimi"])
    sheet.write_number(1, 0, 42, book.add_format({"num_format": code}))
    sheet.write_string(1, 1, "Aho Oy")
    book.close()
    for stream_bytes in (0, xlsx.STREAM_BYTES):
        assert read_xlsx(path, stream_bytes=stream_bytes).frame["c0"].to_list() == [shown]


def test_uncomputed_formulas_in_xml_only_calamine_reads_refuse_the_sheet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Review: a namespace prefix (<x:c>) sent the sheet to calamine, which read the
    # saved 0 of a formula the workbook marks as not computed: customer number "0".
    # It is streamed now (rewritten without the prefix): an error cell.
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
            '<row r="2"><c r="A2"><f>1000+1</f><v>0</v></c>'
            '<c r="B2" t="inlineStr"><is><t>Aho Oy</t></is></c></row>')
    path = _raw_book(tmp_path / "x.xlsx", rows, prefix="x",
                     calc='<calcPr calcId="124519" fullCalcOnLoad="1"/>')
    assert read_xlsx(path).cell_errors == [(2, "c0", xlsx_stream.FORMULA_WITHOUT_VALUE)]
    # XML even the rewriting can't read goes to calamine: such a sheet is refused.
    monkeypatch.setattr(xlsx_stream, "canonical_windows", _not_xml)
    with pytest.raises(SourceError, match="marks as not computed, in XML this reader can't "
                                          "stream"):
        read_xlsx(path)
    computed_values = _raw_book(tmp_path / "y.xlsx", rows, prefix="x")
    assert read_xlsx(computed_values).frame.rows() == [(2, "0", "Aho Oy")]


@pytest.mark.parametrize("cell", [
    '<c\n r="A2" t="inlineStr"><is><t>007</t></is></c>',
    '<c r = "A2" t = "inlineStr"><is><t>007</t></is></c>',
    '<c r="A2" t="inlineStr"><is><t>007</t ></is ></c >',
    '<c\tr="A2"\tt="inlineStr"><is><t>007</t></is></c>'])
def test_a_cell_in_xml_spelled_with_unusual_white_space_is_read_not_dropped(
        tmp_path: Path, cell: str) -> None:
    # QA: a cell written `<c\n r="A2"` (valid XML) vanished from a streamed sheet, and
    # the row was imported without its customer number.
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c></row>'
            f'<row r="2">{cell}<c r="B2" t="inlineStr"><is><t>Seven Oy</t></is></c></row>')
    path = _raw_book(tmp_path / "x.xlsx", rows)
    assert read_xlsx(path, stream_bytes=0).frame.rows() == [(2, "007", "Seven Oy")]


def test_shared_strings_with_a_namespace_prefix_are_read(tmp_path: Path) -> None:
    # QA: the .NET OpenXML SDK prefixes every element (<x:sst><x:si><x:t>); the streamed
    # reader found no strings and refused the workbook ("names shared string '0'").
    path = tmp_path / "x.xlsx"
    book = xlsxwriter.Workbook(str(path))  # shared strings, as Excel writes them
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Asiakasnumero", "Nimi", "Postinumero"])
    sheet.write_row(1, 0, [42, "Alpha Oy"])
    sheet.write_number(1, 2, 100, book.add_format({"num_format": "00000"}))
    book.close()
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    xml = members["xl/sharedStrings.xml"].decode("utf-8")
    xml = re.sub(r"<(/?)(sst|si|t|r|rPr)\b", r"<\1x:\2", xml).replace("<x:sst xmlns=",
                                                                       "<x:sst xmlns:x=")
    members["xl/sharedStrings.xml"] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    for stream_bytes in (0, None):
        table = read_xlsx(path, **({} if stream_bytes is None else {"stream_bytes": 0}))
        assert table.headers == ["Asiakasnumero", "Nimi", "Postinumero"]
        assert table.frame.rows() == [(2, "42", "Alpha Oy", "00100")]


@pytest.mark.parametrize("error", ["#CALC!", "#SPILL!", "Err:502", "#GETTING_DATA"])
def test_an_error_calamine_does_not_know_is_an_error_cell_not_an_unreadable_book(
        tmp_path: Path, error: str) -> None:
    # QA: one #SPILL! (Excel's dynamic arrays) or Err:502 (LibreOffice) refused the whole
    # workbook, exit 2, even in a column the import ignores.
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Asiakasnumero</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>Nimi</t></is></c>'
            '<c r="C1" t="inlineStr"><is><t>Apu</t></is></c></row>'
            '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>Aho Oy</t></is>'
            f'</c><c r="C2" t="e"><f>FILTER(A:A,A:A&gt;5)</f><v>{error}</v></c></row>')
    path = _raw_book(tmp_path / "x.xlsx", rows)
    report = tmp_path / "r.csv"
    result = run_cli("preview", path, "--db", tmp_path / "r.db", "--report", report,
                     "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["new"] == 1
    line = report.read_text(encoding="utf-8").splitlines()[1]
    assert line.startswith("2,New,1,") and (
        f"Apu: the cell in column 'Apu' holds the spreadsheet error {error}" in line)


def test_a_sheet_named_with_its_accents_as_separate_marks_is_found(tmp_path: Path) -> None:
    # QA: --sheet typed or pasted decomposed (NFD: 'A' then U+0308) was refused with "no
    # sheet named 'Ärrä & Co'; the sheets are 'Ohje', 'Ärrä & Co'".
    import unicodedata

    path = write_xlsx(tmp_path / "s.xlsx", [["Ohje"]], more_sheets={
        "Ärrä & Co": [["Asiakasnumero", "Nimi"], [1, "Aho Oy"]]})
    table = read_xlsx(path, sheet=unicodedata.normalize("NFD", "ärrä & co"))
    assert table.sheet == "Ärrä & Co"
    assert table.frame.rows() == [(2, "1", "Aho Oy")]


@pytest.mark.parametrize("stream_bytes", [0, xlsx.STREAM_BYTES])
def test_hidden_and_filtered_rows_are_read_as_the_docs_say(tmp_path: Path,
                                                            stream_bytes: int) -> None:
    path = tmp_path / "h.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["Asiakasnumero", "Nimi"], [1, "Aho Oy"], [2, "Beta Oy"], [3, "Cee Oy"]):
        sheet.append(row)
    sheet.row_dimensions[3].hidden = True
    sheet.auto_filter.ref = "A1:B4"
    book.save(path)
    assert read_xlsx(path, stream_bytes=stream_bytes).frame.rows() == [
        (2, "1", "Aho Oy"), (3, "2", "Beta Oy"), (4, "3", "Cee Oy")]
