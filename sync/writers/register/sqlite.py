"""The SQLite register engine: the embedded default, one file, zero set-up."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from sync.errors import RegisterBusyError, RegisterError, StalePlanError
from sync.types import FIELDS
from sync.writers.register.base import BatchInfo, ChangeSet, KeyField, Selection
from sync.writers.register.sqlite_export import chunks, select_sql, stage_numbers

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_MS = 3000
_KEY_COLUMNS = {"customer_number", "business_id", "name_key"}

# customer_group lives in the groups table; the customers table holds its id.
_PLAIN_FIELDS = tuple(f for f in FIELDS if f != "customer_group")

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created_batch INTEGER
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{f} TEXT" + (" NOT NULL UNIQUE" if f == "customer_number" else "")
               for f in _PLAIN_FIELDS)},
    group_id INTEGER REFERENCES groups(id),
    name_key TEXT,
    created_batch INTEGER,
    updated_batch INTEGER
);
CREATE INDEX customers_business_id ON customers(business_id);
CREATE INDEX customers_name_key ON customers(name_key);
CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    source TEXT,
    checksum TEXT,
    actor TEXT,
    committed_at TEXT NOT NULL,
    counts TEXT NOT NULL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    customer_number TEXT NOT NULL,
    action TEXT NOT NULL,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    changed_at TEXT NOT NULL,
    actor TEXT
);
CREATE INDEX history_customer ON history(customer_number);
CREATE INDEX history_batch ON history(batch_id);
"""


def sqlite_path(url: str) -> Path:
    """The file path of an SQLite register given as a path or `sqlite:///path`."""
    return Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url)


class SQLiteRegister:
    """A register in one SQLite file (or an empty in-memory one for previews)."""

    def __init__(self, conn: sqlite3.Connection, label: str) -> None:
        self._conn = conn
        self._label = label

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool) -> SQLiteRegister:
        """Open the register at `path`.

        With create=False a missing file gives an empty in-memory register (nothing is
        written to disk); an existing one is opened read-only.
        """
        if not path.exists():
            if not create:
                conn = sqlite3.connect(":memory:", isolation_level=None)
                conn.executescript(_SCHEMA)
                return cls(conn, str(path))
            try:
                conn = sqlite3.connect(path, isolation_level=None)
            except sqlite3.Error as exc:
                raise RegisterError(f"{path}: cannot create register: {exc}") from None
            register = cls(conn, str(path))
            register._create()
            return register
        uri = f"file:{path.resolve()}" + ("" if create else "?mode=ro")
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise RegisterBusyError(f"{path}: register busy (another run holds it)") from None
            raise RegisterError(f"{path}: not a regsync register ({exc})") from None
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise RegisterError(
                f"{path}: register schema version {version and version[0]} is not "
                f"{SCHEMA_VERSION}")
        return cls(conn, str(path))

    def _create(self) -> None:
        # executescript commits before it runs, so the script carries its own transaction.
        self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        self._conn.executescript(
            f"BEGIN IMMEDIATE;\n{_SCHEMA}\n"
            f"INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'),"
            f" ('register_id', '{uuid.uuid4()}'), ('version', '0');\nCOMMIT;")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._label)

    # -- reading -------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def register_id(self) -> str | None:
        """The register's identity; None for the empty in-memory stand-in."""
        return self._meta("register_id")

    def version(self) -> int:
        """The commit counter: 0 for a new register, +1 on every commit."""
        return int(self._meta("version") or 0)

    def _with_keys(self, values: Iterable[str]) -> None:
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS lookup_keys (v TEXT PRIMARY KEY)")
        self._conn.execute("DELETE FROM lookup_keys")
        self._conn.executemany("INSERT OR IGNORE INTO lookup_keys VALUES (?)",
                               ((v,) for v in values))

    def lookup(self, key: KeyField, values: pl.Series) -> pl.DataFrame:
        """Customers whose `key` equals one of `values`: columns value, customer_number."""
        if key not in _KEY_COLUMNS:
            raise ValueError(f"not a key column: {key}")
        self._with_keys(values.drop_nulls().unique().to_list())
        rows = self._conn.execute(
            f"SELECT k.v, c.customer_number FROM lookup_keys k "
            f"JOIN customers c ON c.{key} = k.v ORDER BY c.customer_number").fetchall()
        return pl.DataFrame(rows, schema={"value": pl.String, "customer_number": pl.String},
                            orient="row")

    def _columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute("PRAGMA table_info(customers)")}

    def fetch(self, numbers: pl.Series, fields: tuple[str, ...]) -> pl.DataFrame:
        """The register rows of these customers: customer_number plus `fields`."""
        present = self._columns()
        select = []
        for name in fields:
            if name == "customer_number":
                continue
            if name == "customer_group":
                select.append("g.name AS customer_group")
            elif name in present:
                select.append(f"c.{name}")
            else:
                select.append(f"NULL AS {name}")
        self._with_keys(numbers.drop_nulls().unique().to_list())
        rows = self._conn.execute(
            f"SELECT c.customer_number{''.join(', ' + s for s in select)} FROM lookup_keys k "
            f"JOIN customers c ON c.customer_number = k.v "
            f"LEFT JOIN groups g ON g.id = c.group_id").fetchall()
        names = ["customer_number", *[f for f in fields if f != "customer_number"]]
        return pl.DataFrame(rows, schema={n: pl.String for n in names}, orient="row")

    def max_numeric_number(self) -> int | None:
        """The largest all-digit customer_number, compared as integers."""
        rows = self._conn.execute(
            "SELECT customer_number FROM customers WHERE customer_number <> '' "
            "AND customer_number NOT GLOB '*[^0-9]*'").fetchall()
        return max((int(r[0]) for r in rows), default=None)

    def group_names(self) -> pl.DataFrame:
        """Every group: columns name, name_key."""
        rows = self._conn.execute("SELECT name, name_key FROM groups").fetchall()
        return pl.DataFrame(rows, schema={"name": pl.String, "name_key": pl.String},
                            orient="row")

    def names(self) -> pl.DataFrame:
        """Every customer's number and name."""
        rows = self._conn.execute(
            "SELECT customer_number, name FROM customers WHERE name IS NOT NULL").fetchall()
        return pl.DataFrame(rows, schema={"customer_number": pl.String, "name": pl.String},
                            orient="row")

    def export_frame(self, fields: tuple[str, ...],
                     selection: Selection | None = None) -> pl.DataFrame:
        """The selected customers (default: every one), ordered by id, `fields` as columns."""
        return pl.concat(list(self.export_chunks(fields, selection or Selection())))

    def export_chunks(self, fields: tuple[str, ...], selection: Selection,
                      chunk_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """The selected customers, ordered by id, in String frames of at most `chunk_rows`.

        Streams: only one chunk is held at a time. Reads only (a temp table for
        `selection.customers` lives outside the register file).
        """
        if selection.customers is not None:
            stage_numbers(self._conn, selection.customers)
        sql, params = select_sql(fields, self._columns(), selection)
        return chunks(self._conn, sql, params, fields, chunk_rows)

    def history(self) -> pl.DataFrame:
        """The change history, oldest first."""
        rows = self._conn.execute(
            "SELECT batch_id, customer_number, action, field, old_value, new_value, actor "
            "FROM history ORDER BY id").fetchall()
        schema = {"batch_id": pl.Int64, "customer_number": pl.String, "action": pl.String,
                  "field": pl.String, "old_value": pl.String, "new_value": pl.String,
                  "actor": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")

    # -- writing -------------------------------------------------------------------

    def apply(self, changes: ChangeSet, *, plan_id: str, plan_version: int, source: str,
              checksum: str, actor: str, counts: dict[str, int]) -> BatchInfo:
        """Apply a change set in one transaction; StalePlanError if the plan is stale."""
        with self._transaction():
            self._check_not_stale(changes, plan_id, plan_version)
            version = self.version() + 1
            now = datetime.now(UTC).isoformat(timespec="seconds")
            cur = self._conn.execute(
                "INSERT INTO batches (plan_id, version, source, checksum, actor, committed_at,"
                " counts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (plan_id, version, source, checksum, actor, now, json.dumps(counts)))
            batch_id = int(cur.lastrowid or 0)
            self._ensure_columns(changes.inserts.columns)
            created = self._ensure_groups(changes.groups, batch_id)
            self._insert(changes.inserts, batch_id, now, actor)
            self._update(changes.updates, batch_id, now, actor)
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version),))
        return BatchInfo(batch_id=batch_id, version=version, inserted=changes.inserts.height,
                         updated=changes.updates["customer_number"].n_unique(),
                         groups_created=created)

    def _check_not_stale(self, changes: ChangeSet, plan_id: str, plan_version: int) -> None:
        done = self._conn.execute("SELECT id FROM batches WHERE plan_id = ?",
                                  (plan_id,)).fetchone()
        if done is not None:
            raise StalePlanError(f"this plan was already committed as batch {done[0]}; "
                                 f"run preview again")
        if self.version() == plan_version:
            return
        since = self._conn.execute(
            "SELECT DISTINCT h.customer_number FROM history h JOIN batches b "
            "ON b.id = h.batch_id WHERE b.version > ?", (plan_version,)).fetchall()
        changed = {r[0] for r in since}
        hit = changed & (changes.touched | changes.relies_on.get("customer_number", frozenset()))
        if not hit and changed:
            # A key value the plan relied on now belongs to a customer changed since (a
            # customer renamed away from it is the customer the plan touched, seen above).
            self._with_keys(changed)
            for key in ("business_id", "name_key"):
                values = changes.relies_on.get(key, frozenset())
                rows = self._conn.execute(
                    f"SELECT c.customer_number, c.{key} FROM customers c JOIN lookup_keys k "
                    f"ON k.v = c.customer_number").fetchall()
                hit |= {r[0] for r in rows if r[1] in values}
        if hit:
            shown = ", ".join(sorted(hit)[:5])
            raise StalePlanError(
                f"the register changed since this plan was made (customers {shown}); "
                f"run preview again")

    def _ensure_columns(self, columns: Iterable[str]) -> None:
        present = self._columns()
        for name in columns:
            if name not in present and name not in ("customer_group",):
                # Custom fields from the rules: validated as identifiers by sync.rules.
                self._conn.execute(f"ALTER TABLE customers ADD COLUMN {name} TEXT")

    def _ensure_groups(self, groups: tuple[str, ...], batch_id: int) -> tuple[str, ...]:
        existing = {r[0] for r in self._conn.execute("SELECT name_key FROM groups")}
        created = []
        for name in groups:
            key = name.casefold()
            if key not in existing:
                self._conn.execute(
                    "INSERT INTO groups (name, name_key, created_batch) VALUES (?, ?, ?)",
                    (name, key, batch_id))
                existing.add(key)
                created.append(name)
        return tuple(created)

    def _group_ids(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._conn.execute("SELECT name_key, id FROM groups")}

    def _insert(self, inserts: pl.DataFrame, batch_id: int, now: str, actor: str) -> None:
        if inserts.is_empty():
            return
        group_ids = self._group_ids()
        values = [c for c in inserts.columns if c not in ("customer_group", "name_key")]
        columns = [*values, "name_key", "group_id", "created_batch", "updated_batch"]
        rows = []
        history = []
        for record in inserts.iter_rows(named=True):
            group = record.get("customer_group")
            group_id = group_ids[group.casefold()] if group else None
            rows.append((*[record[c] for c in values], record.get("name_key"), group_id,
                         batch_id, batch_id))
            snapshot = {k: v for k, v in record.items() if v is not None and k != "name_key"}
            history.append((batch_id, record["customer_number"], "insert", None, None,
                             json.dumps(snapshot, ensure_ascii=False), now, actor))
        self._conn.executemany(
            f"INSERT INTO customers ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})", rows)
        self._write_history(history)

    def _update(self, updates: pl.DataFrame, batch_id: int, now: str, actor: str) -> None:
        if updates.is_empty():
            return
        group_ids = self._group_ids()
        history = []
        for (field_name,), part in updates.group_by(["field"], maintain_order=True):
            pairs = part.select("new", "customer_number").rows()
            if field_name == "customer_group":
                column = "group_id"
                pairs = [(group_ids[new.casefold()], number) for new, number in pairs]
            else:
                column = str(field_name)
            self._conn.executemany(
                f"UPDATE customers SET {column} = ?, updated_batch = {batch_id} "
                f"WHERE customer_number = ?", pairs)
            if field_name != "name_key":
                history.extend(
                    (batch_id, number, "update", field_name, old, new, now, actor)
                    for number, old, new in part.select("customer_number", "old", "new").rows())
        self._write_history(history)

    def _write_history(self, rows: list[tuple[object, ...]]) -> None:
        self._conn.executemany(
            "INSERT INTO history (batch_id, customer_number, action, field, old_value, "
            "new_value, changed_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; busy -> exit 3."""

    def __init__(self, conn: sqlite3.Connection, label: str) -> None:
        self._conn = conn
        self._label = label

    def __enter__(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegisterBusyError(
                    f"{self._label}: register busy (another run is committing); "
                    f"try again") from None
            raise RegisterError(f"{self._label}: cannot write to register: {exc}") from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")
