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


def test_an_import_whose_commit_fails_leaves_no_report(tmp_path: Path,
                                                       monkeypatch) -> None:
    # QA: with the register busy (exit 3, nothing written), `import --report` still
    # wrote a report of 2,500 New and 1,500 Modified rows, over an earlier one.
    import sqlite3

    monkeypatch.setattr("sync.writers.register.sqlite._BUSY_TIMEOUT_MS", 50)
    db, report = tmp_path / "r.db", tmp_path / "report.csv"
    first = write_csv(tmp_path / "a.csv", "customer_number;name\n1;Alfa Oy\n")
    assert run_cli("import", first, "--db", db, "--yes").exit_code == 0
    report.write_text("the earlier report\n", encoding="utf-8")
    source = write_csv(tmp_path / "b.csv", "customer_number;name\n1;Alfa Group Oy\n2;Beta Oy\n")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program is writing to the register
    try:
        busy = run_cli("import", source, "--db", db, "--yes", "--report", report)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert busy.exit_code == 3, busy.stderr
    assert report.read_text(encoding="utf-8") == "the earlier report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "r.db",
                                                          "report.csv"]
    done = run_cli("import", source, "--db", db, "--yes", "--report", report)
    assert done.exit_code == 0, done.stderr
    with report.open(encoding="utf-8", newline="") as handle:
        assert [line["status"] for line in csv.DictReader(handle)] == ["Modified", "New"]


def test_a_jobs_report_guards_formula_cells_too(tmp_path: Path) -> None:
    # Review: jobs wrote their reports bare, and drop folders are where files from other
    # systems arrive.
    from tests.jobs_helpers import write_job

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(
        'Asiakasnumero;Nimi;Kaupunki\n"=HYPERLINK(""http://x.example"";""1"")";A Oy;Oulu\n',
        encoding="utf-8")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    with open(result.json()["files"][0]["report"], encoding="utf-8", newline="") as handle:
        [line] = list(csv.DictReader(handle))
    assert line["customer_number"] == "'=HYPERLINK(\"http://x.example\";\"1\")"


def test_a_stop_after_the_commit_returned_keeps_the_report(tmp_path: Path,
                                                           monkeypatch) -> None:
    # Review: a Ctrl-C landing after commit() returned (the batch stands) threw the new
    # report away, and an earlier report of that name read as this run's.
    import sync.cli as cli

    real = cli._commit

    def commit_then_interrupt(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_commit", commit_then_interrupt)
    report = tmp_path / "report.csv"
    report.write_text("the earlier report\n", encoding="utf-8")
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1;Alfa Oy\n")
    result = run_cli("import", source, "--db", tmp_path / "r.db", "--yes", "--report",
                     report)
    assert result.exit_code == 130
    assert "after batch 1 was committed: it stands" in result.stderr
    with report.open(encoding="utf-8", newline="") as handle:
        assert [line["status"] for line in csv.DictReader(handle)] == ["New"]
