"""The same customers as CSV (every encoding), XLSX, Parquet and Arrow give identical plans."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sync.plan import Plan, new_col
from tests.conftest import FIXTURES, load_register, run_cli
from tests.workbooks import write_xlsx

REFERENCE = FIXTURES / "encodings" / "customers_utf8.csv"
CSV_FILES = sorted((FIXTURES / "encodings").glob("customers_*"))
REPORT_COLUMNS = ["row", "status", "customer_number", "matched_by", "changed_fields",
                  "message", "possible_duplicate", "similarity"]
# 1001 moved city (Modified), 1002 is as in the file (No change), the rest are New.
SEED = ("customer_number;name;postal_code;city\n"
        "1001;Kahvila Äijä Oy;00100;Vantaa\n1002;Söderström Ab;00200;Espoo\n")
_PLAIN_NUMBER = re.compile(r"[1-9][0-9]*")


def _reference_rows() -> list[list[str]]:
    with open(REFERENCE, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def _as_xlsx(tmp_path: Path) -> Path:
    # As a spreadsheet types them: plain numbers become number cells, the rest text.
    typed = [[int(c) if _PLAIN_NUMBER.fullmatch(c) else (c or None) for c in row]
             for row in _reference_rows()]
    return write_xlsx(tmp_path / "customers.xlsx", typed)


def _as_frame() -> pl.DataFrame:
    header, *rows = _reference_rows()
    columns = {}
    for i, name in enumerate(header):
        values = [row[i] or None for row in rows]
        plain = all(v is None or _PLAIN_NUMBER.fullmatch(v) for v in values)
        columns[name] = pl.Series(name, values).cast(pl.Int64 if plain else pl.String)
    frame = pl.DataFrame(columns)
    assert frame.schema["Asiakasnumero"] == pl.Int64  # typed, as another system exports it
    return frame


def _sources(tmp_path: Path) -> dict[str, Path]:
    sources = {p.name: p for p in CSV_FILES}
    sources["customers.xlsx"] = _as_xlsx(tmp_path)
    _as_frame().write_parquet(tmp_path / "customers.parquet")
    sources["customers.parquet"] = tmp_path / "customers.parquet"
    _as_frame().write_ipc(tmp_path / "customers.arrow")
    sources["customers.arrow"] = tmp_path / "customers.arrow"
    return sources


def _plan_rows(source: Path, db: Path, tmp_path: Path) -> pl.DataFrame:
    plan_path = tmp_path / f"{source.name}.plan"
    result = run_cli("preview", source, "--db", db, "--plan", plan_path)
    assert result.exit_code == 0, result.stderr
    plan = Plan.load(plan_path)
    return plan.rows.select(*REPORT_COLUMNS, *[new_col(f) for f in plan.header.fields])


@pytest.mark.parametrize("chunk_rows", [500_000, 2])
def test_every_format_and_encoding_gives_the_same_plan(tmp_path: Path, chunk_rows: int,
                                                       monkeypatch) -> None:
    # Also with the preview's row slices of 2 rows: every reader's frame sliced alike.
    monkeypatch.setattr("sync.pipeline._CHUNK_ROWS", chunk_rows)
    db = tmp_path / "r.db"
    load_register(db, SEED, tmp_path)
    reference = _plan_rows(REFERENCE, db, tmp_path)
    assert reference["status"].to_list() == ["Modified", "No change", "New", "New", "New"]
    assert reference[new_col("postal_code")].to_list()[2] == "33100"
    sources = _sources(tmp_path)
    assert len(sources) >= 10
    for name, path in sources.items():
        try:
            assert_frame_equal(_plan_rows(path, db, tmp_path), reference)
        except AssertionError as exc:
            raise AssertionError(f"{name} gives another plan than {REFERENCE.name}") from exc


@pytest.mark.parametrize("name", ["customers.xlsx", "customers.parquet"])
def test_typed_sources_really_hold_numbers(tmp_path: Path, name: str) -> None:
    # Guard for the test above: the binary files must hold number cells, or it proves little.
    path = _sources(tmp_path)[name]
    if name.endswith(".parquet"):
        assert pl.read_parquet(path).schema["Asiakasnumero"] == pl.Int64
    else:
        sheet = openpyxl.load_workbook(path).active
        assert isinstance(sheet["A2"].value, int) and isinstance(sheet["C4"].value, int)
        assert sheet["C2"].value == "00100"
