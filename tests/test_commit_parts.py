"""A commit reads and writes a plan a part at a time (sync.commit_rows), on both engines,
and writes exactly what a commit of the whole plan at once writes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import sync.commit_rows
import sync.plan
import sync.writers.register.sqlite
from sync.commit import commit
from sync.commit_rows import in_memory, open_for_commit
from sync.errors import PlanError
from sync.pipeline import preview
from sync.plan import Plan, commit_columns
from sync.rules import load_rules
from sync.writers.register import SQLiteRegister, open_register
from tests.conftest import (
    customers,
    execute_sql,
    load_register,
    register_state,
    run_cli,
    write_csv,
)

REGISTER = """customer_number;name;business_id;city;customer_group
1001;Kahvila Aurinko Oy;0112038-9;Helsinki;Helsinki
1002;Matti Virtanen;;Tampere;
1003;Liisa Laine;;Turku;Turku
1004;Rakennus Kivi Oy;2617416-4;Oulu;Oulu
1005;Pekka Nieminen;;Espoo;
"""
# New rows with and without numbers and groups, renames (name blocks), a group move,
# a No change row, a Conflict: spread over parts of three rows each.
SOURCE = """customer_number;name;business_id;city;customer_group
2001;Anna Salo;;Vaasa;Uudet
1001;Kahvila Aurinko Oy;;Espoo;Helsinki
1002;Matti Virtanen-Koski;;Tampere;Pohjoinen
;Olli Ranta;;Lahti;uudet
1003;Liisa Laine;;Turku;Turku
1004;Rakennus Kivi Oyj;;Oulu;
2002;Kivi Rakennus;2617416-4;;
;Eeva Aho;;Pori;Pohjoinen
1005;Pekka Nieminen;;Kouvola;Itä
2003;Sari Koski;;;
"""


def _sorted_rows(db: str, query: str) -> list[tuple[object, ...]]:
    """The rows of a query on the register (`{name_blocks}` names that table), sorted."""
    register = open_register(db, create=False)
    try:
        return sorted(register._rows(query.format(name_blocks=register._t("name_blocks"))))
    finally:
        register.close()


def _blocks(db: str) -> list[tuple[object, ...]]:
    return _sorted_rows(db, "SELECT block, customer_number, name FROM {name_blocks}")


def _history(db: str) -> list[tuple[object, ...]]:
    register = open_register(db, create=False)
    try:
        rows = register.history().select("batch_id", "customer_number", "action", "field",
                                          "old_value", "new_value")
        return sorted(rows.rows(), key=repr)
    finally:
        register.close()


def test_a_plan_committed_in_parts_writes_what_it_writes_committed_whole(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_csv(tmp_path / "in.csv", SOURCE)
    whole = str(tmp_path / "whole.db")
    for db in (register_url, whole):
        load_register(db, REGISTER, tmp_path)
    result = run_cli("preview", source, "--db", whole, "--plan", tmp_path / "whole.plan")
    assert result.exit_code == 1, result.stderr
    monkeypatch.setattr(sync.commit_rows, "PART_ROWS", 3)  # parts of 3 plan rows
    parted = tmp_path / "parted.plan"
    assert run_cli("preview", source, "--db", register_url, "--plan", parted).exit_code == 1
    with open_for_commit(parted) as rows:
        assert rows.part_count() == 3
    result = run_cli("commit", parted, "--db", register_url, "--json")
    assert result.exit_code == 1 and result.json()["batch"] == 2, result.stderr
    monkeypatch.undo()
    with open_for_commit(tmp_path / "whole.plan") as rows:
        assert rows.part_count() == 1
    result = run_cli("commit", tmp_path / "whole.plan", "--db", whole, "--json")
    assert result.exit_code == 1 and result.json()["batch"] == 2, result.stderr
    assert customers(register_url) == customers(whole)
    assert _blocks(register_url) == _blocks(whole)
    assert _history(register_url) == _history(whole)
    assert customers(whole)["1002"]["name"] == "Matti Virtanen-Koski"
    assert customers(whole)["1002"]["customer_group"] == "Pohjoinen"


def test_a_commit_in_parts_reports_each_part_and_counts_them_all(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)
    source = write_csv(tmp_path / "in.csv", SOURCE)
    plan_path = tmp_path / "p.plan"
    run_cli("preview", source, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    register = open_register(db, create=True)
    seen: list[str] = []
    try:
        batch = commit(in_memory(plan, part_rows=3), register, "tester",
                       progress=lambda step, number, total: seen.append(step))
    finally:
        register.close()
    statuses = plan.rows["status"]
    assert batch.inserted == (statuses == "New").sum() == 4
    assert batch.updated == (statuses == "Modified").sum() == 4
    assert seen == ["checking the plan is current",
                    "inserting customers (part 1 of 2)", "inserting customers (part 2 of 2)",
                    "updating customers (part 1 of 2)", "updating customers (part 2 of 2)",
                    *[f"updating name blocks (part {k} of 3)" for k in (1, 2, 3)],
                    "writing the transaction"]


def test_a_commit_reads_the_rows_it_writes_a_part_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read whole, a first load of 5M customers took 9.3 GiB; a plan of many No change
    # rows cost a commit their memory too. Each step reads only its own rows.
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)
    plan_path = tmp_path / "p.plan"
    run_cli("preview", write_csv(tmp_path / "in.csv", SOURCE), "--db", db, "--plan", plan_path)
    whole = Plan.load(plan_path)
    read: list[pl.DataFrame] = []
    real = sync.commit_rows.CommitRows.parts

    def spy(self: sync.commit_rows.CommitRows, statuses: tuple[str, ...],
            columns: list[str]) -> Iterator[pl.DataFrame]:
        for frame in real(self, statuses, columns):
            read.append(frame)
            yield frame

    monkeypatch.setattr(sync.commit_rows, "PART_ROWS", 3)
    monkeypatch.setattr(sync.commit_rows.CommitRows, "parts", spy)
    assert run_cli("commit", plan_path, "--db", db).exit_code == 1
    assert read and max(frame.height for frame in read) <= 3
    assert all(set(frame.columns) <= set(commit_columns(whole.header.fields))
               for frame in read)
    writing = (whole.rows["status"].is_in(["New", "Modified"])).sum()
    # The inserts' and updates' parts, then the names' parts: each writing row twice.
    assert sum(frame.height for frame in read) == 2 * writing < 2 * whole.rows.height


def test_a_plan_replaced_under_its_name_during_a_commit_is_not_mixed_in(
        tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)
    plan_path = tmp_path / "p.plan"
    run_cli("preview", write_csv(tmp_path / "in.csv", SOURCE), "--db", db, "--plan", plan_path)
    other = write_csv(tmp_path / "other.csv", "customer_number;name\n3001;Mallory Oy\n")
    with open_for_commit(plan_path) as rows:
        # Another preview writes its plan to the same name (a temp file, then a rename).
        run_cli("preview", other, "--db", db, "--plan", plan_path)
        register = open_register(db, create=True)
        try:
            commit(rows, register, "tester")
        finally:
            register.close()
    after = customers(db)
    assert "2001" in after and "3001" not in after


def test_a_plan_replaced_while_it_is_checked_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)
    plan_path, other_path = tmp_path / "p.plan", tmp_path / "other.plan"
    run_cli("preview", write_csv(tmp_path / "in.csv", SOURCE), "--db", db, "--plan", plan_path)
    run_cli("preview", write_csv(tmp_path / "o.csv", "customer_number;name\n3001;Mallory Oy\n"),
            "--db", db, "--plan", other_path)
    checked = sync.commit_rows.verified_header

    def replaced_first(path: Path) -> sync.plan.PlanHeader | None:
        os.replace(other_path, path)  # the file opened is no longer the one named
        return checked(path)

    monkeypatch.setattr(sync.commit_rows, "verified_header", replaced_first)
    with pytest.raises(PlanError, match="replaced while it was read"):
        open_for_commit(plan_path)
    monkeypatch.undo()
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 0 and "3001" in customers(db)


def _indexes(db: str) -> list[tuple[object, ...]]:
    return _sorted_rows(db, "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                            "AND tbl_name = 'customers' AND sql IS NOT NULL")


def _seen_during_inserts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The customers' index names as each insert of customers begins (SQLite)."""
    seen: list[list[str]] = []
    real = SQLiteRegister._insert_rows

    def spy(self: SQLiteRegister, rows: pl.DataFrame) -> None:
        seen.append(sorted(r[0] for r in self._rows(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' "
            "AND sql IS NOT NULL")))
        real(self, rows)

    monkeypatch.setattr(SQLiteRegister, "_insert_rows", spy)
    return seen


def test_a_first_load_builds_the_key_indexes_after_the_inserts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.writers.register.sqlite, "_BULK_MIN_ROWS", 2)
    db = str(tmp_path / "r.db")
    assert run_cli("init", "--db", db).exit_code == 0
    created = _indexes(db)
    assert {name for name, _ in created} >= {"customers_business_id", "customers_name_key"}
    seen = _seen_during_inserts(monkeypatch)
    load_register(db, REGISTER, tmp_path)
    assert seen == [[]]  # set aside while the customers went in
    assert _indexes(db) == created
    register = open_register(db, create=False)
    try:
        assert register.integrity_check() == "ok"
    finally:
        register.close()
    # The rebuilt indexes find customers: by business id, and by name.
    source = write_csv(tmp_path / "in.csv", "name;business_id;city\n"
                       ";2617416-4;Kemi\nPekka Nieminen;;Kotka\n")
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 0 and result.json()["modified"] == 2
    assert customers(db)["1004"]["city"] == "Kemi" and customers(db)["1005"]["city"] == "Kotka"


def test_a_commit_into_a_larger_register_keeps_its_indexes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.writers.register.sqlite, "_BULK_MIN_ROWS", 2)
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)  # 5 customers
    seen = _seen_during_inserts(monkeypatch)
    source = write_csv(tmp_path / "in.csv", "name\nAnna Salo\nOlli Ranta\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    assert seen and "customers_business_id" in seen[0]


# While the indexes are set aside (history is written after each part's inserts), and
# after they are built again.
@pytest.mark.parametrize("point", ["_write_history", "_refresh_blocks"])
def test_a_first_load_that_fails_leaves_the_register_and_its_indexes_as_they_were(
        point: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.writers.register.sqlite, "_BULK_MIN_ROWS", 2)
    db = str(tmp_path / "r.db")
    assert run_cli("init", "--db", db).exit_code == 0
    original = Path(db).read_bytes()
    source = write_csv(tmp_path / "in.csv", REGISTER)
    register = open_register(db, create=False)
    plan = preview(source, register, load_rules(None))
    register.close()

    def crash(self: SQLiteRegister, *args: object, **kwargs: object) -> None:
        raise RuntimeError("injected failure")

    monkeypatch.setattr(SQLiteRegister, point, crash)
    register = open_register(db, create=True)
    with pytest.raises(RuntimeError, match="injected"):
        commit(plan, register, "tester")
    register.close()
    assert Path(db).read_bytes() == original


@pytest.mark.parametrize("damage", ["written over", "truncated"])
def test_a_plan_changed_in_place_during_a_commit_is_refused_and_nothing_written(
        damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)
    plan_path, other_path = tmp_path / "p.plan", tmp_path / "other.plan"
    source = write_csv(tmp_path / "in.csv", SOURCE)
    run_cli("preview", source, "--db", db, "--plan", plan_path)
    # The same rows, one value changed: the same layout, so it could be read as one.
    run_cli("preview", write_csv(tmp_path / "o.csv", SOURCE.replace("Kouvola", "Kouvolb")),
            "--db", db, "--plan", other_path)
    before = register_state(db)
    real = SQLiteRegister._insert

    def then_change(self: SQLiteRegister, *args: object) -> None:
        real(self, *args)
        if damage == "written over":
            shutil.copyfile(other_path, plan_path)  # in place: the same file
        else:
            with plan_path.open("r+b") as handle:
                handle.truncate(plan_path.stat().st_size // 2)

    monkeypatch.setattr(sync.commit_rows, "PART_ROWS", 2)
    monkeypatch.setattr(SQLiteRegister, "_insert", then_change)
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 2
    assert "changed while the commit read it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert register_state(db) == before


def test_a_first_load_keeps_the_index_statistics_and_any_index_a_dba_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.writers.register.sqlite, "_BULK_MIN_ROWS", 2)
    db = str(tmp_path / "r.db")
    load_register(db, REGISTER, tmp_path)  # 5 customers
    execute_sql(db, 'CREATE INDEX "dba""city" ON {customers}(city)')
    execute_sql(db, "ANALYZE")

    def stats() -> list[tuple[object, ...]]:
        return _sorted_rows(db, "SELECT tbl, idx, stat FROM sqlite_stat1 "
                                "WHERE tbl = 'customers'")

    analysed = stats()
    assert {"customers_business_id", 'dba"city'} <= {row[1] for row in analysed}
    indexes = _indexes(db)
    seen = _seen_during_inserts(monkeypatch)
    names = "".join(f"\nUusi Asiakas {i}" for i in range(8))  # more than the register holds
    assert run_cli("import", write_csv(tmp_path / "in.csv", "name" + names), "--db", db,
                   "--yes").exit_code == 0
    assert seen == [[]]
    assert _indexes(db) == indexes and stats() == analysed
