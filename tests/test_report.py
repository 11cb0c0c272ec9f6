"""The preview report (spec section 9) as the office opens it: in a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from sync.readers.neutralise import unneutralise
from tests.conftest import run_cli, write_csv


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_guarded(tmp_path: Path) -> None:
    # A source from another system can bring a customer number that a spreadsheet runs
    # as a formula when the report is opened; the export guards such cells, the report
    # wrote them bare.
    numbers = ["=HYPERLINK(\"http://x.example\";\"1\")", "+1", "@SUM(A1)", "-1", "1001"]
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n" + "".join(
        f"{n.replace(chr(34), chr(34) * 2).join(chr(34) * 2)};Yritys {i} Oy\n"
        for i, n in enumerate(numbers)))
    report = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--report", report)
    assert result.exit_code == 0, result.stderr
    with report.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    written = [line["customer_number"] for line in lines]
    assert [n[0] for n in written] == ["'", "'", "'", "'", "1"]
    # The guard is the export's: one `'` that a reader takes off again.
    assert pl.DataFrame({"n": written}).select(unneutralise(pl.col("n")))["n"].to_list() \
        == numbers
