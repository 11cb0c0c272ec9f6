"""A whole register copied into a new one, on either engine (`regsync copy-register`).

The way a register outgrows its file: everything an export leaves out comes along
(batches, history, locks, invalidated customers, groups, custom fields, the version),
so reverts, `history` and a job's duplicate check work on the copy as on the original.
The copy is all or nothing: an SQLite copy is written to a file beside the target and
linked in when complete; a PostgreSQL copy creates its tables and fills them in one
transaction. The copy is a register of its own (a new register id): a plan made
against the original is refused there, as a plan made against any other register is.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sync.errors import RegisterError, UsageError
from sync.output_paths import remove_abandoned_temporaries
from sync.types import Progress
from sync.writers.register.sql import SQLRegister
from sync.writers.register.sql_reads import _ident
from sync.writers.register.sqlite import SQLiteRegister, file_created, sqlite_path
from sync.writers.register.urls import check_url, is_postgres_url

# Each table in the order it is written, with the columns that order its rows.
_TABLES: tuple[tuple[str, str], ...] = (
    ("groups", "id"), ("customers", "id"), ("name_blocks", "block, customer_number"),
    ("batches", "id"), ("history", "id"))
# The meta rows a copy takes from the original (the copy has its own register id, and
# the schema version it was made with).
_OWN_META = ("register_id", "schema_version")
# The whole-number columns of each table; every other column is text (a custom field
# named `version` or `reverts` included: review).
_INTEGER_COLUMNS: dict[str, frozenset[str]] = {
    "groups": frozenset({"id", "created_batch"}),
    "customers": frozenset({"id", "group_id", "created_batch", "updated_batch"}),
    "name_blocks": frozenset(),
    "batches": frozenset({"id", "version", "reverts", "reverted_by"}),
    "history": frozenset({"id", "batch_id"}),
}
_CHUNK_ROWS = 50_000
COPY_STEPS = tuple(f"copying {table}" for table, _ in _TABLES)


@dataclass(frozen=True)
class CopyInfo:
    """What a copy wrote: the rows of each table, and the copy's register id."""

    rows: dict[str, int]
    register_id: str
    version: int
    label: str  # the copy, as messages name it (a PostgreSQL copy: server, database, schema)


def copy_register(source: SQLRegister, target_url: str,
                  progress: Progress | None = None) -> CopyInfo:
    """Copy the register `source` (which must exist) into a new register at
    `target_url`, all or nothing. UsageError (exit 2) when a register is there already.
    A PostgreSQL target's schema is its URL's `?schema=` (else `regsync`): `--schema`
    names the original's. `progress`, when given, is called as each table's copy begins
    and every _CHUNK_ROWS rows, with the rows copied so far."""
    check_url(target_url)
    if is_postgres_url(target_url):
        with _one_state(source):
            return _into_postgres(source, target_url, progress)
    path = sqlite_path(target_url)
    if path.is_dir():
        raise RegisterError(f"{path}: the copy's path is a folder; name the new register's "
                            f"file (e.g. {path / 'register.db'})")
    if not path.parent.is_dir():
        raise RegisterError(f"{path}: its folder does not exist; nothing was written")
    if file_created(path):
        raise _there_already(str(path), "a file")
    # A copy killed outright (SIGKILL, a power cut) left its file beside the target.
    remove_abandoned_temporaries(path, r"\.copy(?:-journal)?")
    with _one_state(source):
        return _into_sqlite(source, path, progress)


def _there_already(label: str, what: str = "a register") -> UsageError:
    return UsageError(f"{label}: {what} is there already; copy into a new file or an "
                      f"empty schema (nothing was written)")


@contextmanager
def _one_state(source: SQLRegister) -> Iterator[None]:
    """Every read of `source` within sees one state of it: a PostgreSQL snapshot, or an
    SQLite read transaction (a commit meanwhile waits, as for any reader)."""
    if isinstance(source, SQLiteRegister):
        source._execute("BEGIN")
        try:
            yield
        finally:
            source._execute("COMMIT")
    else:
        with source.read_snapshot():
            yield


def _into_sqlite(source: SQLRegister, path: Path, progress: Progress | None) -> CopyInfo:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.copy")
    try:
        try:
            target = SQLiteRegister.open(temp, create=True)
        except RegisterError as exc:  # named by the file the user asked for
            raise RegisterError(exc.message.replace(str(temp), str(path))) from None
        target.label = str(path)
        try:
            with target._transaction():
                info = _fill(source, target, progress)
        finally:
            target.close()
        try:
            os.link(temp, path)  # never over a file: a register made meanwhile stays
        except FileExistsError:
            if file_created(path):
                raise _there_already(str(path), "a file") from None
            os.replace(temp, path)  # an empty file: a register not yet created
        except OSError:  # no hard links here (FAT, some shares)
            if file_created(path):
                raise _there_already(str(path), "a file") from None
            os.replace(temp, path)
        return info
    finally:
        for leftover in (temp, Path(f"{temp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


def _into_postgres(source: SQLRegister, url: str, progress: Progress | None) -> CopyInfo:
    from sync.writers.register.postgres import (
        PostgresRegister,
        check_database,
        connect,
        has_register,
    )

    conn, schema, label = connect(url, None)
    try:
        check_database(conn, label, writing=True)
        target = PostgresRegister(conn, label, schema, url=url)
        # The schema, the tables and every row in one transaction: a copy that fails
        # (or is stopped) leaves nothing, not even an empty register.
        with target._transaction():
            if has_register(conn, schema, label):
                raise _there_already(label)
            target._create_tables()
            info = _fill(source, target, progress)
            for table in ("groups", "customers", "batches", "history"):
                # Ids were copied as they were: the next row takes the one after them.
                target._execute(
                    f"SELECT setval(pg_get_serial_sequence('{target._t(table)}', 'id'), "
                    f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {target._t(table)}")
        return info
    finally:
        if not conn.closed:
            conn.close()


def _fill(source: SQLRegister, target: SQLRegister, progress: Progress | None) -> CopyInfo:
    """Copy every row of `source` into the empty register `target`, in the caller's
    transaction; check each table's row count against the original's."""
    for column in source.custom_columns():
        target._execute(f"ALTER TABLE {target._t('customers')} ADD COLUMN {_ident(column)} TEXT")
    # The plain indexes are built once the rows are in (one sorted build each, not an
    # insert per row: 1M customers and 2M history rows into SQLite, 31 s -> 27 s).
    indexes = _plain_indexes(target)
    for name, _ in indexes:
        target._execute(f"DROP INDEX {target.prefix}{_ident(name)}")
    rows: dict[str, int] = {}
    for number, (table, order) in enumerate(_TABLES, start=1):
        columns = _columns(source, table)
        whole = _INTEGER_COLUMNS[table]
        copied = 0
        step = COPY_STEPS[number - 1]
        if progress is not None:
            progress(f"{step}: 0", number, len(_TABLES))
        query = (f"SELECT {', '.join(map(_ident, columns))} FROM {source._t(table)} "
                 f"ORDER BY {order}")
        for chunk in source._stream(query, [], _CHUNK_ROWS):
            target._append_rows(table, pl.DataFrame(
                chunk, orient="row", schema={c: pl.Int64 if c in whole else pl.String
                                             for c in columns}))
            copied += len(chunk)
            if progress is not None:
                progress(f"{step}: {copied:,}", number, len(_TABLES))
        rows[table] = copied
        count = f"SELECT COUNT(*) FROM {target._t(table)}"
        if int(target._rows(count)[0][0]) != copied:
            raise RegisterError(f"{target.label}: the copy of {table} holds other rows than "
                                f"were read; nothing was written")
    for _, sql in indexes:
        target._execute(sql)
    meta = source._rows(f"SELECT key, value FROM {source._t('meta')} ORDER BY key")
    for key, value in meta:
        if key in _OWN_META:
            continue
        target._execute(f"DELETE FROM {target._t('meta')} WHERE key = ?", (key,))
        target._execute(f"INSERT INTO {target._t('meta')} (key, value) VALUES (?, ?)",
                        (key, value))
    register_id = target.register_id()
    assert register_id is not None
    return CopyInfo(rows=rows, register_id=register_id, version=target.version(),
                    label=target.label)


def _columns(source: SQLRegister, table: str) -> list[str]:
    """The columns of `source`'s `table` (customers' custom fields included)."""
    cursor = source._execute(f"SELECT * FROM {source._t(table)} LIMIT 0")
    return [d[0] for d in cursor.description]


def _plain_indexes(target: SQLRegister) -> list[tuple[str, str]]:
    """(name, CREATE statement) of `target`'s indexes that enforce nothing (not a
    primary key's or a unique constraint's)."""
    if isinstance(target, SQLiteRegister):
        return [(name, sql) for name, sql in target._rows(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            if not sql.upper().startswith("CREATE UNIQUE")]
    return [(name, sql) for name, sql in target._rows(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ?",
        (target.schema,)) if not sql.upper().startswith("CREATE UNIQUE")]
