"""PostgreSQL registers: what the server does to a command (a lost connection, a
schema named twice, a schema a DBA created), always one line and a true exit code."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import polars as pl
import psycopg
import pytest

from sync.errors import CommitInDoubtError
from sync.writers.register import open_register
from sync.writers.register.postgres import PostgresRegister
from sync.writers.register.urls import parse_url
from tests.conftest import FIXTURES, PG_URL, register_state, run_cli, write_csv

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


def _terminate(register: PostgresRegister) -> None:
    """End the register's session from another one, as an admin or a restart would."""
    pid = register._conn.info.backend_pid
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        # The timeout makes it wait until the backend has gone.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def test_a_connection_lost_during_a_commit_is_one_line_exit_2(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    before = register_state(pg_url)
    copy_write = psycopg.Copy.write
    registers: list[PostgresRegister] = []

    def insert_rows(self: PostgresRegister, rows: pl.DataFrame) -> None:
        registers.append(self)
        original_insert_rows(self, rows)

    def write(self: psycopg.Copy, buffer: bytes) -> None:
        if registers:  # the session ends in the middle of the COPY of new customers
            _terminate(registers.pop())
        copy_write(self, buffer)

    original_insert_rows = PostgresRegister._insert_rows
    monkeypatch.setattr(PostgresRegister, "_insert_rows", insert_rows)
    monkeypatch.setattr(psycopg.Copy, "write", write)
    monkeypatch.setattr("sync.writers.register.postgres._COPY_CHUNK", 64 << 10)
    # No logging configured, as in the command (pytest's capture would hide psycopg's
    # "error ignored terminating <psycopg.Copy [BAD]>" warning).
    monkeypatch.setattr(logging.root, "handlers", [])
    # Enough rows that the COPY's later writes meet the closed socket.
    source = write_csv(tmp_path / "new.csv", "customer_number;name;city\n" + "".join(
        f"{n};Asiakas {n} Oy;Oulu\n" for n in range(10_000, 14_000)))
    result = run_cli("import", source, "--db", pg_url, "--yes", "--json")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert parse_url(pg_url)[2] in result.stderr  # host, port, database, schema
    assert "the connection to the server was lost" in result.stderr
    assert "nothing of this command's transaction was written" in result.stderr
    assert result.json()["exit_code"] == 2
    monkeypatch.undo()
    assert register_state(pg_url) == before


def test_a_connection_lost_during_a_read_is_one_line_exit_2(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    original = PostgresRegister.check_schema_version

    def check_then_lose(self: PostgresRegister) -> None:
        original(self)
        _terminate(self)

    monkeypatch.setattr(PostgresRegister, "check_schema_version", check_then_lose)
    result = run_cli("export", tmp_path / "x.csv", "--db", pg_url)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert parse_url(pg_url)[2] in result.stderr
    assert "the connection to the server was lost" in result.stderr


def test_a_connection_lost_while_its_commit_is_confirmed_is_not_said_to_write_nothing(
        pg_url: str):
    register = open_register(pg_url, create=True)
    assert isinstance(register, PostgresRegister)
    try:
        with pytest.raises(CommitInDoubtError, match="may or may not have been written"), \
                register._transaction():
            register._execute(f"UPDATE {register._t('meta')} SET value = 'x' "
                              f"WHERE key = 'nothing'")
            _terminate(register)
    finally:
        register.close()


def _schemas(*names: str) -> list[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
                            (list(names),)).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def drop_new_schemas() -> Iterator[list[str]]:
    """Schemas a test names that a regression would create: dropped afterwards if they
    did not exist before."""
    names: list[str] = []
    existing: list[str] = []

    def watch(*more: str) -> None:
        names.extend(more)
        existing.extend(_schemas(*more))

    yield watch  # type: ignore[misc]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in set(_schemas(*names)) - set(existing):
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def test_a_schema_named_both_in_the_url_and_by_schema_must_agree(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        drop_new_schemas: Callable[..., None]):
    # --schema sets $REGSYNC_SCHEMA in the process: set here, so it is undone after.
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    schema = pg_url.split("schema=")[1]
    other = f"{schema}_other"
    drop_new_schemas(other)
    refused = run_cli("--schema", other, "init", "--db", pg_url, "--json")
    assert refused.exit_code == 2, refused.stderr
    assert f"'{other}'" in refused.stderr and f"'{schema}'" in refused.stderr
    monkeypatch.setenv("REGSYNC_SCHEMA", other)
    by_env = run_cli("import", REGISTER, "--db", pg_url, "--yes")
    assert by_env.exit_code == 2 and f"'{other}'" in by_env.stderr, by_env.stderr
    assert _schemas(schema, other) == []
    monkeypatch.setenv("REGSYNC_SCHEMA", schema)  # the same schema both ways is fine
    assert run_cli("init", "--db", pg_url).exit_code == 0
    # A message names the schema used, which the URL alone does not.
    monkeypatch.setenv("REGSYNC_SCHEMA", other)
    missing = run_cli("export", tmp_path / "x.csv", "--db", PG_URL)
    assert missing.exit_code == 2 and f"schema {other}: no register" in missing.stderr


def test_an_empty_schema_in_the_url_is_refused(monkeypatch: pytest.MonkeyPatch,
                                               pg_url: str, tmp_path: Path,
                                               drop_new_schemas: Callable[..., None]):
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    drop_new_schemas("regsync")  # where it went before
    for args in (("init",), ("export", tmp_path / "x.csv")):
        result = run_cli(*args, "--db", f"{PG_URL}?schema=", "--json")
        assert result.exit_code == 2, result.stderr
        assert "?schema= is empty" in result.json()["error"]


def test_a_client_encoding_other_than_utf8_neither_garbles_nor_crashes(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # COPY hands over bytes in the connection's client encoding and polars reads UTF-8:
    # under PGCLIENTENCODING=LATIN1 an import stored 'Öljy Oy' as 'Ãljy Oy' and a
    # preview stopped with exit 70 ("invalid utf-8 sequence").
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    source = write_csv(tmp_path / "s.csv", "customer_number;name;city\n"
                                           "7001;Öljy Oy;Hämeenlinna\n")
    assert run_cli("import", source, "--db", pg_url, "--yes").exit_code == 0
    again = run_cli("preview", source, "--db", pg_url, "--plan", tmp_path / "p.plan",
                    "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["unchanged"] == 1
    with psycopg.connect(PG_URL, autocommit=True, client_encoding="UTF8") as conn:
        schema = parse_url(pg_url, None)[1]
        name, city = conn.execute(f'SELECT name, city FROM "{schema}".customers').fetchone()
    assert (name, city) == ("Öljy Oy", "Hämeenlinna")


@pytest.mark.parametrize(("given", "said"), [
    ("x\n", "must be ASCII letters, digits and _"),
    ("1x", "not starting with a digit"),
    ("x" * 64, "is 64 characters long; PostgreSQL takes at most 63"),
    ("pg_x", "reserved for PostgreSQL's own schemas"),
])
def test_a_schema_name_postgresql_would_refuse_or_change_is_refused(
        given: str, said: str, monkeypatch: pytest.MonkeyPatch,
        drop_new_schemas: Callable[..., None]):
    # A trailing newline passed a `$` that matches before it; 64 characters were said
    # to be "letters, digits and _"; pg_ was exit 70 (the server's ReservedName).
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    drop_new_schemas(given, given[:63], given.strip())
    by_option = run_cli("--schema", given, "init", "--db", PG_URL, "--json")
    assert by_option.exit_code == 2, by_option.stderr
    assert said in by_option.json()["error"]
    in_url = run_cli("init", "--db", f"{PG_URL}?schema={quote(given)}", "--json")
    assert in_url.exit_code == 2, in_url.stderr
    assert said in in_url.json()["error"]


def test_an_empty_schema_option_is_refused_and_an_empty_variable_is_no_schema(
        monkeypatch: pytest.MonkeyPatch, drop_new_schemas: Callable[..., None]):
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    drop_new_schemas("regsync")
    before = _schemas("regsync")
    # An explicit --schema "" was the default schema, silently.
    refused = run_cli("--schema", "", "init", "--db", PG_URL, "--json")
    assert refused.exit_code == 2, refused.stderr
    assert "--schema (or $REGSYNC_SCHEMA) is empty" in refused.json()["error"]
    assert _schemas("regsync") == before
    # An empty $REGSYNC_SCHEMA is unset, as click reads an empty $REGSYNC_DB.
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    chosen = run_cli("init", "--db", PG_URL)
    assert chosen.exit_code == 0, chosen.stderr
    assert chosen.stdout.rstrip().endswith("schema regsync"), chosen.stdout


def _server() -> dict[str, str]:
    """The test server's host, port, user and database, as libpq reads PG_URL."""
    from psycopg.conninfo import conninfo_to_dict

    given = {k: str(v) for k, v in conninfo_to_dict(PG_URL).items()}
    return {"host": given.get("host", ""), "port": given.get("port", "5432"),
            "user": given.get("user", ""), "dbname": given.get("dbname", "")}


def test_a_unix_socket_url_with_an_empty_host_is_taken(pg_url: str):
    # postgresql:///db?host=/socket/folder, libpq's usual form, was made postgresql:/db
    # (not a URL) and refused.
    with psycopg.connect(PG_URL) as conn:
        folder = str(conn.execute("SHOW unix_socket_directories").fetchone()[0])
    folder = folder.split(",")[0].strip()
    if not Path(folder).is_dir():
        pytest.skip(f"the server's socket folder {folder} is not on this machine")
    server, schema = _server(), pg_url.split("schema=")[1]
    url = (f"postgresql:///{server['dbname']}?host={folder}&port={server['port']}"
           f"&user={server['user']}&schema={schema}")
    result = run_cli("init", "--db", url, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["db"] == url
    assert f"PostgreSQL at {folder}:{server['port']}, database {server['dbname']}, " \
           f"schema {schema}" in result.stderr
    assert run_cli("batches", "--db", pg_url).exit_code == 0  # the same register


def test_messages_name_the_server_and_database_the_parameters_choose(pg_url: str):
    # ?host=, ?port= and ?dbname= win over the URL's host, port and path (libpq): the
    # messages named the ones the URL's start gave, which were not connected to.
    server, schema = _server(), pg_url.split("schema=")[1]
    url = (f"postgresql://{server['user']}@nowhere.invalid:1/elsewhere?schema={schema}"
           f"&host={server['host']}&port={server['port']}&dbname={server['dbname']}")
    result = run_cli("init", "--db", url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"register ready: PostgreSQL at {server['host']}:{server['port']}, "
        f"database {server['dbname']}, schema {schema}")
    missing = run_cli("init", "--db", f"{pg_url}&dbname=regsync_no_such_db")
    assert missing.exit_code == 2, missing.stderr
    assert "cannot connect to PostgreSQL at " in missing.stderr
    assert f", database regsync_no_such_db, schema {schema}:" in missing.stderr


def test_the_url_goes_to_libpq_as_written_but_for_its_schema():
    # Decoded and encoded again, %20 came back as +, which libpq reads as a plus.
    conninfo, schema, _ = parse_url("postgresql://u@h/db?options=-c%20x&schema=s"
                                    "&application_name=a+b")
    assert (conninfo, schema) == ("postgresql://u@h/db?options=-c%20x&application_name=a+b",
                                  "s")


def _foreign(pg_url: str, *statements: str) -> str:
    """Run statements (`{s}` is pg_url's schema, created first) as another application
    would; the schema's name."""
    schema = parse_url(pg_url)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        for statement in statements:
            conn.execute(statement.format(s=f'"{schema}"'))
    return schema


def _relations(schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
                            (schema,)).fetchall()


COMMANDS = [("init",), ("import", str(REGISTER), "--yes"), ("preview", str(SOURCE)),
            ("export", "{tmp}/x.csv"), ("batches",), ("history", "1001")]


@pytest.mark.parametrize(("tables", "named"), [
    (["CREATE TABLE {s}.customers (id int, x text)"], "(customers)"),
    (["CREATE TABLE {s}.meta (k text, v text)", "CREATE TABLE {s}.orders (id int)"],
     "(meta)"),
    (["CREATE VIEW {s}.history AS SELECT 1 AS x", "CREATE TABLE {s}.meta (key int, "
      "value int)"], "(history, meta)"),
])
def test_a_schema_holding_other_tables_of_the_registers_names_is_refused(
        pg_url: str, tmp_path: Path, tables: list[str], named: str):
    # DuplicateTable (exit 70) on init and import; a foreign meta was UndefinedColumn
    # "value" (exit 70) for every command; a foreign customers table was read by
    # preview as an empty register.
    schema = _foreign(pg_url, *tables)
    before = _relations(schema)
    for command in COMMANDS:
        args = [a.format(tmp=tmp_path) for a in command]
        result = run_cli(*args, "--db", pg_url, "--json")
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.json()["error"] == (
            f"{parse_url(pg_url)[2]}: the schema holds tables that are not a regsync "
            f"register {named}; name another schema"), command
    assert _relations(schema) == before
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(("statement", "said"), [
    ("CREATE TABLE {s}.history_batch (id int)", 'relation "history_batch" already exists'),
    ("CREATE SEQUENCE {s}.customers_name_key", 'relation "customers_name_key" already exists'),
])
def test_a_schema_holding_another_object_of_a_name_the_register_needs_is_refused(
        pg_url: str, statement: str, said: str):
    # Not one of the register's tables, but a name one of its indexes takes: creating
    # the register fails, and is said so.
    schema = _foreign(pg_url, statement)
    before = _relations(schema)
    result = run_cli("init", "--db", pg_url, "--json")
    assert result.exit_code == 2, result.stderr
    assert result.json()["error"] == (f"{parse_url(pg_url)[2]}: the schema holds objects "
                                      f"that are not a regsync register ({said}); name "
                                      f"another schema")
    assert _relations(schema) == before


def test_a_meta_table_without_a_schema_version_is_not_a_register(pg_url: str,
                                                                  tmp_path: Path):
    # The register's other tables are there: only the schema version is missing.
    _foreign(pg_url, "CREATE TABLE {s}.meta (key text PRIMARY KEY, value text)",
             "INSERT INTO {s}.meta VALUES ('colour', 'blue')",
             *(f"CREATE TABLE {{s}}.{name} (id int)"
               for name in ("groups", "customers", "batches", "history")))
    for command in COMMANDS:
        args = [a.format(tmp=tmp_path) for a in command]
        result = run_cli(*args, "--db", pg_url, "--json")
        assert result.exit_code == 2, (command, result.stderr)
        assert result.json()["error"] == (f"{parse_url(pg_url)[2]}: not a regsync register "
                                          f"(its meta table holds no schema version)")


def test_init_json_names_the_schema_that_schema_or_the_variable_chose(
        pg_url: str, monkeypatch: pytest.MonkeyPatch):
    # QA: "db" was the URL alone, without the schema --schema named.
    schema = parse_url(pg_url)[1]
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    by_option = run_cli("--schema", schema, "init", "--db", f"{PG_URL}?password=Sekr3t",
                        "--json")
    assert by_option.exit_code == 0, by_option.stderr
    assert by_option.json()["db"] == pg_url
    monkeypatch.setenv("REGSYNC_SCHEMA", schema)
    by_variable = run_cli("init", "--db", PG_URL, "--json")
    assert by_variable.json()["db"] == pg_url
    assert by_variable.json()["register_id"] == by_option.json()["register_id"]


def test_reads_in_a_read_snapshot_see_one_state_on_every_connection(pg_url: str):
    # A preview reads on up to four connections; each read used to see what was
    # committed when it started, so a commit landing meanwhile gave mixed reads.
    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    blocks = [f"b{n:05d}" for n in range(4_000)]  # enough to be read in parts, side by side

    def add_blocks() -> None:
        writer = open_register(pg_url, create=False)
        try:
            with writer._transaction():
                writer._execute(f"INSERT INTO {writer._t('name_blocks')} "
                                "SELECT b, '1001', 'x' FROM unnest(?::text[]) b",
                                (writer._list_param(blocks),))
        finally:
            writer.close()

    register = open_register(pg_url, create=False)
    try:
        assert isinstance(register, PostgresRegister) and register._readers() > 1
        with register.read_snapshot():
            version = register.version()
            add_blocks()
            seen = register.block_sizes(blocks, 10)
            assert register._readers_pool is not None  # read on several connections
            assert (seen["size"] == 0).all() and seen.height == len(blocks)
            assert register.version() == version
        after = register.block_sizes(blocks, 10)
        assert (after["size"] == 1).all()
    finally:
        register.close()


def test_a_stop_inside_a_copy_is_the_stop_not_the_rollback_after_it(
        pg_url: str, monkeypatch: pytest.MonkeyPatch):
    # QA: SIGTERM during a preview's read (inside COPY ... TO STDOUT) left the connection
    # mid-command; the ROLLBACK leaving the read snapshot then failed ("another command
    # is already in progress"), and that error, exit 70 "internal error", hid the stop
    # (exit 143). Here the stop comes inside the COPY, and the COPY is left unfinished,
    # as a signal between two of its reads leaves it.
    from sync.signals import Terminated

    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    reads = 0
    original = psycopg.Copy.read

    def read_then_stop(copy: psycopg.Copy) -> object:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise Terminated
        return original(copy)

    monkeypatch.setattr(psycopg.Copy, "read", read_then_stop)
    monkeypatch.setattr(psycopg.Copy, "finish", lambda copy, exc=None: None)
    register = open_register(pg_url, create=False)
    try:
        with pytest.raises(Terminated), register.read_snapshot():
            register.fetch(pl.Series(["1001", "1002"]), ("name",))
        assert reads == 2
    finally:
        register.close()


def test_a_preview_outlives_the_servers_idle_in_transaction_timeout(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The preview's reads share one transaction, idle while the source is worked on
    # between them; a DBA's idle_in_transaction_session_timeout must not end it.
    import time
    import uuid

    import sync.pipeline as pipeline

    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    register = open_register(pg_url, create=False)
    schema = register.schema
    register.close()
    role = f"regsync_idle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            admin.execute(f"ALTER ROLE {role} SET idle_in_transaction_session_timeout "
                          "= '200ms'")
            admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
            admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
            real = pipeline._flag_duplicates

            def slowly(*args: object, **kwargs: object) -> object:
                time.sleep(0.6)  # working between two reads, longer than the timeout
                return real(*args, **kwargs)  # type: ignore[arg-type]

            monkeypatch.setattr(pipeline, "_flag_duplicates", slowly)
            result = run_cli("preview", SOURCE, "--db", pg_url.replace("postgres@", f"{role}@"),
                             "--plan", tmp_path / "p.plan")
            assert result.exit_code == 1, result.stderr
        finally:
            admin.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            admin.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
            admin.execute(f"DROP ROLE {role}")


def test_a_preview_reads_its_source_before_it_holds_the_registers_snapshot(
        pg_url: str, monkeypatch: pytest.MonkeyPatch):
    # Review: the snapshot (a transaction held open) began before the source was read,
    # so a long parse kept the server's vacuum waiting for nothing.
    import sync.pipeline as pipeline
    from sync.rules import load_rules

    assert run_cli("import", REGISTER, "--db", pg_url, "--yes").exit_code == 0
    register = open_register(pg_url, create=False)
    seen: list[bool] = []
    real = pipeline.read_source

    def reading(*args: object, **kwargs: object) -> object:
        seen.append(register._idle())  # no transaction open on the register meanwhile
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "read_source", reading)
    try:
        plan = pipeline.preview(SOURCE, register, load_rules(None))
        assert seen == [True]
        assert plan.header.counts["modified"] > 0
    finally:
        register.close()
