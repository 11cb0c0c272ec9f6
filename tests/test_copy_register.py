"""`regsync copy-register`: a whole register into a new one, on the other engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.errors import RegisterError
from sync.writers.register import open_register, register_exists
from tests.conftest import (
    CUSTOMER_COLUMNS,
    FIXTURES,
    _fresh_schema_url,
    register_state,
    report_rows,
    run_cli,
    write_csv,
)
from tests.test_name_blocks import stored_blocks

RULES = ('[fields.loyalty_id]\naliases = ["Loyalty ID"]\nnormaliser = "compact"\n'
         'headers = { fi = "Kanta-asiakasnumero" }\n')


@pytest.fixture
def other_engine(register_url: str, tmp_path: Path) -> Iterator[str]:
    """A place for a new register on the engine `register_url` is not on."""
    if register_url.startswith("postgresql"):
        yield str(tmp_path / "copy.db")
    else:
        yield from _fresh_schema_url()


def _a_registers_life(db: str, tmp_path: Path) -> Path:
    """A register with what an export leaves out: batches, history, a revert, a lock,
    an invalidated customer, a custom field and its headers. Returns its rules file."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    assert run_cli("import", FIXTURES / "demo" / "asiakkaat.csv", "--db", db,
                   "--yes").exit_code == 1
    edit = write_csv(tmp_path / "edit.csv", "Asiakasnumero;Nimi;Loyalty ID;Postitoimipaikka\n"
                                            "1002;Matti Virtanen;AB 12;Tampere\n"
                                            "3001;Uusi Asiakas Oy;CD 34;Oulu\n")
    batch = run_cli("import", edit, "--db", db, "--yes", "--rules", rules, "--json")
    assert batch.exit_code == 0
    assert run_cli("lock", "1001", "--db", db).exit_code == 0
    assert run_cli("invalidate", "1003", "--db", db).exit_code == 0
    again = write_csv(tmp_path / "again.csv", "customer_number;city\n1004;Kemi\n")
    kemi = run_cli("import", again, "--db", db, "--yes", "--json").json()["batch"]
    assert run_cli("revert", str(kemi), "--db", db).exit_code == 0
    return rules


def _exported(db: str, dest: Path, rules: Path) -> str:
    result = run_cli("export", dest, "--db", db, "--rules", rules, "--include-invalidated",
                     "--headers", "fi")
    assert result.exit_code == 0, result.stderr
    return dest.read_text(encoding="utf-8")


def test_a_copy_holds_everything_an_export_leaves_out(register_url: str, other_engine: str,
                                                      tmp_path: Path) -> None:
    rules = _a_registers_life(register_url, tmp_path)
    copied = run_cli("copy-register", "--db", register_url, "--to", other_engine, "--json")
    assert copied.exit_code == 0, copied.stderr
    assert copied.json()["rows"]["customers"] == 8
    original, copy = register_state(register_url), register_state(other_engine)
    assert copy[0] != original[0]  # a register of its own
    # The version, every customer (locks, invalidation, group and batch ids), the
    # groups, the batches and the history, ids included.
    assert copy[1:] == original[1:]
    assert stored_blocks(other_engine) == stored_blocks(register_url)
    assert (_exported(other_engine, tmp_path / "b.csv", rules)
            == _exported(register_url, tmp_path / "a.csv", rules))
    for source in (FIXTURES / "demo" / "asiakkaat.csv", tmp_path / "edit.csv"):
        reports = []
        for db, name in ((register_url, "a"), (other_engine, "b")):
            report = tmp_path / f"{name}.report.csv"
            run_cli("preview", source, "--db", db, "--rules", rules, "--report", report)
            reports.append(report_rows(report))
        assert reports[0] == reports[1]


def test_the_copy_goes_on_as_the_original_would(register_url: str, other_engine: str,
                                                tmp_path: Path) -> None:
    rules = _a_registers_life(register_url, tmp_path)
    assert run_cli("copy-register", "--db", register_url, "--to", other_engine).exit_code == 0
    # The same import, revert and lock on both: new ids follow the copied ones.
    source = write_csv(tmp_path / "next.csv", "customer_number;name;Loyalty ID\n"
                                              "3002;Toinen Uusi Oy;EF 56\n1002;Matti V.;\n")
    for db in (register_url, other_engine):
        done = run_cli("import", source, "--db", db, "--yes", "--rules", rules, "--json")
        assert done.exit_code == 0, done.stderr
        assert done.json()["batch"] == 8
        assert run_cli("revert", "8", "--db", db).exit_code == 0
        assert run_cli("lock", "3001", "--db", db).exit_code == 0
    assert _untimed(other_engine) == _untimed(register_url)


def _untimed(db: str) -> tuple[object, ...]:
    """`register_state` but the register id and the times batches were made (the two
    registers' later batches are made a moment apart)."""
    register = open_register(db, create=False)
    try:
        return (register.version(),
                register.export_frame(CUSTOMER_COLUMNS).sort("customer_number").rows(),
                sorted(register.group_names().rows()),
                register.batches().drop("committed_at").rows(),
                register.history().drop("changed_at").rows())
    finally:
        register.close()


def test_a_plan_made_against_the_original_is_refused_by_the_copy(register_url: str,
                                                                  other_engine: str,
                                                                  tmp_path: Path) -> None:
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", register_url,
                   "--yes").exit_code == 0
    plan = tmp_path / "p.plan"
    assert run_cli("preview", FIXTURES / "demo" / "asiakkaat.csv", "--db", register_url,
                   "--plan", plan).exit_code == 1
    assert run_cli("copy-register", "--db", register_url, "--to", other_engine).exit_code == 0
    before = register_state(other_engine)
    refused = run_cli("commit", plan, "--db", other_engine, "--json")
    assert refused.exit_code == 3
    assert "another register" in refused.json()["error"]
    assert register_state(other_engine) == before


def test_a_copy_onto_a_register_is_refused_and_writes_nothing(register_url: str,
                                                              other_engine: str,
                                                              tmp_path: Path) -> None:
    for db in (register_url, other_engine):
        assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                       "--yes").exit_code == 0
    before = register_state(other_engine)
    refused = run_cli("copy-register", "--db", register_url, "--to", other_engine, "--json")
    assert refused.exit_code == 2
    assert "is there already; copy into a new file or an empty schema" in refused.json()["error"]
    assert register_state(other_engine) == before


def test_a_copy_that_fails_midway_leaves_no_register(register_url: str, other_engine: str,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.writers.register.postgres import PostgresRegister
    from sync.writers.register.sqlite import SQLiteRegister

    _a_registers_life(register_url, tmp_path)
    originals = {engine: engine._append_rows for engine in (SQLiteRegister, PostgresRegister)}

    def fail_on_history(self, table, rows):
        if table == "history":  # the last table: everything else is in by then
            raise RegisterError(f"{self.label}: disk full")
        return originals[type(self)](self, table, rows)

    for engine in originals:
        monkeypatch.setattr(engine, "_append_rows", fail_on_history)
    result = run_cli("copy-register", "--db", register_url, "--to", other_engine, "--json")
    assert result.exit_code == 2 and "disk full" in result.json()["error"]
    assert not register_exists(other_engine)
    assert [p.name for p in tmp_path.iterdir() if "copy" in p.name] == []


def test_custom_fields_named_like_the_registers_own_columns_are_copied_as_text(
        register_url: str, other_engine: str, tmp_path: Path) -> None:
    # Review: custom fields named `reverts` or `version` were copied as whole numbers:
    # '007' became '7', and 'v2' stopped the copy (exit 70).
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.reverts]\naliases = ["Reverts"]\nnormaliser = "text"\n'
                     '[fields.version]\naliases = ["Version"]\nnormaliser = "text"\n',
                     encoding="utf-8")
    source = write_csv(tmp_path / "c.csv", "customer_number;name;Reverts;Version\n"
                                           "2001;Testi Oy;007;v2\n2002;Toinen Oy;12;\n")
    assert run_cli("import", source, "--db", register_url, "--rules", rules,
                   "--yes").exit_code == 0
    copied = run_cli("copy-register", "--db", register_url, "--to", other_engine)
    assert copied.exit_code == 0, copied.stderr
    for db in (register_url, other_engine):
        result = run_cli("export", tmp_path / "out.csv", "--db", db, "--rules", rules,
                         "--json")
        assert result.exit_code == 0, result.stderr
        rows = report_rows(tmp_path / "out.csv")
        assert [(r["reverts"], r["version"]) for r in rows] == [("007", "v2"), ("12", "")]


def test_a_copy_into_sqlite_takes_an_empty_file_and_clears_copies_killed_long_ago(
        tmp_path: Path) -> None:
    import os
    import time

    db = str(tmp_path / "r.db")
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    target = tmp_path / "copy.db"
    target.touch()  # 0 bytes: a register not yet created, as a failed creation leaves
    killed = tmp_path / ".copy.db.0123456789ab.copy"  # what a SIGKILL leaves
    killed.write_bytes(b"x" * 100)
    recent = tmp_path / ".copy.db.ba9876543210.copy"  # perhaps a copy under way
    recent.write_bytes(b"y")
    long_ago = time.time() - 3 * 86400
    os.utime(killed, (long_ago, long_ago))
    copied = run_cli("copy-register", "--db", db, "--to", target, "--json")
    assert copied.exit_code == 0, copied.stderr
    assert copied.json()["to"] == str(target)
    assert register_state(str(target))[1:] == register_state(db)[1:]
    assert not killed.exists() and recent.exists()


def test_a_copy_into_a_missing_folder_names_the_file_asked_for(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    target = tmp_path / "nowhere" / "copy.db"
    refused = run_cli("copy-register", "--db", db, "--to", target, "--json")
    assert refused.exit_code == 2
    assert refused.json()["error"] == f"{target}: its folder does not exist; nothing was written"


def test_the_copy_reads_the_original_in_one_state(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A commit landing while the tables are copied one after another would leave a copy
    # whose history names a batch its batches table lacks. The SQLite original is read
    # in one transaction: a write meanwhile waits (and gives up) or is not seen.
    import sqlite3

    import sync.writers.register.copy as copy

    source = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", source,
                   "--yes").exit_code == 0
    columns = copy._columns

    def write_meanwhile(register, table):
        if table == "history":  # the earlier tables are copied, their reads ended
            conn = sqlite3.connect(source, timeout=0.2, isolation_level=None)
            try:
                conn.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
            finally:
                conn.close()
        return columns(register, table)

    monkeypatch.setattr(copy, "_columns", write_meanwhile)
    target = tmp_path / "copy.db"
    assert run_cli("copy-register", "--db", source, "--to", target).exit_code == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'probe'").fetchall() == []


def test_the_copy_has_the_indexes_a_new_register_of_its_engine_has(
        register_url: str, other_engine: str, tmp_path: Path) -> None:
    # The plain indexes are dropped while the rows go in and built again after.
    _a_registers_life(register_url, tmp_path)
    assert run_cli("copy-register", "--db", register_url, "--to", other_engine).exit_code == 0
    fresh = (str(tmp_path / "fresh.db") if not other_engine.startswith("postgresql")
             else other_engine.replace("?schema=", "?schema=f"))
    assert run_cli("init", "--db", fresh).exit_code == 0
    try:
        assert _indexes(other_engine) == _indexes(fresh)
    finally:
        if fresh.startswith("postgresql"):
            import psycopg

            from tests.conftest import PG_URL
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{fresh.split("?schema=")[1]}" CASCADE')


def _indexes(db: str) -> set[tuple[str, str]]:
    """(table, index definition without its schema) of every index of the register."""
    register = open_register(db, create=False)
    try:
        if db.startswith("postgresql"):
            rows = register._rows("SELECT tablename, indexdef FROM pg_indexes "
                                  "WHERE schemaname = ?", (register.schema,))
            return {(t, d.replace(f'"{register.schema}".', "").replace(
                f"{register.schema}.", "")) for t, d in rows}
        return set(register._rows("SELECT tbl_name, coalesce(sql, name) FROM sqlite_master "
                                  "WHERE type = 'index'"))
    finally:
        register.close()
