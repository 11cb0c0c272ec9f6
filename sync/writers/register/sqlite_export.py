"""SQL for reading an export selection out of an SQLite register, a chunk at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import polars as pl

from sync.writers.register.base import Selection

# A register column that later issues may add; rows marked in it are left out by default.
INVALIDATED = "invalidated"


def select_sql(fields: tuple[str, ...], columns: set[str],
               selection: Selection) -> tuple[str, list[object]]:
    """The SELECT (and its parameters) giving `fields` of the selected customers by id.

    `columns` are the customers table's columns; a field the register has no column for
    yet (a custom field never imported) reads as empty.
    """
    select = []
    for name in fields:
        if name == "customer_group":
            select.append("g.name")
        elif name in columns:
            select.append(f"c.{name}")
        else:
            select.append("NULL")
    where, params = _conditions(columns, selection)
    sql = (f"SELECT {', '.join(select)} FROM customers c "
           f"LEFT JOIN groups g ON g.id = c.group_id "
           f"WHERE {' AND '.join(where) or '1'} ORDER BY c.id")
    return sql, params


def _conditions(columns: set[str], selection: Selection) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if selection.group is not None:
        where.append("g.name_key = ?")
        params.append(selection.group.casefold())
    if selection.customer_type is not None:
        where.append("c.customer_type = ?")
        params.append(selection.customer_type)
    for name, value in selection.where:
        if name == "customer_group":
            where.append("g.name_key = ?" if value else "c.group_id IS NULL")
            params.extend([value.casefold()] if value else [])
        elif name not in columns:
            where.append("1" if not value else "0")  # no column: every value is empty
        elif value:
            where.append(f"c.{name} = ?")
            params.append(value)
        else:
            where.append(f"(c.{name} IS NULL OR c.{name} = '')")
    if selection.changed_since_batch is not None:
        where.append("c.updated_batch >= ?")
        params.append(selection.changed_since_batch)
    if selection.changed_since is not None:
        # updated_batch is the last batch that inserted or changed the customer.
        where.append("c.updated_batch IN (SELECT id FROM batches WHERE committed_at >= ?)")
        params.append(selection.changed_since)
    if selection.customers is not None:
        where.append("c.customer_number IN (SELECT v FROM temp.export_numbers)")
    if INVALIDATED in columns and not selection.include_invalidated:
        where.append(f"coalesce(c.{INVALIDATED}, '') IN ('', '0', 0)")
    return where, params


def stage_numbers(conn: sqlite3.Connection, numbers: tuple[str, ...]) -> None:
    """Put the `--customers` numbers in a temp table (a read-only register allows it)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS export_numbers (v TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.export_numbers")
    conn.executemany("INSERT OR IGNORE INTO temp.export_numbers VALUES (?)",
                     ((n,) for n in numbers))


def chunks(conn: sqlite3.Connection, sql: str, params: list[object],
           fields: tuple[str, ...], chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Run `sql` and yield its rows as String frames of at most `chunk_rows` rows.

    One cursor, read with fetchmany: SQLite steps through the result as it is read, so
    only one chunk is in memory. An empty result yields one empty frame (the header).
    """
    schema = {name: pl.String for name in fields}
    cursor = conn.execute(sql, params)
    try:
        first = True
        while rows := cursor.fetchmany(chunk_rows):
            first = False
            yield pl.DataFrame(rows, schema=schema, orient="row")
        if first:
            yield pl.DataFrame(schema=schema)
    finally:
        cursor.close()
