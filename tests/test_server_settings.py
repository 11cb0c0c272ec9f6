"""What a DBA's settings and doings do to a command on a PostgreSQL register: a role's
statement_timeout or lock_timeout, a table a DBA holds locked, a cancelled statement, a
read-only role, a temp_file_limit. Each is one line naming host, database and schema,
exit 2 or 3 (QA: exit 70, "internal error", and the server's CONTEXT on a second line),
and nothing is written."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from sync.writers.register.urls import parse_url
from tests.conftest import FIXTURES, PG_URL, Run, register_state, run_cli, write_csv
from tests.jobs_helpers import write_job

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


class Role:
    """A login role that owns pg_url's register (it created it), and an admin session."""

    def __init__(self, pg_url: str, admin: psycopg.Connection) -> None:
        self.name = f"regsync_set_{uuid.uuid4().hex[:10]}"
        self.schema = parse_url(pg_url)[1]
        self.url = pg_url.replace("postgresql://postgres@", f"postgresql://{self.name}@")
        self.where = parse_url(self.url)[2]  # PostgreSQL at host:port, database, schema
        self.admin = admin

    def set(self, setting: str, value: str) -> None:
        """ALTER ROLE ... SET: what a DBA does; sessions opened from now on take it."""
        self.admin.execute(f"ALTER ROLE {self.name} SET {setting} = '{value}'")


@pytest.fixture
def role(pg_url: str, tmp_path: Path) -> Iterator[Role]:
    """A role with USAGE and CREATE on a schema a DBA made, holding the demo register."""
    admin = psycopg.connect(PG_URL, autocommit=True)
    made = Role(pg_url, admin)
    admin.execute(f"CREATE ROLE {made.name} LOGIN")
    try:
        admin.execute(f'CREATE SCHEMA "{made.schema}"')
        admin.execute(f'GRANT USAGE, CREATE ON SCHEMA "{made.schema}" TO {made.name}')
        loaded = run_cli("import", REGISTER, "--db", made.url, "--yes")
        assert loaded.exit_code == 0, loaded.stderr
        yield made
    finally:
        admin.execute(f'REVOKE ALL ON SCHEMA "{made.schema}" FROM {made.name}')
        admin.execute(f"DROP OWNED BY {made.name}")  # its tables, and any grant left
        admin.execute(f"DROP ROLE {made.name}")
        admin.close()


@contextmanager
def table_locked(role: Role, table: str) -> Iterator[psycopg.Connection]:
    """A DBA's session holding `table` in ACCESS EXCLUSIVE mode until the block ends."""
    with psycopg.connect(PG_URL) as dba:
        dba.execute(f'LOCK TABLE "{role.schema}".{table} IN ACCESS EXCLUSIVE MODE')
        try:
            yield dba
        finally:
            dba.rollback()


def one_line(result: Run, code: int, role: Role) -> str:
    """The error line of a command that ended with `code`, naming the register."""
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert role.where in lines[0] and "internal error" not in lines[0], lines[0]
    assert "CONTEXT" not in lines[0] and "LINE 1" not in lines[0]
    return lines[0]


def _commands(tmp_path: Path, role: Role) -> dict[str, Callable[[], Run]]:
    """Each command that reads or writes the register, as a user runs it."""
    plan = tmp_path / "made.plan"
    made = run_cli("preview", SOURCE, "--db", role.url, "--plan", plan)
    assert made.exit_code == 1, made.stderr
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    job.write_text(job.read_text().replace('register = "r.db"', f'register = "{role.url}"'))
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_bytes(SOURCE.read_bytes())
    return {
        "preview": lambda: run_cli("preview", SOURCE, "--db", role.url,
                                   "--plan", tmp_path / "p.plan"),
        "import": lambda: run_cli("import", SOURCE, "--db", role.url, "--yes"),
        "commit": lambda: run_cli("commit", plan, "--db", role.url),
        "export": lambda: run_cli("export", tmp_path / "x.csv", "--db", role.url),
        "run": lambda: run_cli("run", job),
    }


@pytest.mark.parametrize("command", ["preview", "import", "commit", "export", "run"])
def test_a_roles_statement_timeout_is_one_line_exit_2(role: Role, tmp_path: Path,
                                                     command: str):
    # The statement waits for a DBA's lock until the role's statement_timeout ends it,
    # as a COPY of many rows that takes longer would be (QA: exit 70).
    commands = _commands(tmp_path, role)
    before = register_state(role.url)
    role.set("statement_timeout", "300ms")
    with table_locked(role, "customers"):
        result = commands[command]()
    line = one_line(result, 2, role)  # `run`: "job nightly: stopped: ...; 1 failed"
    assert "cancelled a statement that ran longer than the statement_timeout" in line
    assert "(canceling statement due to statement timeout); nothing was written" in line
    assert not (tmp_path / "p.plan").exists() and not (tmp_path / "x.csv").exists()
    role.admin.execute(f"ALTER ROLE {role.name} RESET statement_timeout")
    assert register_state(role.url) == before


def test_the_statement_timeout_hint_lifts_it_for_one_url(role: Role, tmp_path: Path):
    role.set("statement_timeout", "300ms")
    url = role.url + "&options=-c%20statement_timeout%3D0"
    with table_locked(role, "customers") as dba:
        threading.Timer(1.0, dba.rollback).start()  # the DBA lets go after a second
        result = run_cli("export", tmp_path / "x.csv", "--db", url)
    assert result.exit_code == 0, result.stderr


def test_a_statement_timeout_ending_the_wait_for_another_commit_is_register_busy(
        role: Role, tmp_path: Path):
    # The commit waits for the commit lock up to 5 s (regsync's lock_timeout); a role's
    # shorter statement_timeout ends that wait sooner, and it is still "busy", exit 3.
    commands = _commands(tmp_path, role)
    before = register_state(role.url)
    role.set("statement_timeout", "300ms")
    with psycopg.connect(PG_URL) as other:  # another run, committing
        other.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (role.schema,))
        result = commands["commit"]()
        other.rollback()
    line = one_line(result, 3, role)
    assert line.endswith(": register busy (another run is committing); try again"), line
    assert register_state(role.url) == before


@pytest.mark.parametrize(("command", "table"), [("preview", "name_blocks"),
                                                ("export", "customers"),
                                                ("import", "customers")])
def test_a_roles_lock_timeout_on_a_table_a_dba_locked_is_register_busy(
        role: Role, tmp_path: Path, command: str, table: str):
    commands = _commands(tmp_path, role)
    before = register_state(role.url)
    role.set("lock_timeout", "200ms")
    with table_locked(role, table):
        result = commands[command]()
    line = one_line(result, 3, role)
    assert "register busy (another session held a table it needs locked longer than " \
           "the lock_timeout allows: canceling statement due to lock timeout)" in line
    assert register_state(role.url) == before


def _waiting_backend(role: Role) -> int:
    """The pid of the role's session that waits for a lock (polled for up to 10 s)."""
    with psycopg.connect(PG_URL, autocommit=True) as watcher:
        for _ in range(200):
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename = %s "
                "AND wait_event_type = 'Lock'", (role.name,)).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the command never waited for the lock")


def test_a_statement_a_dba_cancels_is_one_line_exit_2(role: Role, tmp_path: Path):
    def cancel() -> None:
        pid = _waiting_backend(role)
        with psycopg.connect(PG_URL, autocommit=True) as dba:
            dba.execute("SELECT pg_cancel_backend(%s)", (pid,))

    with table_locked(role, "customers"):
        canceller = threading.Thread(target=cancel)
        canceller.start()
        result = run_cli("export", tmp_path / "x.csv", "--db", role.url)
        canceller.join()
    line = one_line(result, 2, role)
    assert "the server cancelled a statement (canceling statement due to user request: " \
           "an administrator's pg_cancel_backend, or a server setting); nothing was " \
           "written" in line
    assert not (tmp_path / "x.csv").exists()


def test_a_deadlock_with_a_dbas_session_is_register_busy(role: Role, tmp_path: Path):
    # The commit holds the register's commit lock and waits for the customers table a
    # DBA locked; the DBA's session then asks for the commit lock: the server ends the
    # commit's transaction (the one whose wait passed deadlock_timeout first).
    commands = _commands(tmp_path, role)
    before = register_state(role.url)

    with table_locked(role, "customers") as dba:
        def lock_the_lock() -> None:
            _waiting_backend(role)
            try:
                dba.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (role.schema,))
            except psycopg.Error:
                pass  # a server that picked the DBA's session: the assertion below says

        dba_waits = threading.Thread(target=lock_the_lock)
        dba_waits.start()
        result = commands["commit"]()
        dba_waits.join()
    line = one_line(result, 3, role)
    assert "register busy (the server gave up on the command's transaction for another " \
           "session's: deadlock detected); nothing was written; try again" in line
    assert register_state(role.url) == before


def test_a_role_that_may_not_write_is_one_line_exit_2(role: Role):
    before = register_state(role.url)
    role.set("default_transaction_read_only", "on")
    line = one_line(run_cli("import", SOURCE, "--db", role.url, "--yes"), 2, role)
    assert "the server takes no writes (cannot execute " in line
    assert "default_transaction_read_only is on for this role or database" in line
    assert register_state(role.url) == before


def test_a_roles_temp_file_limit_is_one_line_exit_2(role: Role, tmp_path: Path):
    rows = "".join(f"{9000 + n};Yritys {n:05d} Oy;Kaupunki {n % 97}\n" for n in range(3000))
    source = write_csv(tmp_path / "many.csv", "customer_number;name;city\n" + rows)
    assert run_cli("import", source, "--db", role.url, "--yes").exit_code == 0
    role.set("work_mem", "64kB")  # the export's sort spills to a temporary file
    role.set("temp_file_limit", "0")
    line = one_line(run_cli("export", tmp_path / "x.csv", "--db", role.url), 2, role)
    assert "the server could not carry out the command (temporary file size exceeds " \
           "temp_file_limit (0kB)); nothing was written" in line
    assert not (tmp_path / "x.csv").exists()


def test_a_lock_timeout_the_url_or_role_sets_is_kept_and_none_becomes_5s(
        role: Role) -> None:
    # Review: the connection's own bound (for reads behind a DBA's lock) replaced one
    # given in the URL's options, which the docs offer for such settings.
    from sync.writers.register.postgres import connect

    def lock_timeout(url: str) -> str:
        conn, _, _ = connect(url)
        try:
            return str(conn.execute("SHOW lock_timeout").fetchone()[0])
        finally:
            conn.close()

    assert lock_timeout(role.url) == "5s"
    assert lock_timeout(f"{role.url}&options=-c%20lock_timeout%3D60s") == "1min"
    assert lock_timeout(f"{role.url}&options=-c%20lock_timeout%3D0") == "0"  # QA
    role.set("lock_timeout", "200ms")
    assert lock_timeout(role.url) == "200ms"
