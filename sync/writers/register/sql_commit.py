"""Committing a plan: one transaction that inserts, updates, records history and keeps
the name blocks in step, after checking the plan is not stale (both engines; an engine
may replace the bulk paths `_insert_rows`, `_update_rows`, `_insert_blocks`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import polars as pl

from sync.errors import AlreadyCommittedError, StalePlanError
from sync.groupkey import group_key, group_key_expr, group_keys
from sync.namekey import FULL_BLOCK, first_members, name_blocks
from sync.types import Progress
from sync.writers.register.base import (
    COMMIT_STEPS,
    BatchInfo,
    ChangeSet,
    KeyField,
    Parts,
)
from sync.writers.register.sql_reads import HISTORY_COLUMNS, SQLReads, _ident, _tuples

_UPDATE_BLOCK = 20_000  # customers updated per block of neighbouring keys


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class WrittenBlocks:
    """The name-block rows a transaction has written into a register that had none
    when it began: there they are all the stored rows, so their sizes need no read
    (a 5M-customer first load asked them once per part of 500,000)."""

    def __init__(self) -> None:
        self.sizes = pl.DataFrame(schema={"block": pl.String, "size": pl.Int64})

    def add(self, blocks: pl.Series, sign: int = 1) -> None:
        """Count rows written (sign 1) or deleted (-1) in these blocks."""
        if blocks.is_empty():
            return
        counts = blocks.value_counts(name="size").select(
            "block", pl.col("size").cast(pl.Int64) * sign)
        self.sizes = (pl.concat([self.sizes, counts]).group_by("block")
                      .agg(pl.col("size").sum()))


class SQLCommits(SQLReads):
    """A register's reads, and its commits."""

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

    def _append_rows(self, table: str, rows: pl.DataFrame) -> None:
        """Insert `rows` (columns by name) into `table` (a register table's short name)."""
        if rows.is_empty():
            return
        self._executemany(
            f"INSERT INTO {self._t(table)} ({', '.join(map(_ident, rows.columns))}) "
            f"VALUES ({', '.join('?' * rows.width)})", _tuples(rows))

    def _delete_rows(self, table: str, keys: pl.DataFrame) -> None:
        """Delete the rows of `table` (a register table's short name) whose key columns
        (the columns of `keys`, String) hold a row of `keys`."""
        if keys.is_empty():
            return
        where = " AND ".join(f"{_ident(c)} = ?" for c in keys.columns)
        self._executemany(f"DELETE FROM {self._t(table)} WHERE {where}", _tuples(keys))

    def _insert_blocks(self, blocks: pl.DataFrame) -> None:
        """Write the (block, customer_number, name) rows of customers that had no blocks
        (inserted in this transaction). An engine may skip the conflict check here
        (PostgreSQL does); SQLite's upsert costs what its plain insert does, so it
        upserts."""
        self._upsert_blocks(blocks)

    def _refresh_blocks(self, before: pl.DataFrame, after: pl.DataFrame,
                        fresh: pl.Series | None = None,
                        written: WrittenBlocks | None = None) -> None:
        """Keep name_blocks in step with names: `before` and `after` hold the
        (customer_number, name) of customers whose name changed, as they were and are;
        a customer missing from `after` is gone. `fresh` names customers that have no
        blocks yet (inserted in this transaction): theirs are inserted without the
        conflict check an upsert makes (PostgreSQL: 2.5x cheaper).

        A block stops growing once it is full (FULL_BLOCK members stored): the scan
        skips such a block, so its other members would never be read. A full block is
        left as it is, rows of renamed or removed customers included, so that it stays
        full; every block that is not full holds exactly its customers. New members
        (new customers, renamed or restored ones) go into a block only while it has
        room, so no block stores more than FULL_BLOCK.

        `written`, when given, is every block row stored (the register had none when
        the transaction began, and each refresh adds to it): sizes are not asked.
        """
        def blocks(names: pl.DataFrame) -> pl.DataFrame:
            names = names.select(pl.col("customer_number").cast(pl.String),
                                 pl.col("name").cast(pl.String)).filter(
                pl.col("name").is_not_null())
            return name_blocks(names["customer_number"], names["name"])
        old, new = blocks(before), blocks(after)
        key = ["block", "customer_number"]
        gone = old.join(new, on=key, how="anti")
        changed = new.join(old, on=[*key, "name"], how="anti")
        stored = (written.sizes if written is not None
                  else self._stored_sizes(gone, changed))
        # In a full block a member may not be stored: writing its new name would add it.
        not_full = ~pl.col("block").is_in(
            stored.filter(pl.col("size") >= FULL_BLOCK)["block"].implode())
        gone, changed = gone.filter(not_full), changed.filter(not_full)
        self._delete_rows("name_blocks", gone.select(key))
        # Members already stored whose name changed, and new members as room allows.
        renamed = changed.join(old, on=key, how="semi")
        joining = _within_room(changed.join(old, on=key, how="anti").sort(key), stored, gone)
        if fresh is not None:
            is_fresh = pl.col("customer_number").is_in(fresh.cast(pl.String).implode())
            first = joining.filter(is_fresh)
            if not first.is_empty():
                self._insert_blocks(first)
            upserted = pl.concat([renamed, joining.filter(~is_fresh)])
        else:
            upserted = pl.concat([renamed, joining])
        if not upserted.is_empty():
            self._upsert_blocks(upserted.sort(key))
        if written is not None:
            written.add(joining["block"])
            written.add(gone["block"], -1)

    def _stored_sizes(self, gone: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
        """How many members the register stores of the blocks a refresh touches, counted
        up to FULL_BLOCK: block, size (every block, so no row is ever written to a full
        one, where it could meet the left-over row of a removed customer)."""
        asked = pl.concat([gone["block"], changed["block"]]).unique()
        if asked.is_empty() or not self.has_name_blocks():
            return pl.DataFrame(schema={"block": pl.String, "size": pl.Int64})
        return self.block_sizes(asked.to_list(), FULL_BLOCK)

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
              progress: Progress | None = None, once: bool = False,
              plan_history: str | None = None) -> BatchInfo:
        """Apply a change set in one transaction; StalePlanError if the plan is stale.

        `progress`, when given, is called as each step of COMMIT_STEPS begins. `once`:
        AlreadyCommittedError if an import batch not reverted has this source checksum
        (checked inside the transaction, so two runners can't both commit a file).
        `plan_history`: the register's history_digest where the plan was made; this
        register must have passed through that state (not a copy gone another way)."""
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

        def check() -> None:
            if once:  # first: a plan made before the other commit is stale as well
                self._check_first_commit(checksum)
            self._check_not_stale(changes, plan_id, plan_version, plan_history)

        # A refused commit adds no column either: exports would show it from then on.
        self._add_columns(changes.columns, check)
        with self._transaction():
            step("checking the plan is current")
            check()
            batch_id, version, now = self._open_batch(
                "import", actor, plan_id=plan_id, source=source, checksum=checksum,
                counts=counts)
            self._ensure_columns(changes.columns)
            self._remember_headers(changes.custom_headers)
            created = self._ensure_groups(changes.groups, batch_id)
            inserted = updated = 0
            with self._bulk_insert(changes.inserts.rows):
                for inserts in each("inserting customers", changes.inserts):
                    self._insert(inserts, batch_id, now, actor)
                    inserted += inserts.height
            for updates in each("updating customers", changes.updates):
                self._update(updates, batch_id, now, actor)
                updated += updates["customer_number"].n_unique()
            written = None if self.has_name_blocks() else WrittenBlocks()
            for names in each("updating name blocks", changes.names):
                renamed = names.filter(pl.col("old").is_not_null())
                self._refresh_blocks(
                    renamed.select("customer_number", pl.col("old").alias("name")),
                    names.select("customer_number", pl.col("new").alias("name")),
                    fresh=names.filter(pl.col("old").is_null())["customer_number"],
                    written=written)
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

    def _check_not_stale(self, changes: ChangeSet, plan_id: str, plan_version: int,
                         plan_history: str | None = None) -> None:
        done = self._rows(f"SELECT id FROM {self._t('batches')} WHERE plan_id = ?", (plan_id,))
        if done:
            raise StalePlanError(f"this plan was already committed as batch {done[0][0]}; "
                                 f"run preview again")
        self._check_same_history(plan_version, plan_history)
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

    def _check_same_history(self, plan_version: int, plan_history: str | None) -> None:
        """StalePlanError unless this register went through the state the plan was made
        against: a copy of it (a backup restored, a file copied) shares its id, and may
        share its version, while holding other values; a plan's old values and the
        matching it did hold only for the register it read."""
        version = self.version()
        if version < plan_version:
            raise StalePlanError(
                f"plan is stale: it was made against version {plan_version} of this "
                f"register, which is at version {version} (a copy, or a backup restored "
                f"since?); run preview again against it")
        if plan_history is not None and self.history_digest(plan_version) != plan_history:
            raise StalePlanError(
                "plan is stale: this register's batches differ from those of the register "
                "the plan was made against (another copy of it, or a backup restored "
                "since?); run preview again against it")

    def _add_columns(self, columns: Iterable[str], check: Callable[[], None]) -> None:
        """Before the commit's transaction: add the customers columns it needs, where an
        engine does that apart (PostgreSQL does), after `check` (the commit's own checks,
        raising when the commit would be refused) passes in the same transaction. Here
        `_ensure_columns` adds them in the commit's transaction, which holds the whole
        file anyway (SQLite)."""

    def _missing_columns(self, columns: Iterable[str]) -> list[str]:
        """The columns of `columns` the customers table lacks: custom fields from the
        rules, checked as identifiers by sync.rules."""
        present = self._customer_columns()
        return [name for name in columns
                if name not in present and name not in ("customer_group", "name_key")]

    def _ensure_columns(self, columns: Iterable[str]) -> None:
        for name in self._missing_columns(columns):
            self._execute(f"ALTER TABLE {self._t('customers')} ADD COLUMN {_ident(name)} TEXT")

    def _remember_headers(self, headers: Mapping[str, Sequence[str]]) -> None:
        """Add `headers` (by custom field) to those the register remembers, inside the
        commit's transaction."""
        known = self.custom_headers()
        merged = {f: sorted({*known.get(f, []), *headers.get(f, [])})
                  for f in {*known, *headers}}
        if merged == known:
            return
        self._execute(f"DELETE FROM {self._t('meta')} WHERE key = 'custom_headers'")
        self._execute(f"INSERT INTO {self._t('meta')} (key, value) VALUES ('custom_headers', ?)",
                      (json.dumps(merged, ensure_ascii=False, sort_keys=True),))

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

    def _group_spelling(self, names: pl.Series) -> pl.Series:
        """`names` (groups, as a plan spells them) as the register's groups are spelt.

        A plan that would create `Uudet` finds `UUDET` if another commit created it since:
        the customer joins that group, and its history must say so, not `Uudet` (QA)."""
        spelt = {r[0]: r[1] for r in self._rows(
            f"SELECT name_key, name FROM {self._t('groups')}")}
        return group_keys(names).replace_strict(spelt, default=None, return_dtype=pl.String)

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
        if group is not None:
            inserts = inserts.with_columns(self._group_spelling(group).alias("customer_group"))
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
        self._append_rows("customers", rows.select(
            c for c in rows.columns if rows[c].null_count() < rows.height))

    def _update(self, updates: pl.DataFrame, batch_id: int, now: str, actor: str) -> None:
        if updates.is_empty():
            return
        self._set_values(updates, "new", self._group_ids(), batch_id)
        recorded = updates.filter(pl.col("field") != "name_key")
        if (recorded["field"] == "customer_group").any():
            spelt = self._group_spelling(recorded["new"])
            recorded = recorded.with_columns(
                pl.when(pl.col("field") == "customer_group").then(spelt)
                .otherwise(pl.col("new")).alias("new"))
        self._write_history(recorded.select(
            pl.lit(batch_id, pl.Int64).alias("batch_id"), "customer_number",
            pl.lit("update").alias("action"), "field", pl.col("old").alias("old_value"),
            pl.col("new").alias("new_value"), pl.lit(now).alias("changed_at"),
            pl.lit(actor).alias("actor")))

    def _set_values(self, updates: pl.DataFrame, value: str, group_ids: dict[str, int],
                    batch_id: int) -> None:
        """Set each (customer_number, field) of `updates` to its column `value` (a group
        by its name, through `group_ids`); where a pair comes twice, the last one's.

        One row per customer, all its changed columns side by side (value v<i> and
        "changed" mark m<i> for columns[i]): each customer is updated once, in key order,
        instead of once per changed field."""
        wide = updates.select("customer_number").unique().sort("customer_number")
        columns: list[str] = []
        for (field_name,), part in updates.group_by(["field"], maintain_order=True):
            if field_name == "customer_group":
                column = "group_id"
                new = group_key_expr(pl.col(value)).replace_strict(
                    group_ids, default=None, return_dtype=pl.Int64)
            else:
                column, new = str(field_name), pl.col(value)
            i = len(columns)
            columns.append(column)
            wide = wide.join(part.unique("customer_number", keep="last", maintain_order=True)
                             .select("customer_number", new.alias(f"v{i}"),
                                     pl.lit(True).alias(f"m{i}")),
                             on="customer_number", how="left", maintain_order="left")
        wide = wide.with_columns(pl.col(f"m{i}").fill_null(False) for i in range(len(columns)))
        self._update_rows(columns, wide, batch_id)

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
        self._append_rows("history", rows.select(HISTORY_COLUMNS))


def _relied(changes: ChangeSet, key: KeyField) -> pl.Series:
    """The values of `key` the plan relied on (none when it names none)."""
    return changes.relies_on.get(key, pl.Series(dtype=pl.String))


def _within_room(rows: pl.DataFrame, stored: pl.DataFrame, gone: pl.DataFrame) -> pl.DataFrame:
    """The rows (sorted by block) of new members that fit in their blocks: no more per
    block than it takes to make it full, counted from its stored size less the members
    it just lost. A block the register holds no member of has room for FULL_BLOCK."""
    if stored.is_empty():
        return first_members(rows)
    lost = gone.group_by("block").len("lost")
    room = (stored.join(lost, on="block", how="left")
            .select("block", (FULL_BLOCK - pl.col("size")
                              + pl.col("lost").fill_null(0)).alias("room")))
    return (rows.join(room, on="block", how="left", maintain_order="left")
            .filter(pl.int_range(pl.len()).over("block")
                    < pl.col("room").fill_null(FULL_BLOCK))
            .drop("room"))
