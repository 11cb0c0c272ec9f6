"""What a PostgreSQL database must offer a register, and what a register must leave alone
there (QA, nineteenth session): a database not encoded in UTF-8 is refused up front (it
failed with exit 70 on the first 'ě', or, as SQL_ASCII, counted bytes as letters), a
role that may not create temporary tables is refused before a commit (it could insert
customers but not update them), and a commit's staging table never drops a table of the
same name in the search path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.conftest import FIXTURES, PG_URL, pg_url, run_cli, write_csv

REGISTER = FIXTURES / "demo" / "register.csv"
_ = pg_url  # the fixture checks that the server answers (fails under CI=true if not)


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_URL, autocommit=True)


@contextmanager
def _database(options: str = "") -> Iterator[tuple[str, str]]:
    """A database of its own (its name, its URL), dropped afterwards: what these tests
    change (encoding, privileges, public's tables) must not reach other tests."""
    name = f"regsync_db_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f"CREATE DATABASE {name} {options}")
    try:
        yield name, PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")]


@pytest.mark.parametrize("encoding", ["LATIN9", "SQL_ASCII"])
def test_a_database_not_in_utf8_is_refused_before_anything_is_written(
        encoding: str, pg_url: str, tmp_path: Path) -> None:
    with _database(f"ENCODING '{encoding}' TEMPLATE template0 LOCALE 'C'") as (_name, url):
        imported = run_cli("import", REGISTER, "--db", url, "--yes")
        assert imported.exit_code == 2, imported.stderr
        line = imported.stderr.strip()
        assert len(line.splitlines()) == 1, line
        assert f"the database is encoded in {encoding}" in line
        assert "a register needs a UTF8 database" in line
        assert _tables(url) == []  # no register created, not even an empty one
        source = write_csv(tmp_path / "s.csv", "customer_number;name;city\n3;Věra Šťastná;Brno\n")
        previewed = run_cli("preview", source, "--db", url, "--plan", tmp_path / "p.plan")
        assert previewed.exit_code == 2, previewed.stderr
        assert f"encoded in {encoding}" in previewed.stderr
        assert not (tmp_path / "p.plan").exists()


def test_a_role_that_may_not_make_temporary_tables_is_refused_before_a_commit(
        pg_url: str, tmp_path: Path) -> None:
    role = f"regsync_notemp_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        with _database() as (name, url):
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC")
                admin.execute(f"CREATE SCHEMA crm AUTHORIZATION {role}")
            role_url = url.replace("postgresql://postgres@", f"postgresql://{role}@")
            role_url += "?schema=crm"
            imported = run_cli("import", REGISTER, "--db", role_url, "--yes")
            assert imported.exit_code == 2, imported.stderr
            line = imported.stderr.strip()
            assert len(line.splitlines()) == 1, line
            assert f"role {role} may not create temporary tables in database {name}" in line
            assert f'GRANT TEMPORARY ON DATABASE "{name}" TO "{role}"' in line
            assert _tables(url) == []
            # Reading needs no temporary table: a preview still compares.
            previewed = run_cli("preview", REGISTER, "--db", role_url, "--json",
                                "--plan", tmp_path / "p.plan")
            assert previewed.exit_code == 0, previewed.stderr
            assert previewed.json()["new"] == 6
            # Granted as the line says, the same import goes through.
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"GRANT TEMPORARY ON DATABASE {name} TO {role}")
            assert run_cli("import", REGISTER, "--db", role_url, "--yes").exit_code == 0
    finally:  # the database, and with it what the role owned and was granted, is gone
        with _admin() as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_commit_leaves_a_table_named_like_its_staging_table_alone(
        pg_url: str, tmp_path: Path) -> None:
    with _database() as (_name, url):
        with psycopg.connect(url, autocommit=True) as admin:
            for table in ("regsync_update", "regsync_blocks"):
                admin.execute(f"CREATE TABLE public.{table} (important TEXT)")
                admin.execute(f"INSERT INTO public.{table} VALUES ('keep me')")
        register = f"{url}?schema=crm"
        assert run_cli("import", REGISTER, "--db", register, "--yes").exit_code == 0
        # An update (staged in regsync_update) and a rename (its name blocks upserted
        # through regsync_blocks).
        source = write_csv(tmp_path / "s.csv", "customer_number;name;city\n"
                                               "1001;Kahvila Aurinko Oy;Porvoo\n"
                                               "1004;Rakennus Kivi Oyj;Oulu\n")
        result = run_cli("import", source, "--db", register, "--yes", "--json")
        assert result.exit_code == 0, result.stderr
        assert result.json()["modified"] == 2
        with psycopg.connect(url) as conn:
            for table in ("regsync_update", "regsync_blocks"):
                assert conn.execute(f"SELECT important FROM public.{table}").fetchall() == [
                    ("keep me",)]
            assert conn.execute("SELECT city, name FROM crm.customers WHERE customer_number "
                                "IN ('1001', '1004') ORDER BY 1").fetchall() == [
                ("Oulu", "Rakennus Kivi Oyj"), ("Porvoo", "Kahvila Aurinko Oy")]
