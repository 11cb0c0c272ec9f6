"""XLSX, Parquet and Arrow sources: read as the text a person sees, same pipeline as CSV."""

from __future__ import annotations

import datetime
from pathlib import Path

import polars as pl
import pytest

from sync.errors import SourceError
from sync.plan import Plan, new_col
from sync.readers import read_source
from tests.conftest import customers, run_cli
from tests.workbooks import Formula, write_xlsx

HEADERS = ["Asiakasnumero", "Nimi", "Postinumero", "Puhelin", "Pvm", "Kaava", "Suoja", "Iso"]


def workbook(tmp_path: Path, **options: object) -> Path:
    return write_xlsx(tmp_path / "asiakkaat.xlsx", [
        HEADERS,
        [1001, "Aho", 100, 358401234567.0, datetime.date(2024, 1, 5), Formula("=1+1", 2),
         Formula('="00100"', "00100"), 1.2345678901234567e19],
        [],
        [1002, "Laine", "00200", None, datetime.datetime(2024, 1, 5, 13, 30), None, None, 1.5],
    ], **options)  # type: ignore[arg-type]


def test_xlsx_cells_arrive_as_the_text_the_sheet_shows(tmp_path: Path) -> None:
    table = read_source(workbook(tmp_path))
    assert table.format == "xlsx" and table.sheet == "Taul1"
    assert table.encoding is None and table.delimiter is None
    assert table.headers == HEADERS
    assert table.frame.rows() == [
        # number 100 stays 100 (never 100.0), the float phone keeps all its digits, the
        # date is ISO text, formulas give their cached values, a number past 2**53 the
        # digits it holds (no made-up ones: 12345678901234569216)
        (2, "1001", "Aho", "100", "358401234567", "2024-01-05", "2", "00100",
         "1.234567890123457E+19"),
        (4, "1002", "Laine", "00200", None, "2024-01-05 13:30:00", None, None, "1.5"),
    ]
    assert table.skipped == 1  # the blank row 3
    assert all(dtype == pl.String for dtype in table.frame.drop("_row").dtypes)


def test_xlsx_row_numbers_are_the_sheets_below_title_rows(tmp_path: Path) -> None:
    path = workbook(tmp_path, first_row=3)
    with pytest.raises(SourceError, match=r"row 1 is empty.*--header-row 3"):
        read_source(path)
    table = read_source(path, header_row=3)
    assert table.frame["_row"].to_list() == [4, 6]
    assert table.skipped == 1


def test_xlsx_sheet_is_chosen_by_name_ignoring_case(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "w.xlsx", [["x"], ["1"]],
                      more_sheets={"Asiakkaat": [["Nimi"], ["Aho"]]})
    table = read_source(path, sheet="asiakkaat")
    assert table.sheet == "Asiakkaat"
    assert table.frame.rows() == [(2, "Aho")]
    with pytest.raises(SourceError, match=r"no sheet named 'Kunder'; the sheets are "
                                          r"'Taul1', 'Asiakkaat' \(pass --sheet\)"):
        read_source(path, sheet="Kunder")


def test_options_that_do_not_apply_to_the_format_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="--sheet applies to XLSX sources only"):
        read_source(_csv(tmp_path), sheet="Taul1")
    with pytest.raises(SourceError, match="--delimiter applies to text .* leave it out"):
        read_source(workbook(tmp_path), delimiter=";")
    with pytest.raises(SourceError, match="--encoding and --delimiter apply to text .* leave "
                                          "them out"):
        read_source(workbook(tmp_path), encoding="cp1252", delimiter=";")


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "s.csv"
    path.write_text("Nimi\nAho\n", encoding="utf-8")
    return path


def test_xlsx_preview_repairs_the_number_typed_postal_code(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "s.xlsx", [
        ["Asiakasnumero", "Nimi", "Postinumero", "Puhelin"],
        [1001, "Kahvila Aurinko Oy", 100, 358401234567],
        [1002, "Testi Oy", 250, 3.58401e11],
    ])
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--report", tmp_path / "r.csv", "--json")
    assert result.exit_code == 0, result.stderr
    payload = result.json()
    assert payload["new"] == 2
    assert payload["source"] == {
        "format": "xlsx", "sheet": "Taul1", "encoding": None, "delimiter": None,
        "header_row": 1, "columns": {"Asiakasnumero": "customer_number", "Nimi": "name",
                                     "Postinumero": "postal_code", "Puhelin": "phone"},
        "ignored": [], "suggestions": {}}
    rows = Plan.load(tmp_path / "p.plan").rows
    assert rows[new_col("postal_code")].to_list() == ["00100", "00250"]
    assert rows[new_col("customer_number")].to_list() == ["1001", "1002"]
    assert rows[new_col("phone")].to_list()[0] == "+358401234567"


def test_parquet_columns_are_cast_to_text(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pl.DataFrame({
        "Asiakasnumero": [1001, None, 1003],
        "Postinumero": [100.0, None, 33100.5],
        "Pvm": [datetime.date(2024, 1, 5), None, None],
        "Aika": [datetime.datetime(2024, 1, 5, 13, 30), None, datetime.datetime(2024, 1, 5)],
        "Nimi": ["Aho", None, "  "],
        "Yritys": [True, None, False],
        "Iso": [1e20, None, 358401234567.0],
    }).write_parquet(path)
    table = read_source(path)
    assert table.format == "parquet" and table.header_row == 1
    assert table.headers == ["Asiakasnumero", "Postinumero", "Pvm", "Aika", "Nimi", "Yritys",
                             "Iso"]
    assert table.frame.rows() == [
        (2, "1001", "100", "2024-01-05", "2024-01-05 13:30:00", "Aho", "true", "1E+20"),
        (4, "1003", "33100.5", None, "2024-01-05", "  ", "false", "358401234567"),
    ]
    assert table.skipped == 1  # row 3: every cell null


def test_parquet_decimals_nan_and_infinity_read_as_a_person_would_type(tmp_path: Path) -> None:
    # QA: a decimal(12, 2) customer number 1001 became customer "1001.00"; NaN (pandas'
    # missing number) became customer "NaN"; infinity was stored as "inf".
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({
        "Asiakasnumero": pa.array([decimal.Decimal(v) for v in ("1001", "1002", "-1.50")],
                                  pa.decimal128(12, 2)),
        "Nimi": ["Aho", "Bee", "Cee"],
        "Puhelin": [float("nan"), float("inf"), 401234567.0],
    }), path)
    assert read_source(path).frame.rows() == [
        (2, "1001", "Aho", None), (3, "1002", "Bee", "#NUM!"), (4, "-1.5", "Cee", "401234567")]
    db = tmp_path / "r.db"
    result = run_cli("import", path, "--db", db, "--yes", "--json")
    assert (result.json()["new"], result.json()["rejected"]) == (2, 1)  # #NUM! rejects
    assert sorted(customers(db)) == ["-1.5", "1001"]


@pytest.mark.parametrize("suffix", [".arrow", ".feather", ".ipc"])
@pytest.mark.parametrize("stream", [False, True])
def test_arrow_ipc_files_and_streams(tmp_path: Path, suffix: str, stream: bool) -> None:
    path = tmp_path / f"s{suffix}"
    frame = pl.DataFrame({"Nimi": ["Aho"], "Postinumero": [100]})
    frame.write_ipc_stream(path) if stream else frame.write_ipc(path)
    table = read_source(path)
    assert table.format == "arrow"
    assert table.frame.rows() == [(2, "Aho", "100")]


def test_text_that_starts_like_a_columnar_file_is_read_as_text(tmp_path: Path) -> None:
    # A first header 'PAR1' (or 'ARROW1') made the file a damaged Parquet file, refused
    # whole. A Parquet or Arrow file ends with its magic as it starts; text does not.
    for magic in ("PAR1", "ARROW1"):
        text = tmp_path / f"{magic}.csv"
        text.write_text(f"{magic};customer_number;name\nx;1;Aho Oy\n", encoding="utf-8")
        table = read_source(text)
        assert (table.format, table.headers) == ("csv", [magic, "customer_number", "name"])
    # A Parquet file is one whatever its name; one cut short and named so stays a
    # damaged Parquet file; named .csv, it is no text either.
    parquet = tmp_path / "export.csv"
    pl.DataFrame({"customer_number": ["1"], "name": ["Aho Oy"]}).write_parquet(parquet)
    assert read_source(parquet).format == "parquet"
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(parquet.read_bytes()[:100])
    with pytest.raises(SourceError, match=r"cut\.parquet: cannot be read as a Parquet file"):
        read_source(cut)
    cut_csv = tmp_path / "cut.csv"
    cut_csv.write_bytes(parquet.read_bytes()[:100])
    with pytest.raises(SourceError, match=r"cut\.csv: starts like a Parquet file but does "
                                          r"not end like one \(cut short\?\), and cannot be "
                                          r"read as text either: it holds a NUL byte"):
        read_source(cut_csv)


def test_parquet_refuses_header_row(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pl.DataFrame({"Nimi": ["Aho"]}).write_parquet(path)
    with pytest.raises(SourceError, match="--header-row does not apply to Parquet"):
        read_source(path, header_row=2)


def test_a_nul_in_a_parquet_cell_is_taken_out_on_both_engines(register_url: str,
                                                             tmp_path: Path) -> None:
    # SQLite stored the NUL; PostgreSQL can't hold one in text, and the whole import
    # ended in an internal error (exit 70).
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nul.parquet"
    pq.write_table(pa.table({"customer_number": ["1"], "name": ["Nul\x00Name Oy"]}), path)
    result = run_cli("import", path, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert customers(register_url)["1"]["name"] == "NulName Oy"


def test_an_empty_first_sheet_names_the_others_to_pass_with_sheet(tmp_path: Path) -> None:
    # QA: an empty first sheet (or a chart) in front of the data said only "is empty".
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Ohjeet"
    book.create_sheet("Asiakkaat").append(["Asiakasnumero", "Nimi"])
    book["Asiakkaat"].append(["1001", "Aho Oy"])
    path = tmp_path / "s.xlsx"
    book.save(path)
    with pytest.raises(SourceError, match="sheet 'Ohjeet' is empty; the workbook's other "
                                          "sheets are 'Asiakkaat': name the one to read "
                                          "with --sheet"):
        read_source(path)
    assert read_source(path, sheet="Asiakkaat").frame.rows() == [(2, "1001", "Aho Oy")]


def test_parquet_problems_name_their_column(tmp_path: Path) -> None:
    # QA: two columns of one name said "Multiple matches for FieldRef.Name(Nimi)", and
    # a column that can't be text named no column.
    import pyarrow as pa
    import pyarrow.parquet as pq

    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.table([pa.array(["1"]), pa.array(["Aho"]), pa.array(["Bee"])],
                            names=["Asiakasnumero", "Nimi", "Nimi"]), twice)
    result = run_cli("preview", twice, "--db", tmp_path / "r.db", "--json")
    assert result.exit_code == 2
    assert ("headers 'Nimi' in column 2 and 'Nimi' in column 3 both map to field name"
            in result.json()["error"])  # no letters: no spreadsheet shows a Parquet file
    duration = tmp_path / "duration.parquet"
    pq.write_table(pa.table([pa.array([1], pa.duration("ms")), pa.array(["Aho"])],
                            names=["Kesto", "Nimi"]), duration)
    with pytest.raises(SourceError, match="column 'Kesto': casting from Duration"):
        read_source(duration)


def test_two_headers_of_one_field_are_named_by_their_columns(tmp_path: Path) -> None:
    # QA: "headers 'Nimi' and 'Nimi' both map to field name" said not which columns.
    csv_path = tmp_path / "twice.csv"
    csv_path.write_text("Asiakasnumero;Nimi;Postinumero;Nimi\n1001;Aho;00100;Bee\n")
    result = run_cli("preview", csv_path, "--db", tmp_path / "r.db", "--json")
    assert result.exit_code == 2
    assert result.json()["error"] == (
        f"{csv_path}: headers 'Nimi' in column 2 (B) and 'Nimi' in column 4 (D) both map "
        "to field name; remove or rename one of them")
    # A sheet that starts at column C: the letters are the sheet's (calamine's grid
    # starts at its first column with a cell).
    sheet = write_xlsx(tmp_path / "twice.xlsx", [[None, None, "Asiakasnumero", "Nimi", None,
                                                  "Name"], [None, None, "1", "Aho", None, "B"]])
    result = run_cli("preview", sheet, "--db", tmp_path / "r.db", "--json")
    assert result.exit_code == 2
    assert ("headers 'Nimi' in column 4 (D) and 'Name' in column 6 (F) both map to field "
            "name") in result.json()["error"]


@pytest.mark.parametrize("stream_bytes", [0, 1 << 30])  # streamed, and read by calamine
def test_an_xlsx_tables_columns_are_labelled_with_the_sheets_letters(
        tmp_path: Path, stream_bytes: int) -> None:
    from sync.readers.table import column_label, column_letters
    from sync.readers.xlsx import read_xlsx

    sheet = write_xlsx(tmp_path / "w.xlsx", [[None, "Nimi", "Name"], [None, "A", "B"]])
    table = read_xlsx(sheet, stream_bytes=stream_bytes)
    assert [column_label(table, i) for i in (0, 1)] == ["2 (B)", "3 (C)"]
    assert [column_letters(i) for i in (0, 25, 26, 701, 702, 16383)] == [
        "A", "Z", "AA", "ZZ", "AAA", "XFD"]
