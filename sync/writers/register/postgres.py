"""The PostgreSQL register engine: the same register, on a server, with bulk paths.

Commits are serialised by a transaction-scoped advisory lock (a second committer waits
up to five seconds, then exits 3); the stale-plan check runs inside the commit's
transaction. Rows go in through COPY: customers, new customers' name blocks and
history straight into their tables, field updates into a temporary staging table (one
row per changed customer) and then one UPDATE ... FROM. Readers (preview, export) take
no lock and never block.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg
from psycopg import sql as psql

from sync.errors import (
    CommitInDoubtError,
    RegisterBusyError,
    RegisterError,
    RegisterSchemaError,
)
from sync.writers.register.read_pool import READERS, ReadPool
from sync.writers.register.schema import (
    SCHEMA_VERSION,
    missing_tables_problem,
    schema_sql,
    schema_version_problem,
)
from sync.writers.register.sql import SQLRegister
from sync.writers.register.sql_reads import T, _ident
from sync.writers.register.urls import (
    is_postgres_url,
    label_of,
    parse_url,
    redact_url,
    scrub,
)

__all__ = ["PostgresRegister", "connect", "has_register", "is_postgres_url", "parse_url",
           "redact_url"]

# psycopg logs what it ignores while cleaning up after an error (a COPY or a rollback
# on a lost connection); the error itself is what regsync reports, in one line.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

_COPY_CHUNK = 8 << 20
_LOCK_TIMEOUT = "5s"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(url: str, schema: str | None = None) -> tuple[psycopg.Connection, str, str]:
    """(connection in autocommit mode, schema, label); RegisterError (exit 2) naming host
    and database. The label names the server and database connected to, which the URL
    alone may not tell (?host=, ?dbname=, $PGHOST, a service file)."""
    conninfo, chosen, label = parse_url(url, schema)
    try:
        # UTF-8 both ways whatever PGCLIENTENCODING or the database's encoding says:
        # COPY hands over bytes in the client encoding, and polars reads UTF-8.
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10,
                               client_encoding="UTF8")
    except psycopg.Error as exc:
        raise RegisterError(f"cannot connect to {label}: {scrub(_first_line(exc), url)}") from None
    # The stale-plan check reads, under the commit lock, what earlier commits wrote: a
    # server default of repeatable read would show it an older snapshot.
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    try:
        bound_lock_waits(conn)
    except psycopg.Error as exc:
        conn.close()
        raise RegisterError(f"cannot connect to {label}: {scrub(_first_line(exc), url)}") \
            from None
    return conn, chosen, label_of(conn.info.host, conn.info.port, conn.info.dbname, chosen)


def location_of(conn: psycopg.Connection, schema: str, label: str) -> str:
    """Where a register in `schema` of the database `conn` is on is, or would be created
    (Register.location): the server's cluster by its system identifier, the database and
    the schema, so that `localhost`, `127.0.0.1` and the local socket name one place. The
    label (the host as written) where the identifier can't be read."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return label  # inside another's transaction (a copy): a failure would end it
    try:
        row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    except psycopg.Error:  # not granted to this role: the host as written
        return label
    return f"PostgreSQL cluster {row[0]}, database {conn.info.dbname}, schema {schema}"


def bound_lock_waits(conn: psycopg.Connection) -> None:
    """Reads too give up on a table another session holds locked (a DBA's VACUUM FULL or
    ALTER TABLE), after the wait a commit allows (exit 3 for a register): a nightly
    preview, export or table read must not hang (QA). Where the server, database, role
    or URL (`options=-c lock_timeout=...`) set one, 0 (wait as long as needed) included,
    it is kept. The commit's transactions set their own, LOCAL."""
    try:
        row = conn.execute("SELECT source = 'default' FROM pg_settings "
                           "WHERE name = 'lock_timeout'").fetchone()
        unset = row is None or bool(row[0])
    except psycopg.Error:
        # pg_settings unreadable here (a role's temp_file_limit of 0 stops its scan): a
        # value of 0 is taken for unset.
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.rollback()
        unset = str(conn.execute("SHOW lock_timeout").fetchone()[0]) in ("0", "0ms")
    if unset:
        conn.execute(f"SET lock_timeout = '{_LOCK_TIMEOUT}'")


def check_database(conn: psycopg.Connection, label: str, *, writing: bool) -> None:
    """RegisterError (exit 2), before anything is read or written, for a database a
    register can't live in: one not encoded in UTF-8, or, for a command that writes, a
    role that may not create temporary tables there."""
    encoding = conn.info.parameter_status("server_encoding") or "unknown"
    if encoding != "UTF8":
        # LATIN9 can't hold 'Věra' (the server refuses the value: QA saw exit 70) and
        # SQL_ASCII stores bytes unchecked, so lengths and case count bytes, not letters.
        raise RegisterError(
            f"{label}: the database is encoded in {encoding}, which can't hold every "
            f"letter a customer's name may have; a register needs a UTF8 database "
            f"(createdb -E UTF8 -T template0 NAME); nothing was read or written")
    if writing and not conn.execute(
            "SELECT has_database_privilege(current_database(), 'TEMPORARY')").fetchone()[0]:
        role, database = conn.info.user, conn.info.dbname
        raise RegisterError(
            f"{label}: role {role} may not create temporary tables in database "
            f"{database}, where a commit stages its updates (GRANT TEMPORARY ON DATABASE "
            f'"{database}" TO "{role}"); nothing was written')


@contextmanager
def server_errors(conn: psycopg.Connection, label: str) -> Iterator[None]:
    """What the server refuses, and a connection lost (a server restart, an admin's
    pg_terminate_backend), as one line naming the register, exit 2: a transaction the
    server never saw committed is rolled back, so none of it was written. So are the
    errors a server setting or a DBA causes (a role's statement_timeout or lock_timeout,
    a table a DBA locked, a full disk on the server: `_refused`), exit 2 or 3."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RegisterError(f"{label}: {_first_line(exc)}") from None
    except psycopg.Error as exc:
        if not conn.broken:
            refused = _refused(exc, label)
            if refused is None:
                raise
            raise refused from None
        raise RegisterError(f"{label}: the connection to the server was lost "
                            f"({_first_line(exc)}); nothing of this command's "
                            f"transaction was written") from None


def _refused(exc: psycopg.Error, label: str) -> RegisterError | RegisterBusyError | None:
    """The one-line error (exit 2, or 3 for a lock another session holds) for what the
    server stopped for a setting of the server, database or role, or a DBA's doing; None
    for anything else (our bug). The statement's transaction was rolled back, so none
    of it was written.

    A DBA's statement_timeout is reported, never lifted with SET LOCAL: it may be meant
    (a role shared with an application), and a role, or one URL, can be given another
    (`?options=-c%20statement_timeout%3D0`). regsync's own transactions set their own
    lock_timeout (5 s), as they always have."""
    line = _first_line(exc)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        if "statement timeout" in line:
            return RegisterError(
                f"{label}: the server cancelled a statement that ran longer than the "
                f"statement_timeout set for this role, database or server, or in the "
                f"URL's options ({line}); "
                f"nothing was written. Raise it for this role, or add "
                f"options=-c%20statement_timeout%3D0 to the URL")
        return RegisterError(f"{label}: the server cancelled a statement ({line}: an "
                             f"administrator's pg_cancel_backend, or a server setting); "
                             f"nothing was written")
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return RegisterBusyError(
            f"{label}: register busy (another session held a table it needs locked "
            f"longer than the lock_timeout allows: {line}); nothing was written; try again")
    state = exc.sqlstate or ""
    if state[:2] == "40":  # transaction rollback: a deadlock, a serialization failure
        return RegisterBusyError(f"{label}: register busy (the server gave up on the "
                                 f"command's transaction for another session's: {line}); "
                                 f"nothing was written; try again")
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return RegisterError(f"{label}: the server takes no writes ({line}: "
                             f"default_transaction_read_only is on for this role or "
                             f"database, or the server is a standby); nothing was written")
    # Class 53 (a full disk, memory, connection or temp_file_limit on the server) and
    # class 58 (the server's own I/O errors): the server's to fix.
    if state[:2] in ("53", "58"):
        return RegisterError(f"{label}: the server could not carry out the command "
                             f"({line}); nothing was written")
    return None


@contextmanager
def _transaction(conn: psycopg.Connection, label: str) -> Iterator[None]:
    """conn.transaction(), saying so when the connection is lost while its COMMIT is
    under way: the server may have committed it or not, and nobody can tell from here."""
    committing = False
    try:
        with conn.transaction():
            yield
            committing = True
    except psycopg.Error as exc:
        if not (committing and conn.broken):
            raise
        raise CommitInDoubtError(
            f"{label}: the connection to the server was lost while the commit was being "
            f"confirmed ({_first_line(exc)}); it may or may not have been written: "
            f"check 'regsync batches' before running the command again") from None


# The register's tables: a schema holding a relation of one of these names that is no
# register is neither read as an empty register nor written to.
REGISTER_TABLES = ("meta", "groups", "customers", "name_blocks", "batches", "history")
_META_COLUMNS = {"key text", "value text"}


def has_register(conn: psycopg.Connection, schema: str, label: str) -> bool:
    """Whether `schema` holds a regsync register (its meta table, of key and value).

    RegisterSchemaError (exit 2) when it holds relations named as the register's tables
    that are not one. The catalogs are read with the statement's own snapshot: to_regclass
    looks names up in the session's cache, which may not yet see a register another
    session created while this one waited for the lock (and then CREATE TABLE failed).
    """
    with server_errors(conn, label):
        rows = conn.execute(
            "SELECT c.relname, c.relkind, ARRAY(SELECT a.attname || ' ' || "
            "format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY c.relname",
            (schema, list(REGISTER_TABLES))).fetchall()
    found = {name: (kind, set(columns)) for name, kind, columns in rows}
    if not found:
        return False
    kind, columns = found.get("meta", ("", set()))
    if kind == "r" and _META_COLUMNS <= columns:
        problem = missing_tables_problem(label, {n for n, (k, _) in found.items() if k == "r"})
        if problem is not None:
            raise RegisterSchemaError(problem)
        return True
    raise RegisterSchemaError(_not_a_register(label, ", ".join(found)))


def _not_a_register(label: str, what: str, kind: str = "tables") -> str:
    return (f"{label}: the schema holds {kind} that are not a regsync register ({what}); "
            f"name another schema")


def _begin_snapshot(conn: psycopg.Connection, snapshot: str | None = None) -> None:
    """Begin a REPEATABLE READ transaction on `conn` (in `snapshot`, one another
    transaction exported, when given) that a server's idle_in_transaction_session_timeout
    does not end while the preview works between its reads."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    if snapshot is not None:  # before any other statement of the transaction
        conn.execute(psql.SQL("SET TRANSACTION SNAPSHOT {}").format(psql.Literal(snapshot)))
    conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")


class PostgresRegister(SQLRegister):
    """A register in a PostgreSQL schema."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection, label: str, schema: str,
                 url: str | None = None) -> None:
        self._conn = conn
        self.label = label
        self.location = location_of(conn, schema, label)  # see Register.location
        self.schema = schema
        self.prefix = f'"{schema}".'
        # To open the extra connections of _read_each (None: reads run on `conn`).
        self._url = url
        self._readers_pool: ReadPool[psycopg.Connection] | None = None
        # Within read_snapshot: the snapshot the main connection exported, and the read
        # connections that have taken it.
        self._snapshot: str | None = None
        self._in_snapshot: set[int] = set()

    @classmethod
    def create(cls, conn: psycopg.Connection, label: str, schema: str,
               url: str | None = None) -> PostgresRegister:
        """Create the register's schema and tables, or use the register another run
        created while this one waited for the lock. RegisterSchemaError (exit 2),
        nothing created, when a name the register needs is another object's."""
        register = cls(conn, label, schema, url)
        with server_errors(conn, label):  # a lost connection; the refusals are below
            try:
                with _transaction(conn, label):
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
                    if not has_register(conn, schema, label):
                        register._create_tables()
            except psycopg.errors.InsufficientPrivilege as exc:
                raise RegisterError(f"{label}: no permission to create the register: "
                                    f"{_first_line(exc)}") from None
            except (psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable,
                    psycopg.errors.DuplicateSchema, psycopg.errors.UniqueViolation) as exc:
                # An index, sequence or type of one of the register's names, or a
                # creator that takes no lock: the transaction was rolled back.
                if has_register(conn, schema, label):
                    return register
                raise RegisterSchemaError(_not_a_register(label, _first_line(exc),
                                                     "objects")) from None
        return register

    def _create_tables(self) -> None:
        conn = self._conn
        # A schema a DBA created (granting USAGE, CREATE on it) is used as it is:
        # CREATE SCHEMA, even IF NOT EXISTS, needs CREATE on the database.
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                        (self.schema,)).fetchone() is None:
            conn.execute(psql.SQL("CREATE SCHEMA {}").format(psql.Identifier(self.schema)))
        for statement in schema_sql("postgresql", self.prefix):
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {self.prefix}meta (key, value) VALUES "
            f"('schema_version', %s), ('register_id', gen_random_uuid()::text), "
            f"('version', '0')", (str(SCHEMA_VERSION),))

    def check_schema_version(self) -> None:
        """RegisterSchemaError unless the register's schema version is this program's."""
        problem = schema_version_problem(self.label, self._meta("schema_version"))
        if problem is not None:
            raise RegisterSchemaError(problem)

    # -- engine hooks ----------------------------------------------------------------

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        with server_errors(self._conn, self.label):
            return self._conn.execute(self._sql(query), params or None)

    def _executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        with server_errors(self._conn, self.label), self._conn.cursor() as cursor:
            cursor.executemany(self._sql(query), list(rows))

    def _insert_id(self, query: str, params: Sequence[Any]) -> int:
        row = self._execute(query + " RETURNING id", params).fetchone()
        return int(row[0])

    def _customer_columns(self) -> set[str]:
        rows = self._rows("SELECT column_name FROM information_schema.columns "
                          "WHERE table_schema = ? AND table_name = 'customers'",
                          (self.schema,))
        return {r[0] for r in rows}

    def _values_table(self) -> str:
        return "unnest(?::text[]) AS j(value)"

    def _list_param(self, values: list[str]) -> Any:
        # A text[] literal built here: psycopg adapts a list item by item in Python
        # (900k customer numbers: 1.5 s); the server parses the literal in C.
        return "{" + ",".join(
            '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"

    def _numbers_in(self) -> str:
        return "= ANY(?)"

    def _frame(self, query: str, params: Sequence[Any], schema: dict[str, Any],
               chunk_rows: int = 100_000) -> pl.DataFrame:
        """A query's rows as one frame of `schema`, through COPY ... TO STDOUT as CSV
        that polars parses: no Python tuple per row (the large case's 720k customers:
        3.9 s instead of 6.2 s). COPY's CSV writes NULL as an empty field and an empty
        string as "", which polars reads back as null and ''."""
        buffer = io.BytesIO()
        with (server_errors(self._conn, self.label), self._conn.cursor() as cursor,
              cursor.copy(f"COPY ({self._sql(query)}) TO STDOUT (FORMAT csv)",
                          params or None) as copy):
            for data in copy:
                buffer.write(data)
        if not buffer.tell():
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, schema=schema)

    def _stream(self, query: str, params: list[object],
                chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        # A server-side cursor: the server hands the rows over a chunk at a time.
        with (server_errors(self._conn, self.label), self._conn.transaction(),
              self._conn.cursor(name="regsync_export") as cursor):
            cursor.execute(self._sql(query), params or None)
            while rows := cursor.fetchmany(chunk_rows):
                yield rows

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction holding the register's advisory lock.

        Like SQLite's busy timeout: it waits up to _LOCK_TIMEOUT for another committer,
        then gives up with exit 3.
        """
        with server_errors(self._conn, self.label), _transaction(self._conn, self.label):
            self._conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
            self._wait_for("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,),
                           f"{self.label}: register busy (another run is committing); "
                           f"try again")
            yield

    def _wait_for(self, statement: str, params: Sequence[Any], busy: str) -> None:
        """Run a statement that waits for a lock: RegisterBusyError (exit 3) with the
        message `busy` when the wait ends at regsync's lock_timeout, or sooner at a
        role's statement_timeout (the server's words for either would not say that
        another run holds the register)."""
        try:
            self._conn.execute(statement, params or None)
        except psycopg.errors.LockNotAvailable:
            raise RegisterBusyError(busy) from None
        except psycopg.errors.QueryCanceled as exc:
            if "statement timeout" not in str(exc):
                raise
            raise RegisterBusyError(busy) from None

    def _add_columns(self, columns: Iterable[str], check: Callable[[], None]) -> None:
        """Add the customers columns of custom fields the table lacks, in a short
        transaction of its own before the commit's (RegisterBusyError, exit 3, when
        readers or a committer hold the table longer than _LOCK_TIMEOUT).

        ALTER TABLE holds the table's strongest lock until its transaction ends: in the
        commit's, every reader (export, preview, batches) would wait for the whole
        commit. `check` (the commit's stale and already-committed checks) runs first,
        under the commit lock, so a refused commit adds nothing. A column left by a
        commit that then fails otherwise (a full disk, a kill) is harmless: it is
        nullable and empty, and the next commit with that field uses it.
        """
        missing = self._missing_columns(columns)
        if not missing:
            return
        busy = (f"{self.label}: register busy (another run is reading or committing, and "
                f"adding the column of {', '.join(missing)} needs the customers table to "
                f"itself for a moment); try again")
        with server_errors(self._conn, self.label), _transaction(self._conn, self.label):
            self._conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
            # A committer is waited for here, holding no reader up: an ALTER TABLE
            # waiting for its lock queues every later reader behind it.
            self._wait_for("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,), busy)
            check()
            for name in missing:  # IF NOT EXISTS: another run may have added it
                self._wait_for(f"ALTER TABLE {self._t('customers')} "
                               f"ADD COLUMN IF NOT EXISTS {_ident(name)} TEXT", (), busy)

    # -- bulk paths ------------------------------------------------------------------

    def _copy(self, table: str, frame: pl.DataFrame) -> None:
        """COPY a frame into `table` (columns by name) as CSV: no per-row round trips."""
        if frame.is_empty():
            return
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        buffer = io.BytesIO()
        # polars writes null as an empty field and an empty string as "": COPY's CSV
        # format reads them back as NULL and '' respectively.
        frame.write_csv(buffer, include_header=False)
        data = buffer.getbuffer()
        with server_errors(self._conn, self.label), self._conn.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            for start in range(0, len(data), _COPY_CHUNK):
                copy.write(data[start:start + _COPY_CHUNK])

    def _upsert_blocks(self, blocks: pl.DataFrame) -> None:
        self._execute("CREATE TEMP TABLE IF NOT EXISTS regsync_blocks "
                      "(block TEXT, customer_number TEXT, name TEXT) ON COMMIT DELETE ROWS")
        self._execute("DELETE FROM pg_temp.regsync_blocks")
        self._copy("pg_temp.regsync_blocks", blocks.select("block", "customer_number", "name"))
        self._execute(f"INSERT INTO {self._t('name_blocks')} (block, customer_number, name) "
                      f"SELECT block, customer_number, name FROM pg_temp.regsync_blocks "
                      f"ON CONFLICT (block, customer_number) DO UPDATE SET name = EXCLUDED.name")

    def _append_rows(self, table: str, rows: pl.DataFrame) -> None:
        self._copy(self._t(table), rows)

    def _delete_rows(self, table: str, keys: pl.DataFrame) -> None:
        # The keys COPYed into a staging table, then one DELETE ... USING: a statement
        # per row made reverting 200,000 inserted customers spend 10 s in DELETEs.
        if keys.is_empty():
            return
        self._execute("DROP TABLE IF EXISTS pg_temp.regsync_delete")
        self._execute(f"CREATE TEMP TABLE regsync_delete "
                      f"({', '.join(f'{_ident(c)} TEXT' for c in keys.columns)}) ON COMMIT DROP")
        self._copy("pg_temp.regsync_delete", keys)
        self._execute("ANALYZE pg_temp.regsync_delete")
        match = " AND ".join(f"t.{_ident(c)} = d.{_ident(c)}" for c in keys.columns)
        self._execute(f"DELETE FROM {self._t(table)} t USING pg_temp.regsync_delete d "
                      f"WHERE {match}")

    def _insert_blocks(self, blocks: pl.DataFrame) -> None:
        # Straight into the table: no staging, no ON CONFLICT (which costs 2.5x a plain
        # insert). A block left over for a new number would stop the commit, not hide.
        self._append_rows("name_blocks", blocks.select("block", "customer_number", "name"))

    def _update_rows(self, columns: list[str], wide: pl.DataFrame, batch_id: int) -> None:
        # Every changed customer once, into a staging table, then one UPDATE ... FROM
        # for all of them. PostgreSQL compares indexed values itself (an unchanged one
        # costs no index entry), so every column takes CASE WHEN changed THEN value.
        staged = [f'"v{i}" {"BIGINT" if c == "group_id" else "TEXT"}, "m{i}" BOOLEAN'
                  for i, c in enumerate(columns)]
        # pg_temp's, by name: unqualified, a DROP before the temporary table exists
        # would find a table of that name in the search path (QA: public's).
        self._execute("DROP TABLE IF EXISTS pg_temp.regsync_update")
        self._execute(f"CREATE TEMP TABLE regsync_update (customer_number TEXT, "
                      f"{', '.join(staged)}) ON COMMIT DROP")
        self._copy("pg_temp.regsync_update", wide)
        self._execute("ANALYZE pg_temp.regsync_update")
        sets = ", ".join(f'"{c}" = CASE WHEN s."m{i}" THEN s."v{i}" ELSE c."{c}" END'
                         for i, c in enumerate(columns))
        self._execute(
            f'UPDATE {self._t("customers")} c SET {sets}, updated_batch = ? '
            f"FROM pg_temp.regsync_update s WHERE c.customer_number = s.customer_number",
            (batch_id,))

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Every read within, on the main connection and on each read connection, sees
        the register as it was when the block began: one REPEATABLE READ transaction
        whose snapshot the read connections take (pg_export_snapshot), as pg_dump's
        workers do. So a preview is never refused for a commit that landed while it
        read (QA: two nightly jobs on one register). Nested or inside a transaction, it
        changes nothing."""
        if self._snapshot is not None or not self._idle():
            yield
            return
        try:
            # In the try: a stop between BEGIN and the export must not leave the
            # connection in a transaction (review).
            with server_errors(self._conn, self.label):
                _begin_snapshot(self._conn)
                row = self._conn.execute("SELECT pg_export_snapshot()").fetchone()
            self._snapshot = str(row[0]) if row else None
            yield
        except BaseException:
            # A stop (SIGTERM, Ctrl-C) or an error in a read: that is what to tell. A
            # stop inside a COPY can leave the connection mid-command, where ROLLBACK
            # fails ("another command is already in progress", QA: exit 70 for a
            # systemd stop); such a connection is closed, which ends its transaction.
            self._end_snapshot(stopping=True)
            raise
        self._end_snapshot(stopping=False)

    def _end_snapshot(self, stopping: bool) -> None:
        """Leave the read snapshot: close the read connections and end the main
        connection's transaction. `stopping`: an exception is on its way, and an error
        here must not hide it."""
        self._snapshot = None
        # The read connections leave their transactions by closing: a later read
        # opens fresh ones, which see what is committed by then.
        try:
            if self._readers_pool is not None:
                self._readers_pool.close()
        except Exception:
            if not stopping:
                raise
        finally:
            self._readers_pool = None
            self._in_snapshot.clear()
        if self._conn.closed or self._conn.broken:
            return
        if not stopping:
            with server_errors(self._conn, self.label):
                self._conn.execute("ROLLBACK")
            return
        try:
            self._conn.execute("ROLLBACK")
        except Exception:
            self._conn.close()

    def _idle(self) -> bool:
        return self._conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    def _readers(self) -> int:
        # Inside a transaction a read must see its own writes: the main connection only;
        # in a read snapshot, the read connections take the same one.
        shared = self._idle() or self._snapshot is not None
        return READERS if self._url is not None and shared else 1

    def _read_each(self, query: str, params: list[Sequence[Any]],
                   then: Callable[[list[tuple[Any, ...]]], T]) -> list[T]:
        """As SQLRegister's, but several reads run at once, each on a connection of its
        own: the server works on them side by side while this process waits without
        holding Python's lock. Each read is one statement in autocommit mode, as on the
        main connection: each sees the register as committed when it starts."""
        if len(params) < 2 or self._readers() < 2:
            return super()._read_each(query, params, then)
        if self._readers_pool is None:
            # The register's own connection reads too: it is idle meanwhile.
            self._readers_pool = ReadPool(self._reader, self._read_on,
                                          lambda conn: conn.close(), self._readers(),
                                          lent=[self._conn])
        return self._readers_pool.map(query, params, then)

    def _reader(self) -> psycopg.Connection | None:
        """Another connection to read on; None when none can be opened (a role's
        CONNECTION LIMIT, a server at max_connections): the reads then share the
        connections open, and the command goes on."""
        assert self._url is not None
        try:
            return connect(self._url, self.schema)[0]
        except RegisterError:
            return None

    def _read_on(self, conn: psycopg.Connection, query: str,
                 params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with server_errors(conn, self.label):
            if (self._snapshot is not None and conn is not self._conn
                    and id(conn) not in self._in_snapshot):
                _begin_snapshot(conn, self._snapshot)
                self._in_snapshot.add(id(conn))
            return conn.execute(self._sql(query), params or None).fetchall()

    def close(self) -> None:
        """Close the connections."""
        if self._readers_pool is not None:
            self._readers_pool.close()
            self._readers_pool = None
        self._conn.close()
