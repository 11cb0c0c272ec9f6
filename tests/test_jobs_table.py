"""A job whose source is a database table or query (SQLite, PostgreSQL)."""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.errors import SourceError
from sync.readers.database import read_database
from sync.writers.register.urls import redact_url
from tests.conftest import customers, report_rows, run_cli
from tests.jobs_helpers import batches, write_job

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ROWS = [(str(n), f"Asiakas {n} Oy", "Oulu") for n in range(1, 7)]


@dataclass
class TableDb:
    """A source database: the [source] lines of the job, and a way to run SQL in it."""

    source: str
    execute: Callable[[str], None]


def _sqlite(tmp_path: Path, query: bool) -> TableDb:
    path = tmp_path / "erp.db"

    def execute(sql: str) -> None:
        conn = sqlite3.connect(path)
        conn.execute(sql)
        conn.commit()
        conn.close()

    execute("CREATE TABLE customers (customer_number TEXT, name TEXT, city TEXT, "
            "credit REAL)")
    what = ('query = "SELECT customer_number AS Asiakasnumero, name AS Nimi, city '
            'FROM customers ORDER BY name"') if query else 'table = "customers"'
    return TableDb(f'db = "sqlite:///erp.db"\n{what}', execute)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable (not CI): {exc}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture(params=["sqlite-table", "sqlite-query", "postgresql-table"])
def table_db(request: pytest.FixtureRequest, tmp_path: Path) -> TableDb:
    if request.param.startswith("sqlite"):
        return _sqlite(tmp_path, query=request.param.endswith("query"))
    import psycopg

    schema = request.getfixturevalue("pg_schema")

    def execute(sql: str) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.replace("customers", f"{schema}.customers"))

    execute("CREATE TABLE customers (customer_number TEXT, name TEXT, city TEXT, "
            "credit NUMERIC(10, 2))")
    return TableDb(f'db = "{PG_URL}"\ntable = "{schema}.customers"', execute)


def test_a_table_is_synced_and_then_only_changed_rows_are_modified(
        tmp_path: Path, table_db: TableDb) -> None:
    values = ", ".join(f"('{n}', '{name}', '{city}', 100)" for n, name, city in ROWS)
    table_db.execute(f"INSERT INTO customers VALUES {values}")
    job = write_job(tmp_path, source=table_db.source)
    db = tmp_path / "r.db"

    first = run_cli("run", job, "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["committed"] == 1
    assert first.json()["files"][0]["counts"]["new"] == 6
    assert sorted(customers(db)) == [str(n) for n in range(1, 7)]

    table_db.execute("UPDATE customers SET city = 'Kemi' WHERE customer_number IN ('2', '5')")
    second = run_cli("run", job, "--json")
    assert second.exit_code == 0, second.stderr
    record = second.json()["files"][0]
    assert record["outcome"] == "committed" and record["batch"] == 2
    assert (record["counts"]["modified"], record["counts"]["unchanged"]) == (2, 4)
    report = report_rows(Path(record["report"]))
    assert sorted(r["customer_number"] for r in report if r["status"] == "Modified") == [
        "2", "5"]
    assert {r["changed_fields"] for r in report if r["status"] == "Modified"} == {"city"}
    assert customers(db)["5"]["city"] == "Kemi" and customers(db)["4"]["city"] == "Oulu"

    third = run_cli("run", job, "--json")
    assert third.exit_code == 0
    assert third.json()["skipped_duplicate"] == 1
    assert third.json()["files"][0]["reason"] == "unchanged since batch 2"
    # As for a file: the batch and its counts (QA: none were given).
    assert third.json()["files"][0]["batch"] == 2
    assert third.json()["files"][0]["counts"]["modified"] == 2
    assert len(batches(db)) == 2


def test_an_unchanged_table_whose_batch_left_rows_unapplied_says_so_again(
        tmp_path: Path, table_db: TableDb) -> None:
    # QA: the second run was exit 0 with no batch and no counts, so a run killed
    # between the commit and its log line would hide the conflict for good.
    table_db.execute("INSERT INTO customers VALUES ('1', 'Alpha Oy', 'Oulu', 1), "
                     "('1', 'Alpha Oy', 'Kemi', 2)")
    job = write_job(tmp_path, source=table_db.source)
    first = run_cli("run", job, "--json")
    assert first.exit_code == 1 and first.json()["files"][0]["counts"]["conflict"] == 1
    again = run_cli("run", job, "--json")
    record = again.json()["files"][0]
    assert again.exit_code == 1, again.stdout
    assert record["outcome"] == "skipped_duplicate" and record["batch"] == 1
    assert record["reason"] == "unchanged since batch 1 (rows not applied: 1 conflict)"


def test_table_checksum_ignores_row_order_and_label_hides_passwords(tmp_path: Path) -> None:
    db = _sqlite(tmp_path, query=False)
    db.execute("INSERT INTO customers VALUES ('2', 'B', NULL, 100.0), ('1', 'A', 'x', 2.5)")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    as_table = read_database(url, table="customers")
    reversed_query = read_database(url, query="SELECT * FROM customers ORDER BY 1 DESC")
    assert as_table.checksum == reversed_query.checksum
    assert as_table.table.frame.rows() == [(2, "1", "A", "x", "2.5"), (3, "2", "B", None, "100")]
    assert redact_url("postgresql://erp:s3cret@db.example:5432/crm") == \
        "postgresql://erp@db.example:5432/crm"


def test_a_password_in_the_source_url_is_never_stored_or_shown(
        tmp_path: Path, pg_schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_schema}.customers (customer_number TEXT, name TEXT)")
        conn.execute(f"INSERT INTO {pg_schema}.customers VALUES ('1', 'Asiakas Oy')")
    source = f'db = "{PG_URL}?password=Sekr3tPW"\ntable = "{pg_schema}.customers"'
    job = write_job(tmp_path, source=source)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    conn = sqlite3.connect(tmp_path / "r.db")
    stored = conn.execute("SELECT source FROM batches").fetchall()
    conn.close()
    assert stored == [(f"{PG_URL} table {pg_schema}.customers",)]
    log = (tmp_path / "out" / "regsync.jsonl").read_text(encoding="utf-8")
    assert "Sekr3t" not in result.stdout + result.stderr + log


def test_a_postgresql_table_is_read_in_utf8_whatever_the_client_encoding(
        tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under PGCLIENTENCODING=LATIN1 a Czech name has no LATIN1 form: the read failed.
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_schema}.customers (customer_number TEXT, name TEXT)")
        conn.execute(f"INSERT INTO {pg_schema}.customers VALUES ('1', 'Dvořák Stroje'), "
                     "('2', 'Öljy Oy')")
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    read = read_database(PG_URL, table=f"{pg_schema}.customers")
    assert sorted(read.table.frame.rows()) == [(2, "1", "Dvořák Stroje"), (3, "2", "Öljy Oy")]


def test_postgresql_floats_read_as_the_columnar_reader_writes_them(pg_schema: str) -> None:
    # The server writes 12345678901234567 stored as float8 as 1.2345678901234568e+16, and
    # 1e15 as 1e+15: the first has a digit no one typed and passed as a key (lower-case
    # e), the second is exact. As a Parquet float: the scientific form a key field
    # rejects from 2**53 on (2**24 for a float4), the integer below (mutation QA).
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_schema}.customers (n TEXT, d FLOAT8, r FLOAT4)")
        conn.execute(f"INSERT INTO {pg_schema}.customers VALUES "
                     "('1', 12345678901234567, 123456789), ('2', 1e15, 16777216), "
                     "('3', 2.5, 0.5), ('4', 'NaN', 'Infinity')")
    read = read_database(PG_URL, table=f"{pg_schema}.customers")
    assert sorted(read.table.frame.drop("_row").rows()) == [
        ("1", "1.2345678901234568E+16", "1.2345679E+8"),
        ("2", "1000000000000000", "1.6777216E+7"),
        ("3", "2.5", "0.5"),
        ("4", None, "#NUM!")]


def test_a_table_that_cannot_be_read_is_named_once_in_the_run_line(
        tmp_path: Path, pg_schema: str) -> None:
    # QA: "failed: postgresql://.../db  postgresql://.../db table x: cannot be read".
    job = write_job(tmp_path, source=f'db = "{PG_URL}"\ntable = "{pg_schema}.nothing"')
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1, result.stderr
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"failed: {PG_URL}  table {pg_schema}.nothing: cannot be read ("), line
    assert line.count(PG_URL) == 1
    # The log and the JSON keep the whole reason, which names the source.
    assert result.json()["files"][0]["reason"].startswith(f"{PG_URL} table {pg_schema}")


@pytest.mark.parametrize(("raised", "code"), [
    (SourceError("cannot be read (no such table)"), 1),  # the table fails alone
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 2),  # the run stops at it
])
def test_a_table_that_fails_or_stops_the_run_never_shows_the_urls_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: Exception,
        code: int) -> None:
    # The failed line names the source by its URL: without its password, in the log
    # (which monitors read and keep) as on stderr and in the JSON. No server is needed:
    # the read itself is what fails.
    import sync.jobs.runner as runner

    def refused(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(runner, "read_database", refused)
    url = "postgresql://erp:Sekr3tPW@127.0.0.1:5432/crm?sslpassword=Sekr3tKey"
    job = write_job(tmp_path, source=f'db = "{url}"\ntable = "customers"')
    result = run_cli("run", job, "--json")
    assert result.exit_code == code, result.stderr
    [record] = result.json()["files"]
    assert record["outcome"] == "failed"
    assert record["file"] == "postgresql://erp@127.0.0.1:5432/crm"
    log = (tmp_path / "out" / "regsync.jsonl").read_text(encoding="utf-8")
    assert "Sekr3t" not in result.stdout + result.stderr + log


def test_a_commit_landing_while_a_table_is_read_leaves_it_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The table path's own handling of a preview that saw another process commit while
    # it read (exit 3, as for a file): nothing committed, and the next run syncs it.
    import sync.pipeline as pipeline
    from sync.commit import commit
    from sync.commit_rows import open_for_commit
    from sync.writers.register import open_register

    source = _sqlite(tmp_path, query=False)
    source.execute("INSERT INTO customers VALUES ('1', 'Alfa Oy', 'Oulu', 1)")
    job = write_job(tmp_path, source=source.source)
    db = tmp_path / "r.db"
    assert run_cli("run", job).exit_code == 0
    other = tmp_path / "other.csv"
    other.write_text("customer_number;name\n7001;Muu Oy\n", encoding="utf-8")
    assert run_cli("preview", other, "--db", db, "--plan", tmp_path / "o.plan").exit_code == 0
    source.execute("UPDATE customers SET city = 'Kemi'")
    real = pipeline._flag_duplicates

    def commit_meanwhile(*args: object, **kwargs: object) -> object:
        register = open_register(str(db), create=True)
        try:
            with open_for_commit(tmp_path / "o.plan") as plan:
                commit(plan, register, "other")
        finally:
            register.close()
        monkeypatch.setattr(pipeline, "_flag_duplicates", real)  # once
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_flag_duplicates", commit_meanwhile)
    busy = run_cli("run", job, "--json")
    assert busy.exit_code == 3, busy.stderr
    [record] = busy.json()["files"]
    assert record["outcome"] == "failed"
    assert record["reason"].startswith("the register changed while the preview read it")
    assert record["reason"].endswith("(left for the next run)")
    assert customers(db)["1"]["city"] == "Oulu" and len(batches(db)) == 2
    again = run_cli("run", job, "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["files"][0]["counts"]["modified"] == 1
    assert customers(db)["1"]["city"] == "Kemi"


@pytest.mark.usefixtures("short_lock_waits")
def test_a_postgresql_table_another_session_holds_locked_fails_the_run_not_hangs(
        tmp_path: Path, pg_schema: str) -> None:
    # Review: a job's table source waited for as long as a DBA held the table.
    import threading

    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_schema}.customers (customer_number TEXT, name TEXT)")
        conn.execute(f"INSERT INTO {pg_schema}.customers VALUES ('1', 'Asiakas Oy')")
    job = write_job(tmp_path, source=f'db = "{PG_URL}"\ntable = "{pg_schema}.customers"')
    with psycopg.connect(PG_URL) as dba:
        dba.execute(f"LOCK TABLE {pg_schema}.customers IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(30, dba.rollback)  # without the bound: fails, not hangs
        release.start()
        try:
            result = run_cli("run", job, "--json")
        finally:
            release.cancel()
            dba.rollback()
    record = result.json()["files"][0]
    assert result.exit_code == 1 and record["outcome"] == "failed", result.stdout
    assert "lock timeout" in record["reason"]
