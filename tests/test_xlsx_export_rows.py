"""The XLSX export's data rows, built by polars (sync.writers.xlsx_rows): the same file
xlsxwriter wrote a cell at a time, every value read back exactly (by both of our XLSX
readers), and the two values xlsxwriter lost now kept or refused."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.readers import xlsx
from sync.readers.neutralise import unneutralise
from sync.readers.xlsx import read_xlsx
from sync.writers.cells import neutralise
from sync.writers.export_csv import write_csv as export_csv
from sync.writers.export_xlsx import write_xlsx
from tests.conftest import customers, run_cli, write_csv

_HEADERS = {"a": "Asiakasnumero", "b": "Nimi", "c": "Lisätiedot"}
# Values xlsxwriter's inline strings wrote wrongly (its "rich string" shape): left out of
# the comparison with it, kept in the read-back property.
_RICH = re.compile(r"^<r>.*</r>$", re.DOTALL)
# And escapes that overlap, where xlsxwriter escaped only the first (review), and text
# xlsxwriter left unescaped that a reader may take for an escape: `_x` and 1-3 hex
# digits (LibreOffice reads `_x9_` as a tab), or `_x` and hex digits before a character
# that is itself written as an escape (QA).
_OVERLAPPING = (r"_x[0-9a-fA-F]{4}_x[0-9a-fA-F]{4}_|_x[0-9a-fA-F]{1,3}_"
                r"|_x[0-9a-fA-F]{1,4}[\x00-\x08\x0B-\x1F\x{FFFE}\x{FFFF}]")
_value = st.one_of(st.none(), st.text(max_size=12),
                   st.sampled_from(["_x0041_", "<r>x</r>", " lead", "trail\t", "a\nb",
                                    "&<>\"'", "=1+1", "\x01", "\ufffe", "😀", "00100",
                                    "_x0041_x0042_", "a_X004a__x0041_", "Box_x9_1",
                                    "p_x0_q", "_x0041\x01z", "_x1f\x02"]))
_frames = st.lists(st.tuples(_value, _value, _value), min_size=1, max_size=6).map(
    lambda rows: pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String,
                                            "c": pl.String}, orient="row"))


def _by_xlsxwriter(frame: pl.DataFrame, dest: Path) -> None:
    """The export as it was written before: xlsxwriter, a call per cell."""
    book = xlsxwriter.Workbook(str(dest), {"constant_memory": True,
                                           "strings_to_numbers": False,
                                           "strings_to_formulas": False,
                                           "strings_to_urls": False})
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"num_format": "@", "bold": True})
    sheet = book.add_worksheet("Customers")
    sheet.freeze_panes(1, 0)
    names = [_HEADERS[c] for c in frame.columns]
    for col, name in enumerate(names):
        sheet.write_string(0, col, name, bold)
    widths = [len(name) for name in names]
    for row, values in enumerate(frame.select(neutralise(pl.all())).iter_rows(), start=1):
        for col, value in enumerate(values):
            if value is None:
                sheet.write_blank(row, col, None, text)
                continue
            sheet.write_string(row, col, value, text)
            widths[col] = max(widths[col], *(len(line) for line in value.split("\n")))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, 8), 60), text)
    book.close()


def _parts(path: Path) -> dict[str, bytes]:
    # docProps/core.xml holds the time the file was written.
    with zipfile.ZipFile(path) as book:
        return {n: book.read(n) for n in book.namelist() if n != "docProps/core.xml"}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=_frames)
def test_the_file_is_the_one_xlsxwriter_wrote_cell_by_cell(tmp_path: Path,
                                                           frame: pl.DataFrame) -> None:
    frame = frame.with_columns(pl.when(pl.all().str.contains(_RICH.pattern)
                                       | pl.all().str.contains(_OVERLAPPING))
                               .then(None).otherwise(pl.all()).name.keep())
    ours, theirs = tmp_path / "ours.xlsx", tmp_path / "theirs.xlsx"
    assert write_xlsx([frame], ours, _HEADERS) == frame.height
    _by_xlsxwriter(frame, theirs)
    assert _parts(ours) == _parts(theirs)


@pytest.mark.parametrize("stream_bytes", [xlsx.STREAM_BYTES, 0])  # calamine, streamed
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=_frames)
def test_every_value_reads_back_exactly(tmp_path: Path, stream_bytes: int,
                                        frame: pl.DataFrame) -> None:
    # A value whose only text is white space reads as empty: the readers' rule for
    # every sheet, not the writer's. Rows of only such cells are skipped as blank. U+FFFE
    # and U+FFFF can't be in a register (an import takes them out as invisible) and
    # calamine leaves their escapes as they are.
    frame = frame.with_columns(pl.all().str.replace_all("[\ufffe\uffff]", ""))
    frame = frame.with_columns(pl.when(pl.all().str.strip_chars().str.len_chars() == 0)
                               .then(None).otherwise(pl.all()).name.keep())
    frame = frame.filter(pl.any_horizontal(pl.all().is_not_null()))
    dest = tmp_path / "out.xlsx"
    write_xlsx([frame], dest, _HEADERS)
    table = read_xlsx(dest, stream_bytes=stream_bytes)
    read = table.frame.drop("_row").select(unneutralise(pl.all()))
    assert read.rows() == frame.rows()


def test_chunks_continue_the_row_numbers_and_the_dimension_covers_them(tmp_path: Path) -> None:
    chunks = [pl.DataFrame({"a": ["1", "2"], "b": ["x", None], "c": [None, None]}),
              pl.DataFrame({"a": [], "b": [], "c": []}, schema={c: pl.String for c in "abc"}),
              pl.DataFrame({"a": ["3"], "b": ["y"], "c": ["z"]})]
    dest = tmp_path / "out.xlsx"
    assert write_xlsx(chunks, dest, _HEADERS) == 3
    with zipfile.ZipFile(dest) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert '<dimension ref="A1:C4"/>' in sheet
    assert re.findall(r'<row r="(\d+)"', sheet) == ["1", "2", "3", "4"]
    assert read_xlsx(dest).frame["c0"].to_list() == ["1", "2", "3"]


def test_a_note_shaped_like_a_rich_string_is_exported_as_it_is(tmp_path: Path) -> None:
    # xlsxwriter wrote `<r>hello</r>` into the sheet unescaped: the cell read back empty.
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "customer_number;name;notes\n"
                                           "1;Aho Oy;<r>hello</r>\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    dest = tmp_path / "out.xlsx"
    assert run_cli("export", dest, "--db", db).exit_code == 0
    assert read_xlsx(dest).frame["c17"].to_list() == ["<r>hello</r>"]
    result = run_cli("preview", dest, "--db", db, "--json")
    assert result.exit_code == 0 and result.json()["unchanged"] == 1


def test_a_value_too_long_as_excel_counts_it_is_refused_not_cut(tmp_path: Path) -> None:
    # 20,000 emoji are 40,000 UTF-16 units, Excel's measure: xlsxwriter cut the value to
    # 16,383 emoji and the export said nothing.
    db = tmp_path / "r.db"
    emoji = "😀" * 20_000
    source = write_csv(tmp_path / "s.csv", f"customer_number;name;notes\n1;Aho Oy;\n"
                                           f"2;Berg AB;{emoji}\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    assert customers(db)["2"]["notes"] == emoji
    dest = tmp_path / "out.xlsx"
    result = run_cli("export", dest, "--db", db, "--json")
    assert result.exit_code == 2
    assert result.json()["error"] == (
        "customer 2, notes (row 3, column 18): a value of 20000 characters (40000 as "
        "Excel counts them) does not fit an XLSX cell (32767); export CSV or Parquet")
    assert not dest.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_chunk_built_in_slices_by_bytes_is_the_same_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Long notes: the rows' XML is built a few MB of text at a time, never a whole chunk.
    import sync.writers.export_xlsx as export_xlsx

    frame = pl.DataFrame({"a": [str(n) for n in range(1, 8)], "b": ["x" * n for n in range(7)],
                          "c": ["note\n" * n for n in range(7)]})
    whole, sliced = tmp_path / "whole.xlsx", tmp_path / "sliced.xlsx"
    write_xlsx([frame], whole, _HEADERS)
    monkeypatch.setattr(export_xlsx, "_SLICE_BYTES", 12)
    calls: list[int] = []
    original = export_xlsx.row_elements
    monkeypatch.setattr(export_xlsx, "row_elements",
                        lambda cells, *args: calls.append(cells.height) or original(cells, *args))
    write_xlsx([frame], sliced, _HEADERS)
    assert calls[0] == 1  # the header row
    assert len(calls) > 2 and sum(calls[1:]) == frame.height
    assert _parts(sliced) == _parts(whole)


def test_escapes_that_overlap_read_back_as_they_were(tmp_path: Path) -> None:
    # Review: `_x0041_x0042_` was written `_x005F_x0041_x0042_` (xlsxwriter's escaping)
    # and read back as `_x0041B`: an export imported again would have changed the note.
    values = ["_x0041_x0042_", "_x0041__x0042_", "x_x0041_x0042_x0043_"]
    frame = pl.DataFrame({"a": ["1", "2", "3"], "b": ["x", "y", "z"], "c": values})
    dest = tmp_path / "out.xlsx"
    write_xlsx([frame], dest, _HEADERS)
    for stream_bytes in (xlsx.STREAM_BYTES, 0):
        assert read_xlsx(dest, stream_bytes=stream_bytes).frame["c2"].to_list() == values


def test_text_a_spreadsheet_could_read_as_a_short_escape_has_its_underscore_escaped(
        tmp_path: Path) -> None:
    # QA: LibreOffice reads `_x` and 1-3 hex digits as an escape when it makes a control
    # character; `Box_x9_1`, saved again, came back `Box\t1` and was imported as an edit.
    # And `_x0041` before a control character became `_x0041_x0001_`: `A` read back.
    values = ["Box_x9_1", "a_xa_b", "file_x00d_", "p_x0_q", "_x1_x2_", "_x0041\x01z"]
    frame = pl.DataFrame({"a": [str(n) for n in range(len(values))], "b": values,
                          "c": ["x"] * len(values)})
    dest = tmp_path / "out.xlsx"
    write_xlsx([frame], dest, _HEADERS)
    with zipfile.ZipFile(dest) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    for written in ("Box_x005F_x9_1", "a_x005F_xa_b", "file_x005F_x00d_", "p_x005F_x0_q",
                    "_x005F_x1_x005F_x2_", "_x005F_x0041_x0001_z"):
        assert f"<t>{written}</t>" in sheet
    for stream_bytes in (xlsx.STREAM_BYTES, 0):
        assert read_xlsx(dest, stream_bytes=stream_bytes).frame["c1"].to_list() == values


def test_headers_are_written_as_cells_are(tmp_path: Path) -> None:
    # QA: a rules file's header shaped like `<r>x</r>` went into the sheet unescaped
    # (xlsxwriter's rich string) and read back as no header, so the column's edits were
    # ignored; and a header `=Summa` in a CSV would run as a formula.
    headers = {"a": "Asiakasnumero", "b": "<r>x</r>", "c": "=Summa"}
    frame = pl.DataFrame({"a": ["1"], "b": ["v"], "c": ["w"]})
    write_xlsx([frame], tmp_path / "out.xlsx", headers)
    for stream_bytes in (xlsx.STREAM_BYTES, 0):
        read = read_xlsx(tmp_path / "out.xlsx", stream_bytes=stream_bytes)
        assert read.headers == ["Asiakasnumero", "<r>x</r>", "'=Summa"]
    export_csv([frame], tmp_path / "out.csv", headers, delimiter=";", bom=False)
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "Asiakasnumero;<r>x</r>;'=Summa")


def test_a_value_that_fits_only_without_its_formula_guard_is_named_as_the_register_has_it(
        tmp_path: Path) -> None:
    # QA: a note of 32,767 characters starting with '=' was refused as "a value of 32768
    # characters": the count was of the value with its guard, which the user never saw.
    db = tmp_path / "r.db"
    note = "=" + "b" * 32_766
    source = write_csv(tmp_path / "s.csv", f"customer_number;name;notes\n7;Aho Oy;{note}\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    assert customers(db)["7"]["notes"] == note
    result = run_cli("export", tmp_path / "out.xlsx", "--db", db, "--json")
    assert result.exit_code == 2
    assert result.json()["error"] == (
        "customer 7, notes (row 2, column 18): a value of 32767 characters does not fit an "
        "XLSX cell (32767) once a ' is put before it (it starts with '=', which a "
        "spreadsheet would run as a formula); export CSV or Parquet")
