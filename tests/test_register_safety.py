"""Issue 4: batches, history, revert, locks, invalidation, plan integrity."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from sync.errors import RegisterError
from sync.plan import Plan
from sync.types import FIELDS
from sync.writers.register import open_register
from tests.conftest import (
    FIXTURES,
    copy_of_import,
    customers,
    load_register,
    register_state,
    run_cli,
    set_schema_version,
    write_csv,
)

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


def snapshot(db: str) -> tuple[list[tuple], list[tuple[str, str]]]:
    """Everything a user can see of the customers: every field, and the groups."""
    register = open_register(str(db), create=False)
    try:
        frame = register.export_frame((*FIELDS, "locked_by", "invalidated"))
        groups = sorted(register.group_names().rows())
    finally:
        register.close()
    return frame.sort("customer_number").rows(), groups


@pytest.fixture
def db(register_url: str) -> str:
    """The demo register, on each engine, as `regsync import REGISTER --yes` leaves it."""
    copy_of_import(register_url, REGISTER, actor=None)
    return register_url


def test_worked_example_committed_then_reverted_leaves_the_register_identical(db: str):
    before = snapshot(db)
    result = run_cli("import", SOURCE, "--db", db, "--yes", "--json")
    batch = result.json()["batch"]
    assert snapshot(db) != before
    reverted = run_cli("revert", str(batch), "--db", db, "--json", "--actor", "undo")
    assert reverted.exit_code == 0, reverted.stderr
    assert snapshot(db) == before
    batches = run_cli("batches", "--db", db, "--json").json()["batches"]
    assert batches[-1]["kind"] == "revert" and batches[-1]["reverts"] == batch
    assert batches[-1]["actor"] == "undo"
    assert next(b for b in batches if b["id"] == batch)["reverted_by"] == batches[-1]["id"]


def test_revert_of_the_revert_puts_the_batch_back(db: str):
    batch = run_cli("import", SOURCE, "--db", db, "--yes", "--json").json()["batch"]
    after = snapshot(db)
    undo = run_cli("revert", str(batch), "--db", db, "--json").json()["batch"]
    assert run_cli("revert", str(undo), "--db", db).exit_code == 0
    assert snapshot(db) == after


def test_revert_is_refused_while_later_batches_changed_the_same_customers(db: str,
                                                                          tmp_path: Path):
    first = run_cli("import", SOURCE, "--db", db, "--yes", "--json").json()["batch"]
    later = write_csv(tmp_path / "later.csv", "customer_number;city\n1004;Kempele\n")
    second = run_cli("import", later, "--db", db, "--yes", "--json").json()["batch"]
    before = register_state(db)
    refused = run_cli("revert", str(first), "--db", db, "--json")
    assert refused.exit_code == 2
    assert f"({second})" in refused.json()["error"]
    assert register_state(db) == before
    assert run_cli("revert", str(second), "--db", db).exit_code == 0
    assert run_cli("revert", str(first), "--db", db).exit_code == 0
    assert customers(db)["1004"]["customer_group"] == "Oulu"
    assert customers(db)["1004"]["city"] == "Oulu"


def test_revert_removes_groups_it_created_and_customers_it_created(db: str):
    batch = run_cli("import", SOURCE, "--db", db, "--yes", "--json").json()["batch"]
    assert {"Pohjoinen", "Uudet"} <= {g for g, _ in snapshot(db)[1]}
    run_cli("revert", str(batch), "--db", db)
    assert "2001" not in customers(db)
    assert {g for g, _ in snapshot(db)[1]} == {"Helsinki", "Oulu", "Sverige", "Česko"}


def test_history_names_the_group_as_the_register_spells_it(db: str, tmp_path: Path):
    # QA: a plan that would create 'uudet', committed after another import created
    # 'UUDET', put its customers in UUDET but recorded 'uudet' in their history.
    plan = tmp_path / "p.plan"
    source = write_csv(tmp_path / "s.csv", "customer_number;name;customer_group\n"
                                           "1001;;uudet\n2001;Beta Oy;uudet\n")
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    other = write_csv(tmp_path / "o.csv", "customer_number;name;customer_group\n"
                                          "3001;Gamma Oy;UUDET\n")
    assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
    assert run_cli("commit", plan, "--db", db).exit_code == 0
    assert {customers(db)[n]["customer_group"] for n in ("1001", "2001", "3001")} == {"UUDET"}
    changes = run_cli("history", "1001", "--db", db, "--json").json()["changes"]
    assert [(c["field"], c["old_value"], c["new_value"]) for c in changes
            if c["action"] == "update"] == [("customer_group", "Helsinki", "UUDET")]
    [inserted] = [c for c in run_cli("history", "2001", "--db", db, "--json").json()["changes"]]
    assert '"customer_group":"UUDET"' in inserted["new_value"]


def test_a_batch_reverts_once(db: str):
    batch = run_cli("import", SOURCE, "--db", db, "--yes", "--json").json()["batch"]
    assert run_cli("revert", str(batch), "--db", db).exit_code == 0
    again = run_cli("revert", str(batch), "--db", db)
    assert again.exit_code == 2 and "already reverted" in again.stderr


def test_batches_and_batch_show_and_history(db: str):
    batch = run_cli("import", SOURCE, "--db", db, "--yes", "--json",
                    "--actor", "maija").json()["batch"]
    listed = run_cli("batches", "--db", db, "--json").json()["batches"]
    row = next(b for b in listed if b["id"] == batch)
    assert row["actor"] == "maija" and row["source"].endswith("asiakkaat.csv")
    assert len(row["checksum"]) == 64 and row["counts"]["new"] == 1
    assert row["reverted_by"] is None
    shown = run_cli("batch", "show", str(batch), "--db", db, "--json").json()["changes"]
    assert [(c["customer_number"], c["action"], c["field"]) for c in shown] == [
        ("2001", "insert", None), ("1004", "update", "customer_group")]
    history = run_cli("history", "1004", "--db", db, "--json").json()["changes"]
    assert (history[-1]["field"], history[-1]["old_value"], history[-1]["new_value"],
            history[-1]["actor"], history[-1]["batch_id"]) == (
        "customer_group", "Oulu", "Pohjoinen", "maija", batch)
    human = run_cli("history", "1004", "--db", db)
    assert "customer_group: 'Oulu' -> 'Pohjoinen'" in human.stdout
    # The human list shows the checksum too (its first 12 digits), as its help says.
    listing = run_cli("batches", "--db", db).stdout
    assert f"sha256 {row['checksum'][:12]}" in listing


def test_history_of_an_unknown_customer_is_exit_2(db: str):
    assert run_cli("history", "9999", "--db", db).exit_code == 2


def test_customer_numbers_given_to_admin_commands_are_trimmed_and_never_empty(db: str):
    # QA: `history " 1004"` said there was no customer " 1004" (numbers are kept
    # trimmed), and `history ""` said "there is no customer " and nothing after.
    assert run_cli("history", " 1004 ", "--db", db, "--json").json()["customer"] == "1004"
    assert run_cli("lock", " 1004", "--db", db, "--json").json()["customers"] == 1
    for command in (["history", ""], ["lock", "1004", " "], ["unlock", ""]):
        result = run_cli(*command, "--db", db, "--json")
        assert result.exit_code == 2
        assert result.json()["error"] == ("a customer number given is empty; name customers "
                                          "by their numbers")


def test_a_locked_customer_is_a_conflict_for_a_changing_row(db: str, tmp_path: Path):
    assert run_cli("lock", "1004", "--db", db, "--actor", "Maija").exit_code == 0
    source = write_csv(tmp_path / "s.csv",
                       "customer_number;city;customer_group\n1004;Kempele;Oulu\n1001;;\n"
                       "1004;;Oulu\n")
    report = tmp_path / "r.csv"
    run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--report", report)
    rows = pl.read_csv(report, infer_schema=False)
    assert rows["status"].to_list() == ["Conflict", "No change", "No change"]
    assert rows["message"][0] == "customer 1004 is locked by Maija"
    assert run_cli("unlock", "1004", "--db", db).exit_code == 0
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 1  # row 4: same customer
    assert customers(db)["1004"]["city"] == "Kempele"


def test_a_plan_made_before_a_lock_is_stale(db: str, tmp_path: Path):
    source = write_csv(tmp_path / "s.csv", "customer_number;city\n1004;Kempele\n")
    plan = tmp_path / "p.plan"
    run_cli("preview", source, "--db", db, "--plan", plan)
    run_cli("lock", "1004", "--db", db)
    assert run_cli("commit", plan, "--db", db).exit_code == 3
    assert customers(db)["1004"]["city"] == "Oulu"


def test_a_plan_whose_unchanged_customer_changed_since_is_stale(db: str, tmp_path: Path):
    # Row 3 was No change when previewed; another import then moved 1001 to Vantaa. A
    # commit saying "every row applied or unchanged" (exit 0) would lose the file's
    # Helsinki (QA), so the plan is stale as for a Modified row's customer.
    source = write_csv(tmp_path / "s.csv", "customer_number;city\n1004;Kempele\n"
                                           "1001;Helsinki\n")
    plan = tmp_path / "p.plan"
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    other = write_csv(tmp_path / "o.csv", "customer_number;city\n1001;Vantaa\n")
    assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
    before = register_state(db)
    result = run_cli("commit", plan, "--db", db, "--json")
    assert result.exit_code == 3
    assert "(customers 1001)" in result.json()["error"]
    assert register_state(db) == before


def test_invalidated_customers_keep_their_keys_and_are_never_deleted(db: str,
                                                                     tmp_path: Path):
    assert run_cli("invalidate", "1004", "--db", db).exit_code == 0
    source = write_csv(tmp_path / "s.csv", "name;business_id\nRakennus Kivi Oy;2617416-4\n"
                                           "Kivi Uusi;2617416-4\n")
    report = tmp_path / "r.csv"
    run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--report", report)
    rows = pl.read_csv(report, infer_schema=False)
    assert rows["status"].to_list() == ["Conflict", "Conflict"]
    assert rows["message"][0] == "customer 1004 is invalidated"
    assert customers(db)["1004"]["invalidated"] is not None
    assert run_cli("restore", "1004", "--db", db).exit_code == 0
    assert customers(db)["1004"]["invalidated"] is None


def test_lock_of_unknown_customers_writes_nothing(db: str):
    before = register_state(db)
    result = run_cli("lock", "1004", "7777", "--db", db)
    assert result.exit_code == 2 and "7777" in result.stderr
    assert register_state(db) == before


def test_a_plan_edited_by_hand_is_refused(db: str, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    edited = plan.rows.with_columns(
        pl.when(pl.col("row") == 6).then(pl.lit("Mallory")).otherwise(pl.col("new.name"))
        .alias("new.name"))
    table = edited.to_arrow().replace_schema_metadata(
        {b"regsync.plan": __import__("json").dumps(
            __import__("dataclasses").asdict(plan.header)).encode()})
    import pyarrow.parquet as pq

    pq.write_table(table, plan_path)
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 2 and "changed after preview" in result.stderr
    assert "2001" not in customers(db)


def test_a_plan_from_another_register_is_refused(db: str, tmp_path: Path):
    plan = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan)
    other = tmp_path / "other.db"
    assert run_cli("import", REGISTER, "--db", other, "--yes").exit_code == 0
    result = run_cli("commit", plan, "--db", other)
    assert result.exit_code == 3 and "another register" in result.stderr


def test_a_plan_made_where_there_was_no_register_commits_only_there(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # QA: a first-load plan had no register id, so any empty register took it: the
    # preview's hint left out --db, and `regsync commit PLAN` filled ./register.db.

    plan = tmp_path / "p.plan"
    assert run_cli("preview", REGISTER, "--db", register_url, "--plan", plan).exit_code == 0
    elsewhere = tmp_path / "elsewhere.db"
    empty = tmp_path / "empty.db"
    assert run_cli("init", "--db", empty).exit_code == 0
    before = empty.read_bytes()
    for other in (elsewhere, empty):
        result = run_cli("commit", plan, "--db", other, "--json")
        assert result.exit_code == 3, result.stderr
        assert result.json()["error"].startswith("this plan was made against ")
    assert not elsewhere.exists() and empty.read_bytes() == before
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # the default register, ./register.db
    assert run_cli("commit", plan).exit_code == 3 and not (here / "register.db").exists()
    result = run_cli("commit", plan, "--db", register_url, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["new"] == 6


def test_a_first_load_plan_commits_to_the_same_server_reached_another_way(
        pg_url: str, tmp_path: Path):
    # QA: the place was compared as the host was written, so a plan previewed through
    # localhost was refused when committed through 127.0.0.1 (or the local socket).
    plan = tmp_path / "p.plan"
    by_name = pg_url.replace("@127.0.0.1:", "@localhost:")
    assert by_name != pg_url
    assert run_cli("preview", REGISTER, "--db", by_name, "--plan", plan).exit_code == 0
    result = run_cli("commit", plan, "--db", pg_url, "--json")
    assert result.exit_code == 0, result.stdout
    assert result.json()["new"] == 6


def test_a_plan_names_its_registers_location_only_where_there_was_none(
        tmp_path: Path) -> None:
    # Review: written into every plan, the new key made an older regsync refuse plans
    # ("made by a newer regsync") that it could commit.
    import json

    import pyarrow.parquet as pq

    from sync.plan import _META_NAME

    def header_keys(plan: Path) -> set[str]:
        raw = pq.read_metadata(plan).metadata[_META_NAME.encode()]
        return set(json.loads(raw))

    db = tmp_path / "r.db"
    first, second = tmp_path / "first.plan", tmp_path / "second.plan"
    assert run_cli("preview", REGISTER, "--db", db, "--plan", first).exit_code == 0
    assert run_cli("commit", first, "--db", db).exit_code == 0
    assert run_cli("preview", REGISTER, "--db", db, "--plan", second).exit_code == 0
    assert "register_location" in header_keys(first)
    assert "register_location" not in header_keys(second)
    assert run_cli("commit", second, "--db", db).exit_code == 0  # all No change


def test_the_preview_says_how_to_commit_its_plan_to_the_same_register(tmp_path: Path,
                                                                      pg_url: str):
    plan = tmp_path / "my plan.plan"
    db = tmp_path / "crm register.db"
    result = run_cli("preview", REGISTER, "--db", db, "--plan", plan)
    assert result.stdout.splitlines()[-1] == \
        f"plan written to {plan}; apply it with: regsync commit '{plan}' --db '{db}'"
    result = run_cli("preview", REGISTER, "--db", db, "--plan", "./-x.plan")
    assert result.stdout.splitlines()[-1].endswith(  # not taken for an option (QA)
        f"apply it with: regsync commit ./-x.plan --db '{db}'")
    base, _, schema = pg_url.partition("?schema=")  # a schema not created yet
    url = base.replace("postgres@", "postgres:Sekr3t@")
    result = run_cli("--schema", schema, "preview", REGISTER, "--db", url, "--plan", plan)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(
        f"apply it with: regsync --schema {schema} commit '{plan}' --db {base} "
        "(and the URL's password)")
    assert "Sekr3t" not in result.stdout + result.stderr


def test_state_changes_are_batches_with_history(db: str):
    run_cli("lock", "1001", "--db", db, "--actor", "Maija")
    register = open_register(str(db), create=False)
    batch = register.batches().row(-1, named=True)
    change = register.history().row(-1, named=True)
    register.close()
    assert (batch["kind"], batch["actor"], change["field"], change["new_value"]) == (
        "lock", "Maija", "locked_by", "Maija")


def test_invalidated_customers_are_left_out_of_exports_unless_asked_for(db: str,
                                                                        tmp_path: Path):
    assert run_cli("invalidate", "1004", "--db", db).exit_code == 0
    plain, everyone = tmp_path / "plain.csv", tmp_path / "all.csv"
    assert run_cli("export", plain, "--db", db).exit_code == 0
    assert run_cli("export", everyone, "--db", db, "--include-invalidated").exit_code == 0
    numbers = pl.read_csv(plain, infer_schema=False)["customer_number"].to_list()
    assert "1004" not in numbers and "1001" in numbers
    assert "1004" in pl.read_csv(everyone, infer_schema=False)["customer_number"].to_list()


def test_a_revert_never_overwrites_values_a_revert_of_a_revert_put_back(db: str,
                                                                         tmp_path: Path):
    batches = []
    for city in ("Kemi", "Tornio", "Raahe"):
        source = write_csv(tmp_path / f"{city}.csv", f"customer_number;city\n1004;{city}\n")
        batches.append(run_cli("import", source, "--db", db, "--yes", "--json")
                       .json()["batch"])
    undo = run_cli("revert", str(batches[2]), "--db", db, "--json").json()["batch"]
    assert run_cli("revert", str(undo), "--db", db).exit_code == 0
    assert customers(db)["1004"]["city"] == "Raahe"
    before = register_state(db)
    refused = run_cli("revert", str(batches[1]), "--db", db)
    assert refused.exit_code == 2 and "1004" in refused.stderr
    assert register_state(db) == before


def test_passwords_never_appear_in_messages(tmp_path: Path):
    for url in ("postgresql://postgres:s3cr%zzet@127.0.0.1:5432/test",
                "postgresql+psycopg://postgres:TopSecret1@127.0.0.1/test",
                "postgresql://u:TopSecret1@127.0.0.1:abc/test"):
        result = run_cli("init", "--db", url, "--json")
        assert result.exit_code == 2, result.stderr
        assert "s3cr" not in result.stderr + result.stdout
        assert "TopSecret1" not in result.stderr + result.stdout


def test_a_register_file_with_text_that_is_not_utf8_is_unreadable_input(tmp_path: Path):
    # Another tool wrote Latin-1 bytes into a text column of the SQLite register: every
    # command that reads that customer says which file is damaged (exit 2), writes
    # nothing, and never calls it an internal error.
    import json
    import sqlite3

    path = tmp_path / "register.db"
    assert run_cli("import", REGISTER, "--db", path, "--yes").exit_code == 0
    with sqlite3.connect(path) as conn:  # 'Helsinkö' in Latin-1
        conn.execute("UPDATE customers SET city = CAST(x'48656c73696e6bf6' AS TEXT) "
                     "WHERE customer_number = '1001'")
    before = path.read_bytes()
    out = tmp_path / "out.csv"
    result = run_cli("export", out, "--db", path, "--json")
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.startswith(f"regsync: error: {path}: the register file is damaged")
    assert "column 'city'" in result.stderr and len(result.stderr.splitlines()) == 1
    assert json.loads(result.stdout)["exit_code"] == 2
    source = write_csv(tmp_path / "s.csv", "customer_number;city\n1001;Espoo\n")
    result = run_cli("import", source, "--db", path, "--yes")
    assert result.exit_code == 2 and "the register file is damaged" in result.stderr
    assert path.read_bytes() == before


def test_a_damaged_page_of_the_sqlite_register_is_named_as_such(tmp_path: Path):
    # The page of the customers table is broken (its page type byte zeroed): opening the
    # register works, reading customers fails with SQLITE_CORRUPT mid-query.
    import sqlite3

    path = tmp_path / "register.db"
    assert run_cli("import", REGISTER, "--db", path, "--yes").exit_code == 0
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master "
                            "WHERE name = 'customers'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size] = 0
    path.write_bytes(bytes(data))
    out = tmp_path / "out.csv"
    result = run_cli("export", out, "--db", path)
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.startswith(f"regsync: error: {path}: the register file is damaged")
    assert "malformed" in result.stderr


def test_a_full_disk_during_a_commit_is_exit_2_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite's max_page_count makes the file "full" as a full disk would.
    from sync.writers.register.sqlite import SQLiteRegister

    db = tmp_path / "r.db"
    first = write_csv(tmp_path / "a.csv", "customer_number;name\n1;Aho Oy\n")
    assert run_cli("import", first, "--db", db, "--yes").exit_code == 0
    before = db.read_bytes()
    opened = SQLiteRegister.open.__func__  # type: ignore[attr-defined]

    def full(cls, path, **options):  # type: ignore[no-untyped-def]
        register = opened(cls, path, **options)
        pages = register._conn.execute("PRAGMA page_count").fetchone()[0]
        register._conn.execute(f"PRAGMA max_page_count = {pages}")
        return register

    monkeypatch.setattr(SQLiteRegister, "open", classmethod(full))
    rows = "".join(f"{n};Asiakas {n} Oy\n" for n in range(2, 3000))
    source = write_csv(tmp_path / "b.csv", "customer_number;name\n" + rows)
    result = run_cli("import", source, "--db", db, "--yes")
    assert result.exit_code == 2, result.stderr
    assert "cannot write to the register" in result.stderr
    assert "nothing was written" in result.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u@h:5432/db?schema=x&password=S3cr", "postgresql://u@h:5432/db?schema=x"),
    ("postgresql://u@h/db?password=S3cr&schema=x&sslpassword=K3y",
     "postgresql://u@h/db?schema=x"),
    ("postgresql://u@h/db?pass%77ord=S3cr", "postgresql://u@h/db"),
    ("postgresql://u:S3cr@h/db?schema=x", "postgresql://u@h/db?schema=x"),
    ("postgresql://u:S3?cr@h/db", "postgresql://u@h/db"),
    # libpq takes "h?password=S3" for a user name here: refused, and shown as nothing.
    ("postgresql://h?password=S3@cr", "postgresql://(URL not shown)"),
    ("postgresql://u@h?dbname=db&application_name=ops@cron&password=S3",
     "postgresql://u@h?dbname=db&application_name=ops@cron"),
    ("postgresql://u@h:5432/db?schema=x", "postgresql://u@h:5432/db?schema=x"),
    ("sqlite:///tmp/a?password=b.db", "sqlite:///tmp/a?password=b.db"),
])
def test_every_form_of_password_in_a_url_is_redacted(url: str, shown: str):
    from sync.writers.register.urls import redact_url, scrub

    assert redact_url(url) == shown
    assert "S3" not in scrub(f"failed: {url}", url) and "K3y" not in scrub(url, url)


@pytest.mark.parametrize("url", [
    "postgresql://bob:Qz9/Kx7@127.0.0.1:5432/test?schema=x",   # libpq: host "bob"
    "postgresql://bob:Qz9@Kx7@127.0.0.1:5432/test?schema=x",   # libpq: host "Kx7@127..."
    "postgresql://bob:Qz9@Ss:w/Kx7%#x@127.0.0.1:5432/test",
    "postgresql://127.0.0.1:5432/Qz9@Kx7",
    "postgresql://127.0.0.1?password=Qz9@Kx7",                 # libpq: user "127...Qz9"
    "postgresql://127.0.0.1:5432?user=u&password=Qz9@Kx7&dbname=test",  # host "Kx7&..."
])
def test_a_url_whose_password_cannot_be_told_apart_is_refused_unshown(url: str,
                                                                      tmp_path: Path):
    # QA: a password with an unencoded / or @ was printed in messages and job logs,
    # because libpq, and so the redaction, read part of it as the host.
    from sync.writers.register.urls import redact_url

    db = tmp_path / "r.db"
    assert run_cli("import", REGISTER, "--db", db, "--yes").exit_code == 0
    for command in (["batches", "--db", url], ["init", "--db", url],
                    ["copy-register", "--db", db, "--to", url]):
        result = run_cli(*command, "--json")
        assert result.exit_code == 2, result.stderr
        assert "can be read two ways" in result.json()["error"]
        assert "Qz9" not in result.stdout + result.stderr
        assert "Kx7" not in result.stdout + result.stderr
    assert redact_url(url) == "postgresql://(URL not shown)"
    job = tmp_path / "job.toml"
    (tmp_path / "in").mkdir()
    job.write_text(f'[job]\nregister = "{url}"\n[source]\nfolder = "in"\n',
                   encoding="utf-8")
    table_job = tmp_path / "table.toml"
    table_job.write_text(f'[job]\nregister = "r.db"\n[source]\ndb = "{url}"\n'
                         f'table = "erp.customers"\n', encoding="utf-8")
    for each in (job, table_job):
        result = run_cli("run", each, "--json")
        assert result.exit_code == 2 and "can be read two ways" in result.stderr
        assert "Qz9" not in result.stdout + result.stderr and "Kx7" not in result.stderr


def test_a_short_password_is_masked_without_garbling_the_message():
    from sync.writers.register.urls import scrub

    url = "postgresql://u:e@h/db"
    assert scrub('connection failed: token "u:e@h" refused', url) == \
        'connection failed: token "u:***@h" refused'


def test_a_percent_encoded_password_is_masked_as_the_server_reads_it():
    # libpq decodes %21 before it sends the password: a driver's message quoting it
    # has "S3cr!tPW", which the URL spells "S3cr%21tPW".
    from sync.writers.register.urls import scrub

    for url in ("postgresql://u:S3cr%21tPW@h/db", "postgresql://u@h/db?password=S3cr%21tPW"):
        assert scrub('password "S3cr!tPW" refused', url) == 'password "***" refused'


def test_a_schema_name_of_63_characters_is_taken_and_one_of_64_refused():
    # PostgreSQL keeps 63 bytes of a name (NAMEDATALEN - 1): 63 is the longest it keeps
    # whole.
    from sync.writers.register.urls import parse_url

    assert parse_url(f"postgresql://u@h/db?schema={'s' * 63}")[1] == "s" * 63
    with pytest.raises(RegisterError, match="is 64 characters long"):
        parse_url(f"postgresql://u@h/db?schema={'s' * 64}")


def test_a_password_given_as_a_url_parameter_is_never_shown(pg_url: str, tmp_path: Path):
    url = f"{pg_url}&password=Sekr3tPW&sslpassword=Sekr3tKey"
    init = run_cli("init", "--db", url, "--json")
    assert init.exit_code == 0, init.stderr
    assert init.json()["db"] == pg_url
    assert "Sekr3t" not in init.stdout + init.stderr
    missing = url.replace("schema=", "schema=none_")
    export = run_cli("export", tmp_path / "x.csv", "--db", missing, "--json")
    assert export.exit_code == 2 and "no register" in export.stderr
    assert "Sekr3t" not in export.stdout + export.stderr


@pytest.fixture
def pg_role(pg_url: str):
    """(URL of pg_url's register as a new login role with no rights, SQL runner)."""
    import uuid

    import psycopg

    role = f"regsync_t_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(pg_url.split("?")[0], autocommit=True)
    admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        yield pg_url.replace("postgresql://postgres@", f"postgresql://{role}@"), role, admin
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")
        admin.close()


def test_a_role_without_rights_on_the_schema_is_one_line_exit_2(pg_role, tmp_path: Path):
    url, role, admin = pg_role
    assert run_cli("init", "--db", url.replace(role, "postgres")).exit_code == 0
    from sync.writers.register.urls import parse_url

    schema = url.split("schema=")[1]
    where = parse_url(url)[2]  # PostgreSQL at host:port, database test, schema ...
    for args in (("export", tmp_path / "x.csv"), ("import", REGISTER, "--yes"),
                 ("batches",)):
        result = run_cli(*args, "--db", url, "--json")
        assert result.exit_code == 2, result.stderr
        assert result.stderr.count("\n") == 1 and where in result.stderr
        assert "internal error" not in result.stderr
    # Every table but customers readable: the export's streamed read is refused.
    admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
    admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    admin.execute(f'REVOKE SELECT ON "{schema}".customers FROM {role}')
    result = run_cli("export", tmp_path / "x.csv", "--db", url)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert where in result.stderr and "permission denied for table customers" in result.stderr


def test_a_schema_a_dba_created_is_used_without_create_on_the_database(
        pg_role, tmp_path: Path):
    url, role, admin = pg_role
    schema = url.split("schema=")[1]
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {role}')
    init = run_cli("init", "--db", url)
    assert init.exit_code == 0, init.stderr
    result = run_cli("import", REGISTER, "--db", url, "--yes")
    assert result.exit_code == 0, result.stderr
    assert len(customers(url)) == 6


def test_a_role_that_may_not_create_the_schema_is_told_so(pg_role):
    url, _, _ = pg_role
    from sync.writers.register.urls import parse_url

    result = run_cli("init", "--db", url)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{parse_url(url)[2]}: no permission to create the register: permission " \
           f"denied for database" in result.stderr


def _notes(tmp_path: Path, name: str, note: str) -> Path:
    return write_csv(tmp_path / f"{name}.csv",
                     f"Asiakasnumero;Nimi;Lisätiedot\n1002;Matti Virtanen;{note}\n")


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Two SQLite copies of one register (a file copied, or a backup restored)."""
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run_cli("import", REGISTER, "--db", a, "--yes").exit_code == 0
    b.write_bytes(a.read_bytes())
    return a, b


def test_a_plan_is_refused_by_a_copy_of_its_register_that_went_another_way(
        copies: tuple[Path, Path], tmp_path: Path):
    # Both copies are at the same version, with another note on customer 1002: the
    # plan's old value ('B') was never this register's, and its history would say so.
    a, b = copies
    assert run_cli("import", _notes(tmp_path, "b", "B"), "--db", a, "--yes").exit_code == 0
    assert run_cli("import", _notes(tmp_path, "c", "C"), "--db", b, "--yes").exit_code == 0
    plan = tmp_path / "a.plan"
    assert run_cli("preview", _notes(tmp_path, "a", "A"), "--db", a, "--plan", plan).exit_code == 0
    before = register_state(b)
    result = run_cli("commit", plan, "--db", b, "--json")
    assert result.exit_code == 3, result.stderr
    assert "batches differ" in result.json()["error"]
    assert register_state(b) == before
    assert customers(b)["1002"]["notes"] == "C"


def test_a_plan_is_refused_by_a_copy_of_its_register_left_behind(
        copies: tuple[Path, Path], tmp_path: Path):
    a, b = copies
    assert run_cli("import", _notes(tmp_path, "b", "B"), "--db", a, "--yes").exit_code == 0
    plan = tmp_path / "a.plan"
    assert run_cli("preview", _notes(tmp_path, "a", "A"), "--db", a, "--plan", plan).exit_code == 0
    before = register_state(b)
    result = run_cli("commit", plan, "--db", b)
    assert result.exit_code == 3
    assert "made against version 2 of this register, which is at version 1" in result.stderr
    assert register_state(b) == before


def test_a_plan_commits_into_a_copy_with_the_same_history(
        copies: tuple[Path, Path], tmp_path: Path):
    a, b = copies
    plan = tmp_path / "a.plan"
    assert run_cli("preview", _notes(tmp_path, "a", "A"), "--db", a, "--plan", plan).exit_code == 0
    assert run_cli("commit", plan, "--db", b).exit_code == 0
    assert customers(b)["1002"]["notes"] == "A"


def test_the_history_digest_of_a_version_stays_as_later_batches_and_reverts_land(db: str,
                                                                                  tmp_path: Path):
    # What a plan records of its register must not move when later batches land (those
    # the ordinary stale check judges), nor when a revert marks an earlier batch.
    batch = run_cli("import", SOURCE, "--db", db, "--yes", "--json").json()["batch"]
    register = open_register(db, create=False)
    version, recorded = register.version(), register.history_digest(register.version())
    earlier = register.history_digest(version - 1)
    register.close()
    assert earlier != recorded
    assert run_cli("lock", "1001", "--db", db).exit_code == 0
    assert run_cli("revert", str(batch), "--db", db).exit_code == 0
    register = open_register(db, create=False)
    try:
        assert register.version() == version + 2
        assert register.history_digest(version) == recorded
        assert register.history_digest(version + 2) != recorded
    finally:
        register.close()


@pytest.mark.parametrize("command", [("revert", "1"), ("batches",), ("batch", "show", "1"),
                                     ("history", "1001")])
def test_a_register_that_does_not_exist_is_said_and_none_created(register_url: str,
                                                                  command: tuple[str, ...]):
    # A typo in --db or ?schema= made revert create an empty register, then exit 2; and
    # `batches` said "no batches yet", `history` "there is no customer", exit 0/2 (QA).
    result = run_cli(*command, "--db", register_url, "--json")
    assert result.exit_code == 2
    assert "there is no register here yet" in result.json()["error"]
    from sync.writers.register import register_exists
    assert not register_exists(register_url)


@pytest.mark.parametrize(("recorded", "said"), [
    ("abc", "damaged register: its schema version 'abc' is no number"),
    # QA: migrate took 0 for a version to upgrade from, and failed with exit 70.
    ("0", "damaged register: its schema version '0' is none regsync made"),
    ("5", "register schema version 5 is newer than this regsync (4); upgrade regsync")])
def test_a_damaged_or_newer_schema_version_is_one_line_for_every_command(
        db: str, tmp_path: Path, recorded: str, said: str):
    # migrate crashed (exit 70) on 'abc'; a newer register was sent to run migrate,
    # which then refused it.
    set_schema_version(db, recorded)
    for command in (["migrate"], ["preview", str(SOURCE)], ["export", str(tmp_path / "o.csv")]):
        result = run_cli(*command, "--db", db, "--json")
        assert result.exit_code == 2, (command, result.stderr)
        assert said in result.json()["error"], command


def test_changed_since_a_batch_id_past_64_bits_is_a_usage_error(db: str, tmp_path: Path):
    result = run_cli("export", tmp_path / "x.csv", "--db", db, "--changed-since",
                     str(2**63), "--json")
    assert result.exit_code == 2, result.stderr
    assert "no batch id is that large" in result.json()["error"]


def test_a_revert_writes_its_customers_in_statements_per_column_not_per_customer(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Reverting 5,000 inserted customers took 16 s: a read and a DELETE per customer.
    load_register(register_url, "customer_number;name;city\n1;Eka Oy;Turku\n", tmp_path)
    lines = "".join(f"{n};Asiakas {n} Oy;Oulu\n" for n in range(100, 400))
    source = write_csv(tmp_path / "many.csv", "customer_number;name;city\n" + lines
                       + "1;Eka Oy;Espoo\n")
    batch = run_cli("import", source, "--db", register_url, "--yes", "--json").json()["batch"]
    calls: list[str] = []
    register = open_register(register_url, create=False)
    engine = type(register)
    register.close()
    original = engine._execute

    def counted(self, query, params=()):
        calls.append(query)
        return original(self, query, params)

    monkeypatch.setattr(engine, "_execute", counted)
    assert run_cli("revert", str(batch), "--db", register_url).exit_code == 0
    monkeypatch.undo()
    assert len(calls) < 60, len(calls)
    assert sorted(customers(register_url)) == ["1"]
    assert customers(register_url)["1"]["city"] == "Turku"


def test_locking_a_customer_already_locked_makes_no_batch_and_keeps_plans_valid(
        db: str, tmp_path: Path):
    # A nightly script re-locking the same customers made an empty batch each time,
    # which moved the version and made every open plan stale.
    assert run_cli("lock", "1001", "--db", db).exit_code == 0
    plan = tmp_path / "p.plan"
    assert run_cli("preview", SOURCE, "--db", db, "--plan", plan).exit_code == 1
    before = register_state(db)
    again = run_cli("lock", "1001", "--db", db, "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json() == {"batch": None, "customers": 0}
    assert register_state(db) == before
    assert run_cli("commit", plan, "--db", db).exit_code == 1  # applied, not stale (3)


def test_invalidating_a_customer_invalidated_already_makes_no_batch(db: str):
    # QA: a second invalidate made a batch and moved the customer's invalidation time.
    assert run_cli("invalidate", "1001", "--db", db).exit_code == 0
    before = register_state(db)
    time.sleep(1.1)  # the time is stored to the second: a later second is another value
    again = run_cli("invalidate", "1001", "--db", db, "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json() == {"batch": None, "customers": 0}
    assert register_state(db) == before


def test_history_shows_an_empty_value_as_the_preview_does(db: str, tmp_path: Path):
    # QA: `history` printed None -> '+358401234567' where the preview says ''.
    edit = write_csv(tmp_path / "e.csv", "customer_number;phone\n1004;+358401234567\n")
    assert run_cli("import", edit, "--db", db, "--yes").exit_code == 0
    human = run_cli("history", "1004", "--db", db)
    assert "phone: '' -> '+358401234567'" in human.stdout
    assert "None" not in human.stdout


def test_a_revert_never_gives_back_a_business_id_a_later_batch_gave_another_customer(
        db: str, tmp_path: Path):
    # 1001 gets another id; a later batch gives its old one to a new customer 3000.
    moved = write_csv(tmp_path / "moved.csv", "customer_number;business_id\n1001;1234560-4\n")
    batch = run_cli("import", moved, "--db", db, "--yes", "--json").json()["batch"]
    taken = write_csv(tmp_path / "taken.csv",
                      "customer_number;name;business_id\n3000;Uusi Oy;0112038-9\n")
    assert run_cli("import", taken, "--db", db, "--yes").exit_code == 0
    before = register_state(db)
    refused = run_cli("revert", str(batch), "--db", db, "--json")
    assert refused.exit_code == 2
    assert refused.json()["error"] == (
        f"batch {batch} can't be reverted: it would give business_id 0112038-9 back to "
        f"customer 1001, but customer 3000 has it now")
    assert register_state(db) == before


def test_reverting_a_revert_never_puts_back_a_customer_whose_business_id_is_taken(
        db: str, tmp_path: Path):
    made = write_csv(tmp_path / "made.csv",
                     "customer_number;name;business_id\n3000;Kolmas Oy;1234561-2\n")
    batch = run_cli("import", made, "--db", db, "--yes", "--json").json()["batch"]
    undo = run_cli("revert", str(batch), "--db", db, "--json").json()["batch"]
    again = write_csv(tmp_path / "again.csv",
                      "customer_number;name;business_id\n4000;Neljäs Oy;1234561-2\n")
    later = run_cli("import", again, "--db", db, "--yes", "--json").json()["batch"]
    before = register_state(db)
    refused = run_cli("revert", str(undo), "--db", db)
    assert refused.exit_code == 2
    assert refused.stderr.strip().endswith(
        f"batch {undo} can't be reverted: it would give business_id 1234561-2 back to "
        f"customer 3000, but customer 4000 has it now")
    assert register_state(db) == before
    # Once the later batch is reverted, nothing stands in the way.
    assert run_cli("revert", str(later), "--db", db).exit_code == 0
    assert run_cli("revert", str(undo), "--db", db).exit_code == 0
    assert customers(db)["3000"]["business_id"] == "1234561-2"
    assert "4000" not in customers(db)


def test_a_lock_is_never_taken_over_from_another_actor(db: str):
    assert run_cli("lock", "1001", "--db", db, "--actor", "anna").exit_code == 0
    before = register_state(db)
    # Refused whole, like a lock naming an unknown customer: 1004 is not locked either.
    taken = run_cli("lock", "1004", "1001", "--db", db, "--actor", "ben", "--json")
    assert taken.exit_code == 2
    assert taken.json()["error"] == (
        "customer 1001 is locked by anna; nothing was locked (unlock it first to take the "
        "lock over)")
    assert register_state(db) == before
    assert customers(db)["1001"]["locked_by"] == "anna"
    assert customers(db)["1004"]["locked_by"] is None
    # anna's own lock again is no change; unlocked, ben may lock it.
    assert run_cli("lock", "1001", "--db", db, "--actor", "anna", "--json").json() == {
        "batch": None, "customers": 0}
    assert run_cli("unlock", "1001", "--db", db, "--actor", "ben").exit_code == 0
    assert run_cli("lock", "1001", "--db", db, "--actor", "ben").exit_code == 0
    assert customers(db)["1001"]["locked_by"] == "ben"
    assert run_cli("lock", "1004", "--db", db, "--actor", "anna").exit_code == 0
    both = run_cli("lock", "1001", "1004", "1005", "--db", db, "--actor", "cecilia")
    assert both.exit_code == 2
    assert ("customers locked by someone else: 1001 (by ben), 1004 (by anna); nothing was "
            "locked") in both.stderr


def test_a_commit_landing_while_a_preview_reads_makes_the_preview_refuse(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # QA: a preview overlapping a commit read some keys before it and some after: 18,000
    # contradictory Conflicts ("number 10106539 is unknown, but ... is customer
    # 10106539's"), exit 1. Spec section 4: matching sees the register as it was when
    # the preview began; a preview that can't tell so refuses (exit 3), as a stale plan.
    import sync.pipeline as pipeline
    from sync.commit import commit
    from sync.commit_rows import open_for_commit

    other, other_plan = write_csv(tmp_path / "o.csv", "customer_number;name\n7001;Muu Oy\n"), \
        tmp_path / "o.plan"
    assert run_cli("preview", other, "--db", db, "--plan", other_plan).exit_code == 0
    real = pipeline._flag_duplicates

    def commit_meanwhile(*args: object, **kwargs: object) -> object:
        register = open_register(db, create=True)
        try:
            with open_for_commit(other_plan) as plan:
                commit(plan, register, "other")
        finally:
            register.close()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_flag_duplicates", commit_meanwhile)
    result = run_cli("preview", SOURCE, "--db", db, "--plan", tmp_path / "p.plan", "--json")
    if db.startswith("postgresql"):
        # One snapshot for every read: the preview sees the register as it began, and
        # its plan is against that version; the commit's stale check does the rest.
        assert result.exit_code == 1, result.stderr
        assert result.json()["new"] == 1
        monkeypatch.setattr(pipeline, "_flag_duplicates", real)
        committed = run_cli("commit", tmp_path / "p.plan", "--db", db, "--json")
        assert committed.exit_code == 1, committed.stderr  # its Conflicts stay unapplied
        assert {"7001", "2001"} <= set(customers(db))
        return
    assert result.exit_code == 3, result.stderr
    assert result.json()["error"].startswith("the register changed while the preview read it")
    assert not (tmp_path / "p.plan").exists()
    monkeypatch.setattr(pipeline, "_flag_duplicates", real)
    assert run_cli("preview", SOURCE, "--db", db, "--plan", tmp_path / "p.plan").exit_code == 1
