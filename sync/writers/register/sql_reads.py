"""What both register engines share, and the register's reads: key lookups, the values
of matched customers, name blocks, exports, batches and history.

SQL here is written once, with `?` placeholders and SQL both SQLite and PostgreSQL
accept; an engine supplies the connection, the transaction (and its lock), the table
prefix, and may run reads side by side (`_read_each`). Commits are in `sql_commit`;
migrations, locks and reverts in `sql`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import polars as pl

from sync.slices import slice_bounds, text_bytes
from sync.types import FIELDS
from sync.writers.register.base import KeyField, Selection
from sync.writers.register.schema import (
    NUMBER_DIGITS,
    NUMBER_LENGTH,
    STATE_COLUMNS,
    Dialect,
    all_digits_sql,
)
from sync.writers.register.selection import selection_sql

INTERNAL_COLUMNS = frozenset({"id", "group_id", "name_key", "created_batch", "updated_batch"})
"""Columns of the customers table that are the register's own bookkeeping, no field."""
_KEY_COLUMNS = {"customer_number", "business_id", "name_key"}
_TUPLE_ROWS = 100_000
# Below this many keys per reader, splitting a read costs more than it saves.
_PARALLEL_MIN_KEYS = 20_000
_PARALLEL_MIN_BLOCKS = 1_000  # name blocks hold tens of customers each
# A read of more whole customers than this first reads a sample of this many, spread
# over the keys, to learn how long their values are: the parts of the read are then cut
# to about _PART_BYTES of values on average. Without it, 10,000 customers with
# 30,000-character notes came back as one 300 MB JSON text per column, and decoding it
# peaked at 10x that.
_PROBE_KEYS = 200
_PART_BYTES = 32 * 2**20
# One column's JSON text of a part longer than this is decoded with json.loads.
_LONG_JSON = 8 * 2**20
# Arrays at most this long are decoded by json.loads too: for a handful of values a
# Series, its decode and explode cost a hundred times more than the decoding itself.
_SHORT_JSON = 4096
T = TypeVar("T")
BATCH_COLUMNS = ("id", "kind", "committed_at", "actor", "source", "checksum", "counts",
                 "reverts", "reverted_by")
HISTORY_COLUMNS = ("batch_id", "customer_number", "action", "field", "old_value",
                   "new_value", "changed_at", "actor")


class SQLReads:
    """The engine hooks, small helpers and reads of a register in a DB-API database."""

    label: str
    prefix: str = ""
    dialect: Dialect = "sqlite"
    schema: str | None = None  # the PostgreSQL schema holding the register

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

    def _read_parts(self, count: int, blocks: bool = False, most: int = _TUPLE_ROWS) -> int:
        """Into how many parts to split a read of `count` keys (name blocks when
        `blocks`): one per `most` keys (at most _TUPLE_ROWS), and at least one per
        reader an engine runs side by side, once each reader gets enough keys to be
        worth it."""
        worth = _PARALLEL_MIN_BLOCKS if blocks else _PARALLEL_MIN_KEYS
        parts = -(-count // min(most, _TUPLE_ROWS))
        if count >= 2 * worth:
            parts = max(parts, min(self._readers(), count // worth))
        return max(parts, 1)

    def _split_params(self, values: list[str], blocks: bool = False,
                      most: int = _TUPLE_ROWS) -> list[tuple[Any]]:
        """The parameter tuples of a read of `values` split as `_read_parts` says (each
        a run of neighbours in the order given)."""
        return [(self._list_param(part),)
                for part in _split(values, self._read_parts(len(values), blocks, most))]

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

    def custom_headers(self) -> dict[str, list[str]]:
        """The headers of its custom fields that the rules of its commits named (their
        aliases and export headers), by field; empty where none were recorded."""
        raw = self._meta("custom_headers")
        return {} if raw is None else {str(k): list(v) for k, v in json.loads(raw).items()}

    def custom_columns(self) -> tuple[str, ...]:
        """The customers table's columns for fields that rules added (a custom field's
        values, kept even when the rules in use do not name it), sorted."""
        known = {*FIELDS, *STATE_COLUMNS, *INTERNAL_COLUMNS}
        return tuple(sorted(c for c in self._customer_columns() if c not in known))

    def version(self) -> int:
        """The commit counter: 0 for a new register, +1 on every batch."""
        return int(self._meta("version") or 0)

    def history_digest(self, version: int) -> str:
        """SHA-256 over the batches of versions 1 to `version` (each batch moves the
        version by one), every column but `reverted_by`, which a later revert sets.
        Copies of one register that went separate ways differ here even where their
        versions are equal; the batch rows hold a random plan id and a time each."""
        rows = self._rows(
            f"SELECT id, kind, plan_id, version, source, checksum, actor, committed_at, "
            f"counts, reverts FROM {self._t('batches')} WHERE version <= ? ORDER BY version",
            (version,))
        text = json.dumps([[None if v is None else str(v) for v in row] for row in rows])
        return hashlib.sha256(text.encode()).hexdigest()

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

        def decode(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
            return _json_columns(rows[0], schema)

        parts = [pl.DataFrame(schema=schema)]
        most = _TUPLE_ROWS
        if len(schema) > 2 and len(wanted) > _PROBE_KEYS:
            # Whole customers (a fetch), whose values may be of any length: a sample of
            # keys spread over all of them tells how many fit in a part of about
            # _PART_BYTES (read again in their part: the parts stay in key order).
            probe = wanted[::-(-len(wanted) // _PROBE_KEYS)]
            sample = self._read_each(wrapped, [(self._list_param(probe),)], decode)[0]
            most = _keys_per_part(sample, len(probe))
            del sample
        parts += self._read_each(wrapped, self._split_params(wanted, most=most), decode)
        return pl.concat(parts, rechunk=False)

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
        # SQLite compares text byte by byte: no number between '0' and '1' (one probe of
        # the unique index) means none starts with 0, so none has a twin. PostgreSQL
        # compares by the column's collation, where a numeric one puts '0200' elsewhere
        # (QA): there the lookup itself decides.
        if not wanted or (self.dialect == "sqlite" and not self._rows(
                f"SELECT 1 FROM {self._t('customers')} WHERE customer_number >= '0' "
                f"AND customer_number < '1' LIMIT 1")):
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

    def read_snapshot(self) -> AbstractContextManager[None]:
        """Around reads that must see the register in one state (a preview): here,
        nothing; an engine that can share one snapshot among its read connections
        (PostgreSQL) does so."""
        return nullcontext()

    def numbers_in_ranges(self, ranges: list[tuple[str, str]]) -> pl.DataFrame:
        """The all-digit customer numbers from `low` to `high` of each range, where both
        are digits of one length without leading zeros, compared as numbers (a number
        with leading zeros is in the range its digits are): columns low,
        customer_number."""
        schema = {"low": pl.String, "customer_number": pl.String}
        if not ranges:
            return pl.DataFrame(schema=schema)
        # Each range goes over as one text, low then high (of one length); each is one
        # range of the customers_number_digits index, whose expressions these are.
        half = "length(j.value) / 2"
        rows = self._rows(
            f"SELECT substr(j.value, 1, {half}), c.customer_number "
            f"FROM {self._values_table()} JOIN {self._t('customers')} c "
            f"ON {NUMBER_LENGTH} = {half} AND {NUMBER_DIGITS} "
            f"BETWEEN substr(j.value, 1, {half}) AND substr(j.value, {half} + 1) "
            f"WHERE {all_digits_sql(self.dialect, 'customer_number')}",
            (self._list_param(sorted({low + high for low, high in ranges
                                      if len(low) == len(high)})),))
        return pl.DataFrame(rows, schema=schema, orient="row")

    def numbers_with_letters(self, lengths: list[int]) -> pl.Series:
        """The customer numbers of these lengths (in characters) that hold a character
        past ASCII (`ŘK-7`): the only ones a number with '?' for a lost letter can be."""
        if not lengths:
            return pl.Series("customer_number", [], pl.String)
        # More bytes than characters in UTF-8: a character past ASCII. One pass over the
        # number index, paid only for the rare files whose New numbers hold a '?'.
        octets = ("length(CAST(customer_number AS BLOB))" if self.dialect == "sqlite"
                  else "octet_length(customer_number)")
        rows = self._rows(
            f"SELECT customer_number FROM {self._t('customers')} "
            f"WHERE {octets} > length(customer_number) AND length(customer_number) IN "
            f"(SELECT CAST(j.value AS INTEGER) FROM {self._values_table()})",
            (self._list_param([str(n) for n in sorted(set(lengths))]),))
        return pl.Series("customer_number", [r[0] for r in rows], pl.String)

    def group_names(self) -> pl.DataFrame:
        """Every group: columns name, name_key."""
        rows = self._rows(f"SELECT name, name_key FROM {self._t('groups')}")
        return pl.DataFrame(rows, schema={"name": pl.String, "name_key": pl.String},
                            orient="row")

    def has_name_blocks(self) -> bool:
        """Whether any customer has a name block (False: no customer can be paired, as in
        an empty register)."""
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

    def plan_batch(self, plan_id: str) -> int | None:
        """The batch a plan was committed as, or None if it was not."""
        rows = self._rows(f"SELECT id FROM {self._t('batches')} WHERE plan_id = ?", (plan_id,))
        return int(rows[0][0]) if rows else None

    def landed_batch(self, plan_id: str) -> int | None:
        """`plan_batch`, for a command that is stopping (Ctrl-C, SIGTERM) to name a
        batch that landed as it stopped: None when there is no register yet or the
        lookup fails, since nothing here may replace the stop's own line."""
        try:
            if self.register_id() is None:
                return None
            return self.plan_batch(plan_id)
        except Exception:  # noqa: BLE001 - see the docstring
            return None

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


def _split(values: list[str], parts: int) -> list[list[str]]:
    """`values` in `parts` runs of neighbours, as even as can be (none empty unless
    `values` is)."""
    if not values:
        return [[]]
    size = -(-len(values) // parts)
    return [values[start:start + size] for start in range(0, len(values), size)]


def _keys_per_part(frame: pl.DataFrame, keys: int) -> int:
    """How many keys a part of a read may hold for its values to come to about
    _PART_BYTES, judged by `frame`, the values read for `keys` keys."""
    size = text_bytes(frame).sum() or 0
    per_key = max(size / max(keys, 1), 1.0)
    return max(int(_PART_BYTES / per_key), 1)


def _json_columns(arrays: Sequence[str], schema: dict[str, Any]) -> pl.DataFrame:
    """A frame of `schema` from one JSON array of text per column (SQLite's
    json_group_array of the columns, aggregated over the same rows)."""
    return pl.DataFrame({name: _json_texts(name, text)
                         for name, text in zip(schema, arrays, strict=True)}).cast(schema)


def _json_texts(name: str, text: str) -> pl.Series:
    """The texts of one JSON array of text (and nulls) as a Series called `name`."""
    if len(text) > _LONG_JSON or len(text) <= _SHORT_JSON:
        # Long values (notes): json_decode's buffers kept 2.3x their size alive, where
        # json.loads builds them once. Short arrays (_SHORT_JSON) take it microseconds.
        # The ones between stay with polars: it decodes without holding Python's lock
        # while the other reader threads decode theirs (json.loads made the large case's
        # preview 1.5 s slower).
        return pl.Series(name, json.loads(text), dtype=pl.String)
    return (pl.Series(name, [text]).str.json_decode(pl.List(pl.String))
            .explode(empty_as_null=False))


def _tuples(frame: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The rows of a frame as tuples, built column by column (several times faster
    than DataFrame.iter_rows), a slice at a time to bound memory: _TUPLE_ROWS rows, or
    fewer where they are long (about _PART_BYTES of values; 10,000 history rows of
    edited 30,000-character notes were 570 MB of Python text at once)."""
    for start, length in slice_bounds(frame, _PART_BYTES, _TUPLE_ROWS):
        part = frame.slice(start, length)
        yield from zip(*(column.to_list() for column in part.iter_columns()), strict=True)



def _ident(name: str) -> str:
    """A column name quoted for SQL (custom field names may be SQL keywords)."""
    return f'"{name}"'
