"""What protects a register's data, where mutation testing found no test watching:
stale plans, reverts, history, group bookkeeping, matching keys kept in step, and a
commit waiting for another. Every test runs on both engines unless it says why not."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import polars as pl
import psycopg
import pytest

import sync.commit
from sync.writers.register import open_register
from sync.writers.register.urls import parse_url
from tests import test_fuzzy_matching as fuzzy
from tests.conftest import (
    FIXTURES,
    PG_URL,
    copy_of_import,
    customers,
    execute_sql,
    load_register,
    register_state,
    report_rows,
    run_cli,
    write_csv,
)

REGISTER = FIXTURES / "demo" / "register.csv"


@pytest.fixture
def db(register_url: str) -> str:
    """The demo register (customers 1001-1006), on each engine, as `regsync import
    REGISTER --yes` leaves it."""
    copy_of_import(register_url, REGISTER, actor=None)
    return register_url


def _import(db: str, tmp_path: Path, name: str, text: str) -> int:
    """Import CSV text; the batch it made."""
    result = run_cli("import", write_csv(tmp_path / name, text), "--db", db, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    return result.json()["batch"]


def _revert(db: str, batch: int) -> int:
    result = run_cli("revert", str(batch), "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    return result.json()["batch"]


def _groups(db: str) -> list[str]:
    register = open_register(db, create=False)
    try:
        return sorted(register.group_names()["name"].to_list())
    finally:
        register.close()


def _statuses(db: str, tmp_path: Path, text: str) -> list[tuple[str, str, str]]:
    """(status, customer_number, matched_by) of each row a preview of CSV text gives."""
    report = tmp_path / "statuses.csv"
    result = run_cli("preview", write_csv(tmp_path / "statuses-in.csv", text), "--db", db,
                     "--report", report)
    assert result.exit_code in (0, 1), result.stderr
    return [(r["status"], r["customer_number"], r["matched_by"]) for r in report_rows(report)]


# -- stale plans ----------------------------------------------------------------------


def test_a_plan_whose_name_match_another_customer_took_since_is_stale(db: str,
                                                                     tmp_path: Path):
    # The row matched 1004 by its name; 1005 renamed to that name since makes the name
    # match two customers (a fresh preview says Conflict): the plan relied on the name
    # being 1004's alone (spec section 6), though it touches 1004 only.
    plan = tmp_path / "a.plan"
    source = write_csv(tmp_path / "a.csv", "name;city\nRakennus Kivi Oy;Kemi\n")
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    _import(db, tmp_path, "b.csv", "customer_number;name\n1005;Rakennus Kivi Oy\n")
    before = register_state(db)
    refused = run_cli("commit", plan, "--db", db)
    assert refused.exit_code == 3 and "stale" in refused.stderr
    assert register_state(db) == before


def test_a_customer_renamed_like_a_row_after_a_similarity_preview_makes_the_plan_stale(
        register_url: str, tmp_path: Path):
    # With similarity matching on, the row matched 1006 by a similar name; 1009 renamed
    # since to a name as similar makes the match ambiguous (a fresh preview says
    # Conflict). Only a rename changed: no customer was added and no key the plan
    # names was taken.
    load_register(register_url, fuzzy.REGISTER, tmp_path)
    rows = fuzzy.preview(register_url, tmp_path, "name;postal_code\nLiisa Lainé;00260\n")
    assert (rows[2]["status"], rows[2]["customer_number"]) == ("Modified", "1006")
    _import(register_url, tmp_path, "rename.csv", "customer_number;name\n1009;Liisa Laina\n")
    before = register_state(register_url)
    refused = run_cli("commit", tmp_path / "p.plan", "--db", register_url)
    assert refused.exit_code == 3 and "1009" in refused.stderr
    assert register_state(register_url) == before


# -- matching keys kept in step -------------------------------------------------------


def test_a_renamed_customer_is_matched_by_its_new_name_and_not_by_its_old_one(
        db: str, tmp_path: Path):
    # A rename must move the customer's matching key too: left behind, a name-only row
    # with the new name would make a second customer (and one with the old name would
    # still change this one).
    _import(db, tmp_path, "rename.csv", "customer_number;name\n1004;Betoni Oy\n")
    by_new, by_old = _statuses(db, tmp_path,
                               "name;city\nBetoni Oy;Kemi\nRakennus Kivi Oy;Kemi\n")
    assert by_new == ("Modified", "1004", "name")
    assert by_old[0] == "New" and by_old[1] != "1004"


def test_a_customer_put_back_by_reverting_a_revert_is_matched_by_its_name(db: str,
                                                                        tmp_path: Path):
    # The customer is inserted again from its history snapshot, which holds fields
    # only: its matching key must be computed again, or a name-only row makes a twin.
    batch = _import(db, tmp_path, "new.csv", "customer_number;name\n3001;Betoni Oy\n")
    _revert(db, _revert(db, batch))
    assert "3001" in customers(db)
    assert _statuses(db, tmp_path, "name;city\nBetoni Oy;Kemi\n") == [
        ("Modified", "3001", "name")]


# -- reverts --------------------------------------------------------------------------


def test_a_revert_is_refused_while_a_later_revert_of_an_older_batch_changed_its_customers(
        db: str, tmp_path: Path):
    # Batch 1 changes 1004's city, batch 2 its email. Reverting 2, then 1, is allowed;
    # the revert of 1 changed 1004 after the revert of 2, so the revert of 2 may no
    # longer be undone (spec section 6), though the email it would put back is as it
    # left it.
    first = _import(db, tmp_path, "city.csv", "customer_number;city\n1004;Kemi\n")
    second = _import(db, tmp_path, "email.csv",
                     "customer_number;email\n1004;uusi@kivi.example\n")
    undo_second = _revert(db, second)
    undo_first = _revert(db, first)
    before = register_state(db)
    refused = run_cli("revert", str(undo_second), "--db", db, "--json")
    assert refused.exit_code == 2
    assert f"({undo_first})" in refused.json()["error"]
    assert register_state(db) == before


def test_a_revert_removes_only_the_empty_groups_its_own_batch_created(db: str,
                                                                      tmp_path: Path):
    reverted = _import(db, tmp_path, "new.csv", "customer_number;name\n3002;Etelä Oy\n")
    # A later batch creates Pohjola, and another leaves it empty: it stays, as empty
    # groups do, so later files keep its spelling.
    _import(db, tmp_path, "group.csv", "customer_number;name;customer_group\n"
                                       "3001;Pohjola Oy;Pohjola\n")
    _import(db, tmp_path, "moved.csv", "customer_number;customer_group\n3001;Oulu\n")
    _revert(db, reverted)
    assert "Pohjola" in _groups(db)


def test_a_revert_puts_back_a_group_removed_since_for_every_customer_it_held(
        db: str, tmp_path: Path):
    created = _import(db, tmp_path, "g.csv", "customer_number;name;customer_group\n"
                                             "3001;Pohjola Oy;Pohjola\n")
    _import(db, tmp_path, "in.csv", "customer_number;customer_group\n1002;Pohjola\n"
                                    "1003;Pohjola\n")
    moved = _import(db, tmp_path, "out.csv", "customer_number;customer_group\n1002;Oulu\n"
                                             "1003;Oulu\n")
    _revert(db, created)  # removes 3001, and Pohjola, empty by then
    assert "Pohjola" not in _groups(db)
    # Both customers name the removed group as their old value: it is created once.
    _revert(db, moved)
    assert [customers(db)[n]["customer_group"] for n in ("1002", "1003")] == [
        "Pohjola", "Pohjola"]
    assert _groups(db).count("Pohjola") == 1


def test_a_revert_of_a_revert_that_put_a_customer_into_a_group_spelt_anew_since_is_allowed(
        db: str, tmp_path: Path):
    # Pohjola is removed, then created again as POHJOLA; reverting the move out of it
    # puts 1004 into POHJOLA. The register still holds what that revert wrote (a group
    # is the same whatever its case), so it may be reverted in turn.
    created = _import(db, tmp_path, "g.csv", "customer_number;name;customer_group\n"
                                             "3001;Pohjola Oy;Pohjola\n")
    _import(db, tmp_path, "in.csv", "customer_number;customer_group\n1004;Pohjola\n")
    moved = _import(db, tmp_path, "out.csv", "customer_number;customer_group\n1004;Oulu\n")
    _revert(db, created)
    _import(db, tmp_path, "anew.csv", "customer_number;name;customer_group\n"
                                      "3002;Uusi Oy;POHJOLA\n")
    undo = _revert(db, moved)
    assert customers(db)["1004"]["customer_group"] == "POHJOLA"
    # The history says so too, as a commit's would (mutation QA: it said 'Pohjola', the
    # spelling of a group removed since, so the history replayed was not the register).
    shown = run_cli("batch", "show", str(undo), "--db", db, "--json").json()["changes"]
    assert [(c["field"], c["old_value"], c["new_value"]) for c in shown] == [
        ("customer_group", "Oulu", "POHJOLA")]
    _revert(db, undo)
    assert customers(db)["1004"]["customer_group"] == "Oulu"


# -- history --------------------------------------------------------------------------


def test_the_history_of_a_rename_records_the_name_alone(db: str, tmp_path: Path):
    # Spec section 6 records every changed field; the matching key that changes with
    # the name is the register's own bookkeeping, no field.
    batch = _import(db, tmp_path, "rename.csv", "customer_number;name\n1004;Betoni Oy\n")
    shown = run_cli("batch", "show", str(batch), "--db", db, "--json")
    assert [(c["customer_number"], c["action"], c["field"], c["old_value"], c["new_value"])
            for c in shown.json()["changes"]] == [
        ("1004", "update", "name", "Rakennus Kivi Oy", "Betoni Oy")]


def test_the_history_of_a_customer_a_revert_removed_is_still_shown(db: str, tmp_path: Path):
    batch = _import(db, tmp_path, "new.csv", "customer_number;name\n3001;Betoni Oy\n")
    undo = _revert(db, batch)
    assert "3001" not in customers(db)
    shown = run_cli("history", "3001", "--db", db, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert [(c["batch_id"], c["action"]) for c in shown.json()["changes"]] == [
        (batch, "insert"), (undo, "delete")]


def test_showing_a_batch_that_does_not_exist_is_exit_2(db: str):
    shown = run_cli("batch", "show", "999", "--db", db)
    assert shown.exit_code == 2 and "there is no batch 999" in shown.stderr


def test_each_state_command_makes_a_batch_of_its_own_kind(db: str):
    for command in ("lock", "unlock", "invalidate", "restore"):
        assert run_cli(command, "1004", "--db", db).exit_code == 0
    kinds = [b["kind"] for b in run_cli("batches", "--db", db, "--json").json()["batches"]]
    assert kinds[-4:] == ["lock", "unlock", "invalidate", "restore"]


def test_a_customer_named_twice_to_a_state_command_is_changed_once(db: str):
    locked = run_cli("lock", "1004", "1004", "--db", db, "--json")
    assert locked.json()["customers"] == 1
    changes = run_cli("batch", "show", str(locked.json()["batch"]), "--db", db,
                      "--json").json()["changes"]
    assert [(c["customer_number"], c["field"]) for c in changes] == [("1004", "locked_by")]


# -- exports --------------------------------------------------------------------------


def test_where_a_custom_field_the_register_has_no_column_for_finds_only_empty_values(
        db: str, tmp_path: Path):
    # The rules define `tier`, which no commit has used yet: every customer's tier is
    # empty, so `tier=gold` selects no one and `tier=` everyone.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.tier]\naliases = ["Taso"]\nnormaliser = "text"\n')
    for where, expected in (("tier=gold", []), ("tier=", sorted(customers(db)))):
        out = tmp_path / "out.csv"
        result = run_cli("export", out, "--db", db, "--rules", rules, "--where", where)
        assert result.exit_code == 0, result.stderr
        numbers = pl.read_csv(out, infer_schema=False)["customer_number"].to_list()
        assert sorted(numbers) == expected, where


# -- the schema -----------------------------------------------------------------------


def test_the_register_itself_refuses_a_customer_number_twice(db: str):
    # The commit's checks keep numbers unique; the table's constraint is what stops a
    # number twice whatever writes it (two commits racing, a bug).
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        execute_sql(db, "INSERT INTO {customers} (customer_number, name) "
                        "VALUES ('1001', 'Toinen Oy')")
    assert customers(db)["1001"]["name"] == "Kahvila Aurinko Oy"


# -- commits at once ------------------------------------------------------------------


def test_a_commit_waits_for_another_runs_commit_to_end_and_then_applies(db: str,
                                                                       tmp_path: Path):
    # docs/register.md: two commits at once run one after the other, the second
    # waiting up to 5 s. Another run's commit is stood in for by its lock, let go of
    # after a second.
    plan = tmp_path / "a.plan"
    source = write_csv(tmp_path / "a.csv", "customer_number;city\n1004;Kemi\n")
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    if db.startswith("postgresql"):
        other = psycopg.connect(PG_URL)
        other.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (parse_url(db)[1],))
        let_go = other.rollback
    else:
        other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        let_go = lambda: other.execute("ROLLBACK")  # noqa: E731
    timer = threading.Timer(1.0, let_go)
    timer.start()
    try:
        result = run_cli("commit", plan, "--db", db)
    finally:
        timer.join()
        other.close()
    assert result.exit_code == 0, result.stderr
    assert customers(db)["1004"]["city"] == "Kemi"


# -- the plan file --------------------------------------------------------------------


def test_a_plan_written_over_while_its_last_part_is_read_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The plan file is checked before and after every read: a change made during the
    # commit's last read (the names), with nothing read after it, is seen only by the
    # check after it. SQLite only: the plan file is the same on both engines.
    db = str(tmp_path / "r.db")
    assert run_cli("import", REGISTER, "--db", db, "--yes").exit_code == 0
    plan, other = tmp_path / "a.plan", tmp_path / "b.plan"
    for path, name in ((plan, "Betoni Oy"), (other, "Betoni Ab")):
        source = write_csv(tmp_path / f"{path.stem}.csv", f"customer_number;name\n1004;{name}\n")
        assert run_cli("preview", source, "--db", db, "--plan", path).exit_code == 0
    before = register_state(db)
    collect = pl.LazyFrame.collect

    def written_over_as_read(frame: pl.LazyFrame, *args: object, **kwargs: object):
        if frame.collect_schema().names() == sync.commit._NAME_COLUMNS:
            shutil.copyfile(other, plan)  # in place: the file the commit holds open
        return collect(frame, *args, **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "collect", written_over_as_read)
    result = run_cli("commit", plan, "--db", db)
    monkeypatch.undo()
    assert result.exit_code == 2, result.stderr
    assert "changed while the commit read it" in result.stderr
    assert register_state(db) == before
