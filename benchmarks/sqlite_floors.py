"""The least SQLite work a case's preview and commit need, next to regsync's own figures.

    python benchmarks/sqlite_floors.py --data /work/data/large --plan PLAN --runs 3

PLAN is a plan of `DATA/source.csv` against `DATA/register.db` (from `regsync preview`).
Each floor runs on a fresh copy of the register, in this process, with plain sqlite3 and
polars, using the fastest way this project has found for each step:

- read_matched: what the preview's read of the matched customers reads (every field,
  the group's name through the groups table, the state columns locked_by and
  invalidated) for the customers the plan matched (Modified and No change rows), by
  customer number: sorted keys through json_each, one JSON array per column, 100k keys
  per query, as the preview does. A preview must read at least these values to compare.
- write_customers: the plan's New customers inserted (group ids, created and updated
  batch set) and its changed fields updated (one UPDATE per changed customer, columns
  set together, in blocks of 20k neighbouring keys as regsync does), missing groups
  created, one transaction, COMMIT. No history, no name blocks, no batch row: what a
  register without history or a duplicate scan would still have to write.
- write_customers_history: the same plus the history rows regsync writes (one per
  changed field, one per new customer with its snapshot).

The copy of the register is flushed to disk before each floor, so no floor pays for
writing out the copy. Prints wall and CPU seconds per floor and run, then the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sync.commit import changeset
from sync.commit_rows import in_memory
from sync.plan import Plan
from sync.writers.register.sql_commit import _UPDATE_BLOCK
from sync.writers.register.sql_reads import _tuples

_KEYS_PER_QUERY = 100_000
_CACHE_KIB = 256 * 1024  # the page cache regsync's SQLite engine uses


def connect(path: Path) -> sqlite3.Connection:
    """A connection as regsync opens one: autocommit, the same page cache."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    return conn


def read_matched(conn: sqlite3.Connection, numbers: list[str], columns: list[str]) -> int:
    """Read `columns` (of customers c, the group's name as g.name) of the customers with
    these numbers; returns the rows read."""
    arrays = ", ".join(f"json_group_array(CAST(k{i} AS TEXT))" for i in range(len(columns)))
    names = ", ".join(f"k{i}" for i in range(len(columns)))
    query = (f"WITH q({names}) AS (SELECT {', '.join(columns)} FROM customers c "
             f"LEFT JOIN groups g ON g.id = c.group_id "
             f"WHERE c.customer_number IN (SELECT value FROM json_each(?))) "
             f"SELECT {arrays} FROM q")
    read = 0
    for start in range(0, len(numbers), _KEYS_PER_QUERY):
        (texts,) = conn.execute(
            query, (json.dumps(numbers[start:start + _KEYS_PER_QUERY]),)).fetchall()
        frame = pl.DataFrame({f"k{i}": pl.Series([t]).str.json_decode(pl.List(pl.String))
                              .explode(empty_as_null=False) for i, t in enumerate(texts)})
        read += frame.height
    return read


def _group_ids(conn: sqlite3.Connection, groups: tuple[str, ...]) -> dict[str, int]:
    """Group ids by lower-case name, creating the groups the change set needs."""
    ids = {key: gid for key, gid in conn.execute("SELECT name_key, id FROM groups")}
    for name in groups:
        if name.lower() not in ids:
            ids[name.lower()] = int(conn.execute(
                "INSERT INTO groups (name, name_key, created_batch) VALUES (?, ?, 0)",
                (name, name.lower())).lastrowid or 0)
    return ids


@dataclass(frozen=True)
class Whole:
    """A plan's inserts and updates, all at once."""

    inserts: pl.DataFrame
    updates: pl.DataFrame


def write_customers(conn: sqlite3.Connection, groups: tuple[str, ...], changes: Whole,
                    history: bool) -> None:
    """Insert the New customers and update the changed fields of all the plan's parts
    (`changes`) in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    ids = _group_ids(conn, groups)
    group_id = pl.col("customer_group").str.to_lowercase().replace_strict(
        ids, default=None, return_dtype=pl.Int64)
    inserts = changes.inserts.with_columns(
        group_id.alias("group_id"), pl.lit(0).alias("created_batch"),
        pl.lit(0).alias("updated_batch")).drop("customer_group")
    inserts = inserts.select([c for c in inserts.columns
                              if inserts[c].null_count() < inserts.height])
    conn.executemany(f"INSERT INTO customers ({', '.join(inserts.columns)}) "
                     f"VALUES ({', '.join('?' * inserts.width)})", _tuples(inserts))
    updates = changes.updates.with_columns(
        pl.when(pl.col("field") == "customer_group").then(pl.lit("group_id"))
        .otherwise(pl.col("field")).alias("column"),
        pl.when(pl.col("field") == "customer_group")
        .then(pl.col("new").str.to_lowercase().replace_strict(
            ids, default=None, return_dtype=pl.Int64).cast(pl.String))
        .otherwise(pl.col("new")).alias("value"))
    wide = updates.pivot("column", index="customer_number", values="value",
                         aggregate_function="last").sort("customer_number")
    columns = [c for c in wide.columns if c != "customer_number"]
    for start in range(0, wide.height, _UPDATE_BLOCK):
        block = wide.slice(start, _UPDATE_BLOCK)
        for key, part in block.group_by([pl.col(c).is_not_null().alias(f"m_{c}")
                                         for c in columns], maintain_order=True):
            changed = [c for c, on in zip(columns, key, strict=True) if on]
            if changed:
                conn.executemany(
                    f"UPDATE customers SET {', '.join(f'{c} = ?' for c in changed)}, "
                    f"updated_batch = 0 WHERE customer_number = ?",
                    _tuples(part.select(*changed, "customer_number")))
    if history:
        now, columns_sql = "2026-11-23T00:00:00+00:00", (
            "batch_id, customer_number, action, field, old_value, new_value, changed_at, "
            "actor")
        snapshots = changes.inserts.select(
            "customer_number",
            pl.struct(pl.exclude("name_key")).struct.json_encode().alias("snapshot"))
        conn.executemany(f"INSERT INTO history ({columns_sql}) VALUES (0, ?, 'insert', "
                         f"NULL, NULL, ?, '{now}', 'floor')", _tuples(snapshots))
        conn.executemany(f"INSERT INTO history ({columns_sql}) VALUES (0, ?, 'update', ?, "
                         f"?, ?, '{now}', 'floor')",
                         _tuples(changes.updates.filter(pl.col("field") != "name_key")
                                 .select("customer_number", "field", "old", "new")))
    conn.execute("COMMIT")


def fresh_copy(source: Path, copy: Path) -> None:
    """Copy the register and flush the copy to disk, so no timed COMMIT writes it out."""
    shutil.copyfile(source, copy)
    with copy.open("rb+") as handle:
        os.fsync(handle.fileno())


def timed(step: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    plan = Plan.load(args.plan)
    matched = plan.rows.filter(pl.col("status").is_in(["Modified", "No change"]))
    numbers = sorted(matched["customer_number"].unique().to_list())
    columns = ["c.customer_number", *[
        "g.name" if f == "customer_group" else f"c.{f}"
        for f in plan.header.fields if f != "customer_number"], "c.locked_by", "c.invalidated"]
    # regsync's own step, not timed: the floors take it as given, all parts at once
    changes = changeset(in_memory(plan, part_rows=plan.rows.height))
    if not plan.header.counts["new"] or not plan.header.counts["modified"]:
        raise SystemExit("the floors need a plan with New and Modified rows")
    whole = Whole(inserts=pl.concat(changes.inserts.frames, how="vertical_relaxed"),
                  updates=pl.concat(changes.updates.frames, how="vertical_relaxed"))
    figures: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        copy = Path(tmp) / "register.db"
        for run in range(args.runs):
            fresh_copy(args.data / "register.db", copy)
            conn = connect(copy)
            figures.setdefault("read_matched", []).append(
                timed(lambda c=conn: read_matched(c, numbers, columns)))
            for name, history in (("write_customers", False),
                                  ("write_customers_history", True)):
                conn.close()
                fresh_copy(args.data / "register.db", copy)
                conn = connect(copy)
                figures.setdefault(name, []).append(
                    timed(lambda c=conn, h=history: write_customers(c, changes.groups, whole, h)))
            conn.close()
            print(f"run {run + 1}: " + ", ".join(
                f"{k} {v[-1][0]:.2f} s ({v[-1][1]:.2f} s CPU)" for k, v in figures.items()),
                flush=True)
    print(f"medians over {args.runs} runs ({len(numbers):,} matched customers read; "
          f"{plan.header.counts}): " + ", ".join(
              f"{k} {statistics.median(w for w, _ in v):.2f} s "
              f"({statistics.median(c for _, c in v):.2f} s CPU)" for k, v in figures.items()))


if __name__ == "__main__":
    main()
