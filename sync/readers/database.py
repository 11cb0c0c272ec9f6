"""Read a database table or query (SQLite or PostgreSQL) as a source: every cell text.

The column names are the header and rows are numbered like a sheet's (the first data
row is row 2). PostgreSQL values arrive in the server's own text form (numeric `2.50`,
dates ISO, booleans `t`/`f`); SQLite values are turned into the text a person would
type (an integral REAL 100.0 is `100`). A `table` is read sorted by all its columns,
so its row numbers are stable from run to run; a `query` keeps its own order.

The checksum is a SHA-256 of the header and the rows in sorted order: the same content
gives the same checksum whatever order the database returns rows in.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sync.errors import RegisterError, SourceError, first_line
from sync.readers.columnar import EXACT_FLOAT32, float32_text
from sync.readers.table import (
    EXACT_FLOATS,
    SourceTable,
    blank_to_null,
    compose_letters,
    drop_blank_rows,
    imprecise_number_text,
)
from sync.writers.register.urls import check_unambiguous, redact_url, scrub

_IDENTIFIER_PART = re.compile(r'^[^"\x00]+$')


@dataclass(frozen=True)
class DatabaseRead:
    """A table read from a database: the rows, their checksum, and a safe label."""

    table: SourceTable
    checksum: str
    label: str


def read_database(db: str, *, table: str | None = None,
                  query: str | None = None) -> DatabaseRead:
    """Read `table` (optionally schema-qualified) or `query` from `db` as text cells.

    `db` is `sqlite:///path` or `postgresql://...`. The label names the source without
    any password (it is stored in the register's batches). Raises SourceError with one
    line when the database can't be reached or the table or query can't be read.
    """
    if (table is None) == (query is None):
        raise ValueError("give exactly one of table or query")
    try:
        check_unambiguous(db)
    except RegisterError as exc:
        raise SourceError(exc.message) from None
    label = f"{redact_url(db)} " + (f"table {table}" if table else
                                f"query {' '.join(str(query).split())}")
    sql = f"SELECT * FROM {_quote(table)}" if table else str(query)
    if db.startswith("sqlite:///"):
        headers, columns = _read_sqlite(Path(db.removeprefix("sqlite:///")), sql, label)
    elif db.startswith(("postgresql://", "postgres://")):
        headers, columns = _read_postgres(db, sql, label)
    else:
        raise SourceError(f"{db}: expected sqlite:///path or postgresql://...")
    names = [f"c{i}" for i in range(len(headers))]
    frame = pl.DataFrame({n: pl.Series(n, col, dtype=pl.String)
                          for n, col in zip(names, columns, strict=True)})
    if table is not None and names:
        frame = frame.sort(names, nulls_last=True)
    frame = frame.with_columns(blank_to_null(n) for n in names).with_row_index(
        "_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    checksum = _checksum(headers, frame.drop("_row"))
    frame, skipped = drop_blank_rows(frame, names)
    source = SourceTable(path=Path(label), format="table", encoding=None, delimiter=None,
                         header_row=1, headers=headers, frame=frame, skipped=skipped)
    compose_letters(source)
    return DatabaseRead(table=source, checksum=checksum, label=label)


def _quote(table: str) -> str:
    parts = table.split(".")
    if not all(_IDENTIFIER_PART.match(p) for p in parts):
        raise SourceError(f"table {table!r}: not a table name (schema.table)")
    return ".".join(f'"{p}"' for p in parts)


def _read_sqlite(path: Path, sql: str, label: str) -> tuple[list[str], list[list[Any]]]:
    if not path.is_file():
        raise SourceError(f"{label}: no SQLite database at {path}")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"{label}: cannot open ({exc})") from None
    try:
        cursor = conn.execute(sql)
        headers = [str(d[0]) for d in cursor.description or ()]
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise SourceError(f"{label}: cannot be read ({exc})") from None
    finally:
        conn.close()
    columns = [[_sqlite_text(row[i]) for row in rows] for i in range(len(headers))]
    return headers, columns


def _sqlite_text(value: Any) -> str | None:
    """An SQLite value as the text a person would type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    return str(value)


def _read_postgres(db: str, sql: str, label: str) -> tuple[list[str], list[list[Any]]]:
    try:
        import psycopg  # only needed for PostgreSQL sources

        from sync.writers.register.postgres import bound_lock_waits
    except ImportError:
        raise SourceError(f"{label}: PostgreSQL sources need psycopg; install "
                          f"'psycopg[binary]'") from None

    try:
        # UTF-8 whatever PGCLIENTENCODING says: a narrower client encoding can't carry
        # every name the server holds.
        with psycopg.connect(db, connect_timeout=10, client_encoding="UTF8") as conn, \
                conn.cursor() as cursor:
            conn.read_only = True
            bound_lock_waits(conn)
            cursor.execute(sql)
            result = cursor.pgresult
            if result is None or cursor.description is None:
                raise SourceError(f"{label}: the query returns no rows")
            # The raw text-format values, exactly as the server sends them: no Python
            # type conversion, so nothing is reformatted on the way.
            headers = [d.name for d in cursor.description]
            encoding = conn.info.encoding
            columns = [[_pg_text(result.get_value(r, c), encoding)
                        for r in range(result.ntuples)]
                       if result.ftype(c) not in _PG_FLOATS else
                       [_pg_float_text(result.get_value(r, c), _PG_FLOATS[result.ftype(c)])
                        for r in range(result.ntuples)]
                       for c in range(result.nfields)]
    except psycopg.Error as exc:
        reason = scrub(first_line(exc), db)
        raise SourceError(f"{label}: cannot be read ({reason})") from None
    return headers, columns


def _pg_text(value: bytes | None, encoding: str) -> str | None:
    return None if value is None else value.decode(encoding)


_PG_FLOATS = {700: EXACT_FLOAT32, 701: EXACT_FLOATS}  # float4's and float8's type oids


def _pg_float_text(value: bytes | None, limit: float) -> str | None:
    """A float4 or float8 column's value (the server's text, `1.2345678901234568e+16`)
    as float_text writes it, with the float4's limit and digits for a float4."""
    if value is None:
        return None
    number = float(value.decode("ascii"))
    if limit == EXACT_FLOAT32 and math.isfinite(number) and abs(number) >= limit:
        # The server's shortest digits read back as a double: the float4 it was first.
        return float32_text(struct.unpack("f", struct.pack("f", number))[0])
    return float_text(number)


def float_text(value: float) -> str | None:
    """A floating-point database value as the columnar reader writes a float: an
    integer below 2**53 in full (exact), from there the scientific form a spreadsheet
    shows (`1.2345678901234568E+16`), which a key field rejects as digits lost (printed
    in full it had digits no one typed, and `1.2345678901234567e+19` passed as a key:
    mutation QA); NaN is an empty cell, an infinity `#NUM!`."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "#NUM!"
    if abs(value) >= EXACT_FLOATS:
        return imprecise_number_text(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _checksum(headers: list[str], frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(repr(headers).encode())
    if frame.height and frame.width:
        # JSON escapes every control character, so the encoding is unambiguous.
        ordered = frame.sort(frame.columns, nulls_last=True)
        lines = ordered.select(
            pl.struct(pl.concat_list(pl.all()).alias("r")).struct.json_encode()).to_series()
        digest.update("\n".join(lines.to_list()).encode())
    return digest.hexdigest()
