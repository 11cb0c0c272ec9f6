"""The register keeps every customer's name blocks, so the possible-duplicate scan reads
only the customers that share a block with a New row; and schema version 2 (which added
them) is reached by `regsync migrate`, never silently."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sync.namekey import name_blocks, name_key_of
from sync.writers.register import open_register
from sync.writers.register.schema import SCHEMA_VERSION
from tests.conftest import report_rows, run_cli, seed_register, write_csv

REGISTER = """customer_number;customer_type;name
1001;company;Kahvila Aurinko Oy
1002;person;Matti Virtanen
"""


def stored_blocks(db: str) -> set[tuple[str, str]]:
    register = open_register(db, create=False)
    try:
        return set(register._rows(f"SELECT block, customer_number, name FROM "
                                  f"{register._t('name_blocks')}"))
    finally:
        register.close()


def expected_blocks(db: str) -> set[tuple[str, str]]:
    """The blocks of every customer's current name, computed afresh."""
    register = open_register(db, create=False)
    try:
        names = register.export_frame(("customer_number", "name")).filter(
            pl.col("name").is_not_null())
    finally:
        register.close()
    return set(name_blocks(names["customer_number"], names["name"]).rows())


def assert_in_step(db: str) -> None:
    assert stored_blocks(db) == expected_blocks(db)


def flag(db: str, tmp_path: Path, name: str) -> str:
    """The possible_duplicate a preview gives a name-only New row."""
    source = write_csv(tmp_path / "probe.csv", f"name\n{name}\n")
    report = tmp_path / "probe-report.csv"
    result = run_cli("preview", source, "--db", db, "--report", report)
    assert result.exit_code == 0, result.stderr
    (row,) = report_rows(report)
    assert row["status"] == "New"
    return row["possible_duplicate"]


def test_customers_imported_in_one_batch_are_flagged_in_the_next(register_url, tmp_path):
    seed_register(register_url, REGISTER, tmp_path)
    assert_in_step(register_url)
    source = write_csv(tmp_path / "more.csv", "name\nSylorisalo Ohjelmisto Oy\n")
    assert run_cli("import", source, "--db", register_url, "--yes").exit_code == 0
    assert_in_step(register_url)
    assert flag(register_url, tmp_path, "Syloaisalo Ohjelmisto Ay") == "1003"


def test_a_renamed_customer_is_found_by_its_new_name_and_a_revert_puts_the_old_back(
        register_url, tmp_path):
    seed_register(register_url, REGISTER, tmp_path)
    source = write_csv(tmp_path / "rename.csv", "customer_number;name\n1001;Leipomo Kuutamo Oy\n")
    result = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert_in_step(register_url)
    assert flag(register_url, tmp_path, "Leipomo Kuutamo Ab") == "1001"
    assert flag(register_url, tmp_path, "Kahvila Aurinko Ab") == ""

    assert run_cli("revert", str(result.json()["batch"]), "--db", register_url).exit_code == 0
    assert_in_step(register_url)
    assert flag(register_url, tmp_path, "Kahvila Aurinko Ab") == "1001"
    assert flag(register_url, tmp_path, "Leipomo Kuutamo Ab") == ""


def test_reverting_an_insert_removes_its_blocks(register_url, tmp_path):
    seed_register(register_url, REGISTER, tmp_path)
    source = write_csv(tmp_path / "new.csv", "name\nSylorisalo Ohjelmisto Oy\n")
    result = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert run_cli("revert", str(result.json()["batch"]), "--db", register_url).exit_code == 0
    assert not any(number == "1003" for _, number, _ in stored_blocks(register_url))
    assert_in_step(register_url)
    # The number is free again, and a new customer's blocks are written without a
    # conflict check: none of the reverted customer's may be left to collide with.
    again = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["new"] == 1
    assert any(number == "1003" for _, number, _ in stored_blocks(register_url))
    assert_in_step(register_url)


def _make_version_1(db: str) -> None:
    """Take a register back to schema version 1 (before name blocks)."""
    register = open_register(db, create=True)
    try:
        with register._transaction():
            register._execute(f"DROP TABLE {register._t('name_blocks')}")
            register._execute(f"DROP INDEX {register.prefix}customers_number_digits")
            register._execute(f"UPDATE {register._t('meta')} SET value = '1' "
                              f"WHERE key = 'schema_version'")
    finally:
        register.close()


def test_an_old_register_is_refused_until_migrated_and_migrate_fills_the_blocks(
        register_url, tmp_path):
    seed_register(register_url, REGISTER, tmp_path)
    _make_version_1(register_url)
    source = write_csv(tmp_path / "s.csv", "name\nKahvila Aurinko Ab\n")

    refused = run_cli("preview", source, "--db", register_url, "--json")
    assert refused.exit_code == 2
    assert "regsync migrate" in refused.json()["error"]

    migrated = run_cli("migrate", "--db", register_url, "--json")
    assert migrated.exit_code == 0, migrated.stderr
    assert migrated.json()["migrated"] is True and migrated.json()["from_version"] == 1
    assert_in_step(register_url)
    assert flag(register_url, tmp_path, "Kahvila Aurinko Ab") == "1001"

    again = run_cli("migrate", "--db", register_url, "--json")
    assert again.exit_code == 0 and again.json()["migrated"] is False


def test_the_largest_number_is_read_from_an_index_not_from_every_customer(tmp_path):
    db = str(tmp_path / "register.db")
    seed_register(db, REGISTER, tmp_path)
    register = open_register(db, create=False)
    try:
        plan = register._rows(
            "EXPLAIN QUERY PLAN SELECT customer_number FROM customers WHERE "
            "customer_number <> '' AND customer_number NOT GLOB '*[^0-9]*' ORDER BY "
            "length(ltrim(customer_number, '0')) DESC, ltrim(customer_number, '0') DESC "
            "LIMIT 1")
        assert register.max_numeric_number() == 1002
    finally:
        register.close()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "customers_number_digits" in detail and "TEMP B-TREE" not in detail


def test_scoring_the_blocks_in_slices_finds_the_same_duplicates(tmp_path, monkeypatch):
    from sync.matchers import fuzzy

    db = str(tmp_path / "register.db")
    seed_register(db, REGISTER + "1003;company;Kahvila Aurinkoinen Oy\n"
                  "1004;person;Matti Virtamen\n1005;company;Sylorisalo Ohjelmisto Oy\n",
                  tmp_path)
    rows = pl.DataFrame({"_row": [2, 3, 4, 5], "name": [
        "Kahvila Aurinko Ab", "Matti Virtanen", "Syloaisalo Ohjelmisto Ay", "Zyxwv Qwerty"],
        "customer_number": ["9", "10", "11", "12"]}).with_columns(
        pl.col("name").str.to_lowercase().alias("name_key"))
    register = open_register(db, create=False)
    try:
        whole = fuzzy.possible_duplicates(rows, register, ["Oy", "Ab", "Ay"], 90)
        monkeypatch.setattr(fuzzy, "_MEMBERS_PER_SLICE", 1)
        sliced = fuzzy.possible_duplicates(rows, register, ["Oy", "Ab", "Ay"], 90)
    finally:
        register.close()
    assert whole.sort("_row").rows() == sliced.sort("_row").rows()
    assert set(whole["_row"]) == {2, 3, 4}


def test_a_rename_that_keeps_the_words_updates_the_kept_name(register_url, tmp_path):
    seed_register(register_url, REGISTER, tmp_path)
    source = write_csv(tmp_path / "case.csv", "customer_number;name\n1001;KAHVILA AURINKO OY\n")
    assert run_cli("import", source, "--db", register_url, "--yes").exit_code == 0
    assert_in_step(register_url)
    assert {name for _, number, name in stored_blocks(register_url)
            if number == "1001"} == {"KAHVILA AURINKO OY"}


def _make_version_2(db: str) -> None:
    """Take a register back to schema version 2 (key indexes without the number)."""
    register = open_register(db, create=True)
    try:
        with register._transaction():
            for index, column in (("customers_business_id", "business_id"),
                                  ("customers_name_key", "name_key")):
                register._execute(f"DROP INDEX {register.prefix}{index}")
                register._execute(f"CREATE INDEX {index} ON {register._t('customers')}"
                                  f"({column})")
            register._execute(f"UPDATE {register._t('meta')} SET value = '2' "
                              f"WHERE key = 'schema_version'")
    finally:
        register.close()


def _lookup_plan(db: str, key: str) -> str:
    """SQLite's plan for the key chain's lookup by `key`."""
    register = open_register(db, create=False)
    try:
        seen: list[str] = []
        original = register._rows

        def explain(query, params=()):
            seen.append(" ".join(str(r[-1]) for r in original("EXPLAIN QUERY PLAN " + query,
                                                               params)))
            return original(query, params)

        register._rows = explain
        found = register.lookup(key, pl.Series(["0112038-9",
                                                 name_key_of("Kahvila Aurinko Oy")]))
    finally:
        register.close()
    assert found.height == 1 and found["customer_number"].to_list() == ["1001"]
    return " ".join(seen)


def test_key_lookups_read_the_index_alone_and_migrate_from_version_2_builds_it(
        register_url, tmp_path):
    seed_register(register_url, "customer_number;customer_type;name;business_id\n"
                                "1001;company;Kahvila Aurinko Oy;0112038-9\n", tmp_path)
    _make_version_2(register_url)
    source = write_csv(tmp_path / "s.csv", "name\nKahvila Aurinko Ab\n")
    assert run_cli("preview", source, "--db", register_url, "--json").exit_code == 2
    migrated = run_cli("migrate", "--db", register_url, "--json")
    assert migrated.exit_code == 0, migrated.stderr
    assert migrated.json()["from_version"] == 2
    assert migrated.json()["schema_version"] == SCHEMA_VERSION
    assert flag(register_url, tmp_path, "Kahvila Aurinko Ab") == "1001"
    if not register_url.startswith("postgresql"):
        for key, index in (("business_id", "customers_business_id"),
                           ("name_key", "customers_name_key")):
            assert f"COVERING INDEX {index}" in _lookup_plan(register_url, key)


def test_a_reverted_rename_is_matched_by_the_old_name_again(register_url, tmp_path):
    # Mutation testing: a revert that put the old name back but left the renamed one's
    # matching key went unnoticed; a name-only row with the old name then made a second
    # customer, and one with the new name matched the reverted customer.
    seed_register(register_url, REGISTER, tmp_path)
    source = write_csv(tmp_path / "rename.csv", "customer_number;name\n1001;Leipomo Kuutamo Oy\n")
    result = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert run_cli("revert", str(result.json()["batch"]), "--db", register_url).exit_code == 0
    rows = write_csv(tmp_path / "by-name.csv", "name;city\nKahvila Aurinko Oy;Espoo\n"
                                               "Leipomo Kuutamo Oy;Turku\n")
    report = tmp_path / "r.csv"
    run_cli("preview", rows, "--db", register_url, "--report", report)
    got = [(r["status"], r["customer_number"], r["matched_by"]) for r in report_rows(report)]
    assert got[0] == ("Modified", "1001", "name")
    assert got[1][0] == "New"
