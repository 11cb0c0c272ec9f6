"""What both register engines share: reads, commits, history, revert, locks.

SQL here is written once, with `?` placeholders and SQL both SQLite and PostgreSQL
accept; an engine supplies the connection, the transaction (and its lock), the table
prefix, and may replace the bulk paths (`_insert_rows`, `_update_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import polars as pl

from sync.errors import AlreadyCommittedError, StalePlanError, UsageError
from sync.groupkey import group_key, group_key_expr, group_keys
from sync.namekey import name_blocks, name_key_of
from sync.types import Progress
from sync.writers.register.base import (
    COMMIT_STEPS,
    BatchInfo,
    ChangeSet,
    KeyField,
    Parts,
    Selection,
)
from sync.writers.register.schema import (
    NUMBER_DIGITS,
    NUMBER_LENGTH,
    SCHEMA_VERSION,
    STATE_COLUMNS,
    Dialect,
    all_digits_sql,
    upgrade_sql,
)
from sync.writers.register.selection import selection_sql

_KEY_COLUMNS = {"customer_number", "business_id", "name_key"}
_TUPLE_ROWS = 100_000
# Below this many keys per reader, splitting a read costs more than it saves.
_PARALLEL_MIN_KEYS = 20_000
_PARALLEL_MIN_BLOCKS = 1_000  # name blocks hold tens of customers each
T = TypeVar("T")
_UPDATE_BLOCK = 20_000  # customers updated per block of neighbouring keys
BATCH_COLUMNS = ("id", "kind", "committed_at", "actor", "source", "checksum", "counts",
                 "reverts", "reverted_by")
HISTORY_COLUMNS = ("batch_id", "customer_number", "action", "field", "old_value",
                   "new_value", "changed_at", "actor")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLRegister:
    """A register in a DB-API database; subclasses give the engine specifics."""

    label: str
    prefix: str = ""
    dialect: Dialect = "sqlite"

    # -- engine hooks ----------------------------------------------------------------

    def _sql(self, query: str) -> str:
        """The query in the engine's placeholder style (`?` here)."""
        return query

    def _execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def _customer_columns(self) -> set[str]:
        raise NotImplementedError

    def _insert_id(self, query: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row and return its new id."""
        raise NotImplementedError

    def _values_table(self) -> str:
        """A table expression `j` with one column `value`, from one list parameter."""
        return "json_each(?) j"

    def _list_param(self, values: list[str]) -> Any:
        """A list as the engine takes it for `_values_table` (JSON text for SQLite)."""
        return json.dumps(values, ensure_ascii=False)

    @contextmanager
    def _bulk_insert(self, rows: int) -> Iterator[None]:
        """Around the inserts of `rows` New customers, inside the commit's transaction.
        An engine may set its indexes aside and rebuild them after (SQLite does)."""
        yield

    def _upsert_blocks(self, blocks: pl.DataFrame) -> None:
        """Write (block, customer_number, name) rows to name_blocks, replacing the name
        of a (block, customer_number) already there."""
        self._executemany(
            f"INSERT INTO {self._t('name_blocks')} (block, customer_number, name) "
            f"VALUES (?, ?, ?) ON CONFLICT (block, customer_number) "
            f"DO UPDATE SET name = excluded.name",
            _tuples(blocks.select("block", "customer_number", "name")))

    def _insert_blocks(self, blocks: pl.DataFrame) -> None:
        """Write the (block, customer_number, name) rows of customers that had no blocks
        (inserted in this transaction). An engine may skip the conflict check here
        (PostgreSQL does); SQLite's upsert costs what its plain insert does, so it
        upserts."""
        self._upsert_blocks(blocks)

    def close(self) -> None:
        """Release the connection."""
        raise NotImplementedError

    # -- small helpers ---------------------------------------------------------------

    def _t(self, table: str) -> str:
        return f"{self.prefix}{table}"

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._execute(query, params).fetchall())

    def _read_each(self, query: str, params: list[Sequence[Any]],
                   then: Callable[[list[tuple[Any, ...]]], T]) -> list[T]:
        """`then(rows)` of the read-only `query` run once per parameter tuple, in the
        order of `params`. An engine may run them side by side (SQLite does, on other
        connections, outside a transaction); here they run one after the other."""
        return [then(self._rows(query, p)) for p in params]

    def _read_parts(self, count: int, blocks: bool = False) -> int:
        """Into how many parts to split a read of `count` keys (name blocks when
        `blocks`): one per _TUPLE_ROWS, and at least one per reader an engine runs side
        by side, once each reader gets enough keys to be worth it."""
        worth = _PARALLEL_MIN_BLOCKS if blocks else _PARALLEL_MIN_KEYS
        parts = -(-count // _TUPLE_ROWS)
        if count >= 2 * worth:
            parts = max(parts, min(self._readers(), count // worth))
        return max(parts, 1)

    def _split_params(self, values: list[str], blocks: bool = False) -> list[tuple[Any]]:
        """The parameter tuples of a read of `values` split as `_read_parts` says (each
        a run of neighbours in the order given)."""
        return [(self._list_param(part),)
                for part in _split(values, self._read_parts(len(values), blocks))]

    def _readers(self) -> int:
        """How many reads an engine runs side by side (see _read_each)."""
        return 1

    def _meta(self, key: str) -> str | None:
        rows = self._rows(f"SELECT value FROM {self._t('meta')} WHERE key = ?", (key,))
        return None if not rows else str(rows[0][0])

    # -- reading ---------------------------------------------------------------------

    def register_id(self) -> str | None:
        """The register's identity; None for the empty stand-in of a missing register."""
        return self._meta("register_id")

    def version(self) -> int:
        """The commit counter: 0 for a new register, +1 on every batch."""
        return int(self._meta("version") or 0)

    def lookup(self, key: KeyField, values: pl.Series) -> pl.DataFrame:
        """Customers whose `key` equals one of `values`: columns value, customer_number."""
        if key not in _KEY_COLUMNS:
            raise ValueError(f"not a key column: {key}")
        return self._lookup_frame(key, values, f"c.{key}, c.customer_number",
                                  {"value": pl.String, "customer_number": pl.String}
                                  ).sort("customer_number")

    def fetch(self, numbers: pl.Series, fields: tuple[str, ...]) -> pl.DataFrame:
        """customer_number plus `fields` (register columns too) of these customers."""
        present = self._customer_columns()
        select = ["c.customer_number"]
        for name in fields:
            if name == "customer_number":
                continue
            if name == "customer_group":
                select.append("g.name")
            elif name in present:
                select.append(f"c.{_ident(name)}")
            else:
                select.append("NULL")
        names = ["customer_number", *[f for f in fields if f != "customer_number"]]
        return self._lookup_frame("customer_number", numbers, ", ".join(select),
                                  dict.fromkeys(names, pl.String))

    def _lookup_frame(self, column: str, values: pl.Series, select: str,
                      schema: dict[str, Any]) -> pl.DataFrame:
        """`select` (over customers c, groups g) of the customers whose c.column is one
        of `values`, as a frame built a chunk of rows at a time."""
        if self._rows(f"SELECT 1 FROM {self._t('customers')} LIMIT 1") == []:
            # An empty register (a first load): nothing to find, and sending a million
            # keys to look for nothing cost the preview 1.6 s.
            return pl.DataFrame(schema=schema)
        # Sorted values visit the index pages in order; the chunks keep the Python
        # tuples of at most one chunk alive, not of the whole result.
        wanted = values.drop_nulls().unique().sort().to_list()
        # Only a select that names the group joins it: without the join, a lookup by
        # business id or name reads the key index alone (the number rides along in it).
        groups = (f"LEFT JOIN {self._t('groups')} g ON g.id = c.group_id "
                  if "g." in select else "")
        if self.dialect != "sqlite":
            # A join, not IN (...): the values are unique, and PostgreSQL then walks the
            # key index in order (a merge join) instead of probing it once per value
            # in hash order (450k numbers of 5M: 3.0 s instead of 5-6 s).
            return self._frame(
                f"SELECT {select} FROM {self._values_table()} "
                f"JOIN {self._t('customers')} c ON c.{column} = j.value {groups}",
                (self._list_param(wanted),), schema)
        query = (f"SELECT {select} FROM {self._t('customers')} c {groups}"
                 f"WHERE c.{column} IN (SELECT j.value FROM {self._values_table()})")
        # SQLite hands each column over as one JSON array that polars parses in one go
        # (a Python tuple per row costs about 3x more), for a slice of keys at a time.
        names = [f"k{i}" for i in range(len(schema))]
        arrays = ", ".join(f"json_group_array(CAST({k} AS TEXT))" for k in names)
        wrapped = f"WITH q({', '.join(names)}) AS ({query}) SELECT {arrays} FROM q"

        parts = self._read_each(wrapped, self._split_params(wanted),
                                lambda rows: _json_columns(rows[0], schema))
        return pl.concat([pl.DataFrame(schema=schema), *parts], rechunk=False)

    def _frame(self, query: str, params: Sequence[Any], schema: dict[str, Any],
               chunk_rows: int = 100_000) -> pl.DataFrame:
        """A query's rows as one frame of `schema`, fetched `chunk_rows` at a time."""
        cursor = self._execute(query, params)
        chunks = [pl.DataFrame(schema=schema)]
        while rows := cursor.fetchmany(chunk_rows):
            chunks.append(pl.DataFrame(rows, schema=schema, orient="row"))
        return pl.concat(chunks, rechunk=False)

    def max_numeric_number(self) -> int | None:
        """The largest all-digit customer_number, compared as integers."""
        # The same expressions and condition as the customers_number_digits index, so
        # the engine reads one index entry instead of every customer.
        rows = self._rows(f"SELECT customer_number FROM {self._t('customers')} "
                          f"WHERE {all_digits_sql(self.dialect, 'customer_number')} "
                          f"ORDER BY {NUMBER_LENGTH} DESC, {NUMBER_DIGITS} DESC LIMIT 1")
        return int(rows[0][0]) if rows else None

    def padded_twins(self, numbers: pl.Series) -> pl.DataFrame:
        """Customers whose number is one of these all-digit `numbers` with leading zeros
        added (0042 for 42): columns number, customer_number, name_key."""
        schema = {"number": pl.String, "customer_number": pl.String, "name_key": pl.String}
        wanted = numbers.drop_nulls().unique().sort().to_list()
        if not wanted:
            return pl.DataFrame(schema=schema)
        # The expressions and condition of the customers_number_digits index, so each
        # number is one index probe.
        digits = all_digits_sql(self.dialect, "customer_number")
        rows = self._rows(
            f"SELECT j.value, c.customer_number, c.name_key "
            f"FROM {self._values_table()} JOIN {self._t('customers')} c "
            f"ON {NUMBER_LENGTH} = length(j.value) AND {NUMBER_DIGITS} = j.value "
            f"WHERE {digits} AND c.customer_number <> j.value",
            (self._list_param(wanted),))
        return pl.DataFrame(rows, schema=schema, orient="row")

    def group_names(self) -> pl.DataFrame:
        """Every group: columns name, name_key."""
        rows = self._rows(f"SELECT name, name_key FROM {self._t('groups')}")
        return pl.DataFrame(rows, schema={"name": pl.String, "name_key": pl.String},
                            orient="row")

    def has_name_blocks(self) -> bool:
        """Whether any customer has a name block (False: an empty register)."""
        return self._rows(f"SELECT 1 FROM {self._t('name_blocks')} LIMIT 1") != []

    def block_sizes(self, blocks: list[str], cap: int) -> pl.DataFrame:
        """How many customers each name block has, counted up to `cap`: block, size."""
        schema = {"block": pl.String, "size": pl.Int64}
        parts = self._read_each(
            f"SELECT j.value, (SELECT COUNT(*) FROM (SELECT 1 FROM {self._t('name_blocks')} b "
            f"WHERE b.block = j.value LIMIT {int(cap)}) s) FROM {self._values_table()}",
            self._split_params(sorted(blocks), blocks=True),
            lambda rows: pl.DataFrame(rows, schema=schema, orient="row"))
        return pl.concat([pl.DataFrame(schema=schema), *parts], rechunk=False)

    def block_members(self, blocks: list[str]) -> pl.DataFrame:
        """The customers in these name blocks: block, customer_number, name."""
        # One index range per block: the name is kept beside the block.
        schema = {"block": pl.String, "customer_number": pl.String, "name": pl.String}
        where = (f"FROM {self._t('name_blocks')} b "
                 f"WHERE b.block IN (SELECT j.value FROM {self._values_table()})")
        if self.dialect != "sqlite":
            # IN (...), not a join: with a join PostgreSQL merge-joins along the whole
            # 15M-entry block index (28 s instead of 6 s on the large case).
            return self._frame(f"SELECT b.block, b.customer_number, b.name {where}",
                               (self._list_param(sorted(blocks)),), schema)
        # SQLite hands each column over as one JSON array (the aggregates see the rows in
        # the same order), which polars parses in one go: a tuple per row costs 3x more.
        # Runs of neighbouring blocks are read side by side (see _read_each).
        parts = self._read_each(
            "SELECT " + ", ".join(f"json_group_array(b.{c})" for c in schema) + f" {where}",
            self._split_params(sorted(set(blocks)), blocks=True),
            lambda rows: _json_columns(rows[0], schema))
        return pl.concat([pl.DataFrame(schema=schema), *parts], rechunk=False)

    def _refresh_blocks(self, before: pl.DataFrame, after: pl.DataFrame,
                        fresh: pl.Series | None = None) -> None:
        """Keep name_blocks in step with names: `before` and `after` hold the
        (customer_number, name) of customers whose name changed, as they were and are;
        a customer missing from `after` is gone. `fresh` names customers that have no
        blocks yet (inserted in this transaction): theirs are inserted without the
        conflict check an upsert makes (PostgreSQL: 2.5x cheaper)."""
        def blocks(names: pl.DataFrame) -> pl.DataFrame:
            names = names.select(pl.col("customer_number").cast(pl.String),
                                 pl.col("name").cast(pl.String)).filter(
                pl.col("name").is_not_null())
            return name_blocks(names["customer_number"], names["name"])
        old, new = blocks(before), blocks(after)
        key = ["block", "customer_number"]
        gone = old.join(new, on=key, how="anti")
        if not gone.is_empty():
            self._executemany(
                f"DELETE FROM {self._t('name_blocks')} WHERE block = ? AND customer_number = ?",
                _tuples(gone.select(key)))
        changed = new.join(old, on=[*key, "name"], how="anti")
        if fresh is not None and not changed.is_empty():
            is_fresh = pl.col("customer_number").is_in(fresh.cast(pl.String).implode())
            first = changed.filter(is_fresh)
            if not first.is_empty():
                self._insert_blocks(first.sort(key))
            changed = changed.filter(~is_fresh)
        if not changed.is_empty():
            self._upsert_blocks(changed.sort(key))

    def migrate(self) -> int | None:
        """Bring the register's schema to SCHEMA_VERSION in one transaction.

        Returns the version it was at, or None when it was already current. Customers,
        batches and history are not changed, so plans made before stay valid.
        """
        with self._transaction():
            found = int(self._meta("schema_version") or 0)
            if found == SCHEMA_VERSION:
                return None
            if found > SCHEMA_VERSION:
                raise UsageError(f"{self.label}: register schema version {found} is newer "
                                 f"than this regsync ({SCHEMA_VERSION}); upgrade regsync")
            for version in range(found, SCHEMA_VERSION):
                for statement in upgrade_sql(self.dialect, version, self.prefix):
                    self._execute(statement)
                if version == 1:
                    self._fill_blocks()
            self._execute(f"UPDATE {self._t('meta')} SET value = ? "
                          f"WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        return found

    def _fill_blocks(self, chunk_rows: int = 200_000) -> None:
        """Compute the name blocks of every customer (migration to version 2)."""
        last = -1
        while True:
            rows = self._rows(f"SELECT id, customer_number, name FROM {self._t('customers')} "
                              f"WHERE id > ? ORDER BY id LIMIT {chunk_rows}", (last,))
            if not rows:
                return
            last = rows[-1][0]
            names = pl.DataFrame([r[1:] for r in rows], orient="row",
                                 schema={"customer_number": pl.String, "name": pl.String})
            self._refresh_blocks(names.clear(), names, fresh=names["customer_number"])

    def export_frame(self, fields: tuple[str, ...],
                     selection: Selection | None = None) -> pl.DataFrame:
        """Every customer, invalidated ones too unless a selection says otherwise,
        ordered by id, with `fields` as columns."""
        chosen = selection or Selection(include_invalidated=True)
        return pl.concat(list(self.export_chunks(fields, chosen)))

    def export_chunks(self, fields: tuple[str, ...], selection: Selection,
                      chunk_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """The selected customers, ordered by id, in String frames of at most `chunk_rows`.

        Streams: only one chunk is held at a time. An empty selection yields one empty
        frame (the header).
        """
        sql, params = selection_sql(fields, self._customer_columns(), selection,
                                    self.prefix, self._numbers_in())
        schema = dict.fromkeys(fields, pl.String)
        empty = True
        for rows in self._stream(sql, params, chunk_rows):
            empty = False
            yield pl.DataFrame(rows, schema=schema, orient="row")
        if empty:
            yield pl.DataFrame(schema=schema)

    def _numbers_in(self) -> str:
        """`IN (...)` taking one parameter: a list of values (as JSON for SQLite)."""
        return "IN (SELECT value FROM json_each(?))"

    def _stream(self, query: str, params: list[object],
                chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        """Run a query and yield its rows `chunk_rows` at a time."""
        raise NotImplementedError
        yield []

    def batches(self) -> pl.DataFrame:
        """Every batch, oldest first: id, kind, time, actor, source, checksum, counts..."""
        rows = self._rows(f"SELECT {', '.join(BATCH_COLUMNS)} FROM {self._t('batches')} "
                          f"ORDER BY id")
        schema = {c: pl.String for c in BATCH_COLUMNS} | {
            "id": pl.Int64, "reverts": pl.Int64, "reverted_by": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def history(self, *, batch: int | None = None,
                customer: str | None = None) -> pl.DataFrame:
        """Change history, oldest first, of one batch, one customer, or everything."""
        where, params = "", ()
        if batch is not None:
            where, params = "WHERE batch_id = ?", (batch,)
        elif customer is not None:
            where, params = "WHERE customer_number = ?", (customer,)
        rows = self._rows(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM {self._t('history')} "
                          f"{where} ORDER BY id", params)
        schema = {c: pl.String for c in HISTORY_COLUMNS} | {"batch_id": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    # -- writing: batches ------------------------------------------------------------

    def _open_batch(self, kind: str, actor: str, *, plan_id: str | None = None,
                    source: str | None = None, checksum: str | None = None,
                    counts: dict[str, int] | None = None,
                    reverts: int | None = None) -> tuple[int, int, str]:
        """Insert the batch row and move the version on; (batch id, version, time)."""
        version = self.version() + 1
        now = _now()
        batch_id = self._insert_id(
            f"INSERT INTO {self._t('batches')} (kind, plan_id, version, source, checksum, "
            f"actor, committed_at, counts, reverts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, plan_id, version, source, checksum, actor, now,
             json.dumps(counts or {}), reverts))
        self._execute(f"UPDATE {self._t('meta')} SET value = ? WHERE key = 'version'",
                      (str(version),))
        return batch_id, version, now

    def apply(self, changes: ChangeSet, *, plan_id: str, plan_version: int, source: str,
              checksum: str, actor: str, counts: dict[str, int],
              progress: Progress | None = None, once: bool = False) -> BatchInfo:
        """Apply a change set in one transaction; StalePlanError if the plan is stale.

        `progress`, when given, is called as each step of COMMIT_STEPS begins. `once`:
        AlreadyCommittedError if an import batch not reverted has this source checksum
        (checked inside the transaction, so two runners can't both commit a file)."""
        def step(name: str, part: int = 1, count: int = 1) -> None:
            if progress is not None:
                shown = f"{name} (part {part} of {count})" if count > 1 else name
                progress(shown, COMMIT_STEPS.index(name) + 1, len(COMMIT_STEPS))

        def each(name: str, parts: Parts) -> Iterator[pl.DataFrame]:
            # Each part is read from the plan as the step before it ends.
            frames = iter(parts.frames)
            first = next(frames, None)
            step(name, 1, parts.count)
            if first is not None:
                yield first
            for number, frame in enumerate(frames, start=2):
                step(name, number, parts.count)
                yield frame

        with self._transaction():
            step("checking the plan is current")
            if once:  # first: a plan made before the other commit is stale as well
                self._check_first_commit(checksum)
            self._check_not_stale(changes, plan_id, plan_version)
            batch_id, version, now = self._open_batch(
                "import", actor, plan_id=plan_id, source=source, checksum=checksum,
                counts=counts)
            self._ensure_columns(changes.columns)
            created = self._ensure_groups(changes.groups, batch_id)
            inserted = updated = 0
            with self._bulk_insert(changes.inserts.rows):
                for inserts in each("inserting customers", changes.inserts):
                    self._insert(inserts, batch_id, now, actor)
                    inserted += inserts.height
            for updates in each("updating customers", changes.updates):
                self._update(updates, batch_id, now, actor)
                updated += updates["customer_number"].n_unique()
            for names in each("updating name blocks", changes.names):
                renamed = names.filter(pl.col("old").is_not_null())
                self._refresh_blocks(
                    renamed.select("customer_number", pl.col("old").alias("name")),
                    names.select("customer_number", pl.col("new").alias("name")),
                    fresh=names.filter(pl.col("old").is_null())["customer_number"])
            step("writing the transaction")
        return BatchInfo(batch_id=batch_id, version=version, inserted=inserted,
                         updated=updated, groups_created=created)

    def _check_first_commit(self, checksum: str) -> None:
        done = self._rows(
            f"SELECT id, counts FROM {self._t('batches')} WHERE kind = 'import' "
            f"AND checksum = ? AND reverted_by IS NULL ORDER BY id", (checksum,))
        if done:
            batch_id, counts = int(done[0][0]), json.loads(done[0][1] or "{}")
            raise AlreadyCommittedError(
                f"the same content was already committed as batch {batch_id}",
                batch_id, counts)

    def _check_not_stale(self, changes: ChangeSet, plan_id: str, plan_version: int) -> None:
        done = self._rows(f"SELECT id FROM {self._t('batches')} WHERE plan_id = ?", (plan_id,))
        if done:
            raise StalePlanError(f"this plan was already committed as batch {done[0][0]}; "
                                 f"run preview again")
        if self.version() == plan_version:
            return
        changed = pl.Series([r[0] for r in self._rows(
            f"SELECT DISTINCT h.customer_number FROM {self._t('history')} h "
            f"JOIN {self._t('batches')} b ON b.id = h.batch_id WHERE b.version > ?",
            (plan_version,))], dtype=pl.String)
        mine = pl.concat([changes.touched, _relied(changes, "customer_number")])
        hit = set(changed.filter(changed.is_in(mine.implode())).to_list())
        if not hit and changed.len():
            # A key the plan relied on (a number, business id or name it found free, or
            # found on a customer) now belongs to a customer changed since: the plan's
            # matching could come out differently.
            rows = self._lookup_frame(
                "customer_number", changed.sort(),
                "c.customer_number, c.business_id, c.name_key",
                dict.fromkeys(("customer_number", "business_id", "name_key"), pl.String))
            relied = (pl.col("business_id").is_in(_relied(changes, "business_id").implode())
                      | pl.col("name_key").is_in(_relied(changes, "name_key").implode()))
            hit |= set(rows.filter(relied)["customer_number"].to_list())
        if changes.relies_on_similar_names:
            # Any customer added, removed or renamed since (history entries with no
            # field are whole-customer ones): its name may now be similar to a row's.
            hit |= {r[0] for r in self._rows(
                f"SELECT DISTINCT h.customer_number FROM {self._t('history')} h "
                f"JOIN {self._t('batches')} b ON b.id = h.batch_id "
                f"WHERE b.version > ? AND (h.field IS NULL OR h.field = 'name')",
                (plan_version,))}
        if hit:
            shown = ", ".join(sorted(hit)[:5]) + (" ..." if len(hit) > 5 else "")
            raise StalePlanError(
                f"plan is stale: the register changed since this plan was made "
                f"(customers {shown}); run preview again")

    def _ensure_columns(self, columns: Iterable[str]) -> None:
        present = self._customer_columns()
        for name in columns:
            if name not in present and name not in ("customer_group", "name_key"):
                # Custom fields from the rules, checked as identifiers by sync.rules.
                self._execute(f"ALTER TABLE {self._t('customers')} ADD COLUMN {_ident(name)} TEXT")

    def _ensure_groups(self, groups: Iterable[str], batch_id: int) -> tuple[str, ...]:
        existing = {r[0] for r in self._rows(f"SELECT name_key FROM {self._t('groups')}")}
        created = []
        for name in groups:
            key = group_key(name)
            if key not in existing:
                self._execute(
                    f"INSERT INTO {self._t('groups')} (name, name_key, created_batch) "
                    f"VALUES (?, ?, ?)", (name, key, batch_id))
                existing.add(key)
                created.append(name)
        return tuple(created)

    def _group_ids(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows(
            f"SELECT name_key, id FROM {self._t('groups')}")}

    def _insert(self, inserts: pl.DataFrame, batch_id: int, now: str, actor: str) -> None:
        if inserts.is_empty():
            return
        group_ids = self._group_ids()
        group = inserts["customer_group"] if "customer_group" in inserts.columns else None
        ids = (group_keys(group).replace_strict(group_ids, default=None,
                                                return_dtype=pl.Int64)
               if group is not None else pl.Series([None] * inserts.height, dtype=pl.Int64))
        values = [c for c in inserts.columns if c not in ("customer_group",)]
        rows = inserts.select(values).with_columns(
            ids.alias("group_id"), pl.lit(batch_id).alias("created_batch"),
            pl.lit(batch_id).alias("updated_batch"))
        self._insert_rows(rows)
        snapshot_fields = [c for c in inserts.columns if c != "name_key"]
        snapshots = inserts.select(
            pl.struct(snapshot_fields).struct.json_encode().alias("s"))["s"]
        self._write_history(pl.DataFrame({
            "batch_id": batch_id, "customer_number": inserts["customer_number"],
            "action": "insert", "field": None, "old_value": None,
            "new_value": snapshots, "changed_at": now, "actor": actor,
        }, schema={c: pl.String for c in HISTORY_COLUMNS} | {"batch_id": pl.Int64}))

    def _insert_rows(self, rows: pl.DataFrame) -> None:
        """Insert customer rows (columns named as in the customers table)."""
        # A column that is empty in every row is left out: it is NULL all the same, and
        # each value bound costs as much as SQLite's own work on it.
        columns = [c for c in rows.columns if rows[c].null_count() < rows.height]
        rows = rows.select(columns)
        self._executemany(
            f"INSERT INTO {self._t('customers')} ({', '.join(map(_ident, columns))}) "
            f"VALUES ({', '.join('?' * len(columns))})", _tuples(rows))

    def _update(self, updates: pl.DataFrame, batch_id: int, now: str, actor: str) -> None:
        if updates.is_empty():
            return
        group_ids = self._group_ids()
        # One row per customer, all its changed columns side by side (value v<i> and
        # "changed" mark m<i> for columns[i]): each customer is updated once, in key
        # order, instead of once per changed field.
        wide = updates.select("customer_number").unique().sort("customer_number")
        columns: list[str] = []
        for (field_name,), part in updates.group_by(["field"], maintain_order=True):
            if field_name == "customer_group":
                column = "group_id"
                value = group_key_expr(pl.col("new")).replace_strict(
                    group_ids, default=None, return_dtype=pl.Int64)
            else:
                column, value = str(field_name), pl.col("new")
            i = len(columns)
            columns.append(column)
            wide = wide.join(part.unique("customer_number", keep="last", maintain_order=True)
                             .select("customer_number", value.alias(f"v{i}"),
                                     pl.lit(True).alias(f"m{i}")),
                             on="customer_number", how="left", maintain_order="left")
        wide = wide.with_columns(pl.col(f"m{i}").fill_null(False) for i in range(len(columns)))
        self._update_rows(columns, wide, batch_id)
        recorded = updates.filter(pl.col("field") != "name_key")
        self._write_history(recorded.select(
            pl.lit(batch_id, pl.Int64).alias("batch_id"), "customer_number",
            pl.lit("update").alias("action"), "field", pl.col("old").alias("old_value"),
            pl.col("new").alias("new_value"), pl.lit(now).alias("changed_at"),
            pl.lit(actor).alias("actor")))

    def _update_rows(self, columns: list[str], wide: pl.DataFrame, batch_id: int) -> None:
        """Set columns[i] to v<i> where m<i> holds, for each customer_number of `wide`
        (sorted by customer_number).

        Each UPDATE names exactly the columns that change (so no value is bound for
        nothing, and an index entry is rewritten only when its value changes): one
        statement per combination of changed columns, within blocks of neighbouring
        keys, so the pages of a block are read once and stay in the page cache.
        """
        marks = [f"m{i}" for i in range(len(columns))]
        for start in range(0, wide.height, _UPDATE_BLOCK):
            block = wide.slice(start, _UPDATE_BLOCK)
            for key, part in block.group_by(marks, maintain_order=True):
                changed = [i for i, on in enumerate(key) if on]
                if not changed:
                    continue
                sets = ", ".join(f"{_ident(columns[i])} = ?" for i in changed)
                params = part.select(*[f"v{i}" for i in changed],
                                     pl.lit(batch_id, pl.Int64).alias("updated_batch"),
                                     "customer_number")
                self._executemany(
                    f"UPDATE {self._t('customers')} SET {sets}, updated_batch = ? "
                    f"WHERE customer_number = ?", _tuples(params))

    def _write_history(self, rows: pl.DataFrame) -> None:
        if rows.is_empty():
            return
        self._executemany(
            f"INSERT INTO {self._t('history')} ({', '.join(HISTORY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
            _tuples(rows.select(HISTORY_COLUMNS)))

    # -- writing: locks, invalidation ------------------------------------------------

    def set_state(self, numbers: Sequence[str], column: str, value: str | None,
                  actor: str, kind: str) -> BatchInfo:
        """Set a state column (locked_by, invalidated) of customers, as a batch of its own.

        Unknown customers are refused (nothing written); customers already in that state
        are left as they are.
        """
        if column not in STATE_COLUMNS:
            raise ValueError(column)
        with self._transaction():
            current = dict(self._lookup_frame(
                "customer_number", pl.Series(list(numbers), dtype=pl.String),
                f"c.customer_number, c.{column}",
                {"customer_number": pl.String, "value": pl.String}).iter_rows())
            unknown = [n for n in numbers if n not in current]
            if unknown:
                raise UsageError(f"unknown customers: {', '.join(unknown[:10])}")
            changing = [n for n in dict.fromkeys(numbers) if current[n] != value]
            batch_id, version, now = self._open_batch(kind, actor,
                                                      counts={"customers": len(changing)})
            updates = pl.DataFrame(
                {"customer_number": changing, "field": [column] * len(changing),
                 "old": [current[n] for n in changing], "new": [value] * len(changing)},
                schema=dict.fromkeys(("customer_number", "field", "old", "new"), pl.String))
            self._update(updates, batch_id, now, actor)
        return BatchInfo(batch_id=batch_id, version=version, inserted=0,
                         updated=len(changing), groups_created=())

    # -- writing: revert -------------------------------------------------------------

    def revert(self, batch_id: int, actor: str) -> BatchInfo:
        """Undo a batch as a batch of its own, or refuse and write nothing.

        Restores old field values, removes the customers the batch created (and groups it
        created that are now empty), puts back customers it removed. Refuses while later
        batches that are not reverted changed the same customers.
        """
        with self._transaction():
            target = self._rows(f"SELECT id, reverted_by FROM {self._t('batches')} "
                                f"WHERE id = ?", (batch_id,))
            if not target:
                raise UsageError(f"there is no batch {batch_id}")
            if target[0][1] is not None:
                raise UsageError(f"batch {batch_id} was already reverted by batch "
                                 f"{target[0][1]}")
            self._refuse_if_changed_later(batch_id)
            entries = self.history(batch=batch_id).reverse()
            self._refuse_if_values_moved(entries, batch_id)
            new_id, version, now = self._open_batch(
                "revert", actor, reverts=batch_id,
                counts={"customers": entries["customer_number"].n_unique()})
            numbers = entries["customer_number"].unique()
            before = self.fetch(numbers, ("name",))
            removed = self._undo(entries, new_id, now, actor)
            self._refresh_blocks(before, self.fetch(numbers, ("name",)))
            self._execute(f"UPDATE {self._t('batches')} SET reverted_by = ? WHERE id = ?",
                          (new_id, batch_id))
            self._drop_empty_groups(batch_id)
        return BatchInfo(batch_id=new_id, version=version, inserted=0,
                         updated=entries["customer_number"].n_unique() - removed,
                         groups_created=())

    def _refuse_if_changed_later(self, batch_id: int) -> None:
        later = self._rows(
            f"SELECT DISTINCT h.batch_id FROM {self._t('history')} h "
            f"JOIN {self._t('batches')} b ON b.id = h.batch_id "
            f"WHERE h.batch_id > ? AND b.reverted_by IS NULL "
            f"AND NOT (b.kind = 'revert' AND b.reverts > ?) "
            f"AND h.customer_number IN (SELECT customer_number FROM {self._t('history')} "
            f"WHERE batch_id = ?) ORDER BY h.batch_id", (batch_id, batch_id, batch_id))
        if later:
            shown = ", ".join(str(r[0]) for r in later)
            raise UsageError(f"batch {batch_id} can't be reverted: later batches changed "
                             f"the same customers ({shown}); revert those first, newest first")

    def _refuse_if_values_moved(self, entries: pl.DataFrame, batch_id: int) -> None:
        """Refuse unless the register still holds what the batch wrote.

        The later-batch check above reads batch kinds; this one reads the values, so a
        chain of reverts of reverts can't make a revert overwrite newer data.
        """
        fields = tuple(entries.filter(pl.col("action") == "update")["field"].unique()
                       .to_list())
        current = {row["customer_number"]: row for row in self.fetch(
            entries["customer_number"].unique(), fields).iter_rows(named=True)}
        moved = []
        for number, action, field_name, new in entries.select(
                "customer_number", "action", "field", "new_value").iter_rows():
            row = current.get(number)
            if action == "update" and row is not None:
                value = row[field_name]
                same = (group_key(value or "") == group_key(new or "")
                        if field_name == "customer_group" else value == new)
            else:
                same = (row is not None) == (action != "delete")
            if not same:
                moved.append(number)
        if moved:
            shown = ", ".join(sorted(set(moved))[:5])
            raise UsageError(f"batch {batch_id} can't be reverted: customers {shown} were "
                             f"changed after it; revert the later batches first")

    def _undo(self, entries: pl.DataFrame, batch_id: int, now: str, actor: str) -> int:
        removed = 0
        history: list[tuple[Any, ...]] = []
        group_ids = self._group_ids()
        for number, action, field_name, old, new in entries.select(
                "customer_number", "action", "field", "old_value", "new_value").iter_rows():
            if action == "insert":
                snapshot = self._snapshot(number)
                self._execute(f"DELETE FROM {self._t('customers')} WHERE customer_number = ?",
                              (number,))
                history.append((batch_id, number, "delete", None, snapshot, None, now, actor))
                removed += 1
            elif action == "delete":
                self._restore_customer(json.loads(old), batch_id)
                history.append((batch_id, number, "insert", None, None, old, now, actor))
            else:
                column, value = field_name, old
                if field_name == "customer_group":
                    if old is not None and group_key(old) not in group_ids:
                        self._ensure_groups([old], batch_id)
                        group_ids = self._group_ids()
                    column = "group_id"
                    value = group_ids[group_key(old)] if old is not None else None
                self._execute(f"UPDATE {self._t('customers')} SET {_ident(column)} = ?, "
                              f"updated_batch = ? WHERE customer_number = ?",
                              (value, batch_id, number))
                if field_name == "name":
                    self._execute(f"UPDATE {self._t('customers')} SET name_key = ? "
                                  f"WHERE customer_number = ?", (name_key_of(old), number))
                history.append((batch_id, number, "update", field_name, new, old, now, actor))
        self._executemany(
            f"INSERT INTO {self._t('history')} ({', '.join(HISTORY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})", history)
        return removed

    def _snapshot(self, number: str) -> str:
        columns = sorted(c for c in self._customer_columns() if c not in _INTERNAL)
        frame = self.fetch(pl.Series([number]), tuple(["customer_number", *columns,
                                                       "customer_group"]))
        record = {k: v for k, v in frame.row(0, named=True).items() if v is not None}
        return json.dumps(record, ensure_ascii=False)

    def _restore_customer(self, record: dict[str, Any], batch_id: int) -> None:
        group = record.pop("customer_group", None)
        if group is not None:
            self._ensure_groups([group], batch_id)
        present = self._customer_columns()
        values = {k: v for k, v in record.items() if k in present}
        values["group_id"] = self._group_ids().get(group_key(group)) if group else None
        values["name_key"] = name_key_of(values.get("name"))
        values["created_batch"] = values["updated_batch"] = batch_id
        self._execute(
            f"INSERT INTO {self._t('customers')} ({', '.join(map(_ident, values))}) "
            f"VALUES ({', '.join('?' * len(values))})", list(values.values()))

    def _drop_empty_groups(self, batch_id: int) -> None:
        self._execute(
            f"DELETE FROM {self._t('groups')} WHERE created_batch = ? AND id NOT IN "
            f"(SELECT group_id FROM {self._t('customers')} WHERE group_id IS NOT NULL)",
            (batch_id,))



def _split(values: list[str], parts: int) -> list[list[str]]:
    """`values` in `parts` runs of neighbours, as even as can be (none empty unless
    `values` is)."""
    if not values:
        return [[]]
    size = -(-len(values) // parts)
    return [values[start:start + size] for start in range(0, len(values), size)]


def _json_columns(arrays: Sequence[str], schema: dict[str, Any]) -> pl.DataFrame:
    """A frame of `schema` from one JSON array of text per column (SQLite's
    json_group_array of the columns, aggregated over the same rows)."""
    return pl.DataFrame({name: pl.Series([text]).str.json_decode(pl.List(pl.String))
                         .explode(empty_as_null=False)
                         for name, text in zip(schema, arrays, strict=True)}).cast(schema)


def _tuples(frame: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The rows of a frame as tuples, built column by column (several times faster
    than DataFrame.iter_rows), a slice at a time to bound memory."""
    for start in range(0, frame.height, _TUPLE_ROWS):
        part = frame.slice(start, _TUPLE_ROWS)
        yield from zip(*(column.to_list() for column in part.iter_columns()), strict=True)

def _relied(changes: ChangeSet, key: KeyField) -> pl.Series:
    """The values of `key` the plan relied on (none when it names none)."""
    return changes.relies_on.get(key, pl.Series(dtype=pl.String))


def _ident(name: str) -> str:
    """A column name quoted for SQL (custom field names may be SQL keywords)."""
    return f'"{name}"'


_INTERNAL = frozenset({"id", "group_id", "name_key", "created_batch", "updated_batch"})


