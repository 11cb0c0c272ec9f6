"""The commit path: plan integrity across the checksum change, and what it imports."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from sync.plan import Plan, legacy_plan_checksum, plan_checksum
from tests.conftest import FIXTURES, ROOT, customers, run_cli

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "register.db"
    assert run_cli("import", REGISTER, "--db", path, "--yes").exit_code == 0
    return path


def _rewrite(plan_path: Path, rows: pl.DataFrame, header: dict) -> None:
    table = rows.to_arrow().replace_schema_metadata(
        {b"regsync.plan": json.dumps(header).encode()})
    pq.write_table(table, plan_path)


def test_a_plan_saved_with_the_earlier_checksum_still_commits(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    header = dataclasses.asdict(plan.header)
    header["checksum"] = legacy_plan_checksum(plan.header, plan.rows)
    assert header["checksum"] != plan_checksum(plan.header, plan.rows)
    _rewrite(plan_path, plan.rows, header)
    result = run_cli("commit", plan_path, "--db", db, "--json")
    assert result.exit_code == 1 and result.json()["batch"] == 2
    assert "2001" in customers(db)


def test_a_plan_edited_after_the_earlier_checksum_is_refused(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    header = dataclasses.asdict(plan.header)
    header["checksum"] = legacy_plan_checksum(plan.header, plan.rows)
    edited = plan.rows.with_columns(
        pl.when(pl.col("row") == 6).then(pl.lit("Mallory")).otherwise(pl.col("new.name"))
        .alias("new.name"))
    _rewrite(plan_path, edited, header)
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 2 and "changed after preview" in result.stderr
    assert "2001" not in customers(db)


def _shift_first_letter(rows: pl.DataFrame) -> pl.DataFrame:
    names = rows["new.name"].to_list()
    names[0], names[1] = names[0] + names[1][:1], names[1][1:]
    return rows.with_columns(pl.Series("new.name", names, pl.String))


def _null_to_empty(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(pl.col("new.vat_id").fill_null(""))


# Moving text from one cell to its neighbour, or a null becoming "", keeps the
# concatenation of the values: the lengths must tell them apart.
@pytest.mark.parametrize("edit", [_shift_first_letter, _null_to_empty])
def test_the_checksum_sees_values_moved_between_cells(db: Path, tmp_path: Path, edit):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    assert plan_checksum(plan.header, edit(plan.rows)) != plan.header.checksum


def test_commit_imports_none_of_the_preview_stages(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    probe = (
        "import sys\n"
        "from sync.cli import main\n"
        f"sys.argv = ['regsync', 'commit', {str(plan_path)!r}, '--db', {str(db)!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    heavy = ['pyarrow', 'pandas', 'phonenumbers', 'babel', 'stdnum', 'rapidfuzz',\n"
        "             'sync.readers', 'sync.normalise', 'sync.matchers', 'sync.pipeline',\n"
        "             'sync.export']\n"
        "    print([m for m in heavy if m in sys.modules], file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
