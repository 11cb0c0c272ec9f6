"""A register in a DB-API database, whole: reads (`sql_reads`), commits (`sql_commit`),
and here schema migration, locks and invalidation, and reverts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from sync.errors import RegisterSchemaError, UsageError
from sync.groupkey import group_key, group_key_expr
from sync.namekey import name_key, name_key_of
from sync.types import Progress
from sync.writers.register.base import BatchInfo
from sync.writers.register.schema import (
    SCHEMA_VERSION,
    STATE_COLUMNS,
    schema_version_problem,
    upgrade_sql,
)
from sync.writers.register.sql_commit import SQLCommits, WrittenBlocks
from sync.writers.register.sql_reads import INTERNAL_COLUMNS, _ident

# The steps of a revert, as reported to a progress callback.
REVERT_STEPS: tuple[str, ...] = ("checking the batch can be reverted", "undoing its changes",
                                 "updating the name blocks")


class SQLRegister(SQLCommits):
    """A register in a DB-API database; subclasses give the engine specifics."""

    def migrate(self, progress: Progress | None = None) -> int | None:
        """Bring the register's schema to SCHEMA_VERSION in one transaction.

        Returns the version it was at, or None when it was already current. Customers,
        batches and history are not changed, so plans made before stay valid.
        `progress`, when given, is called as each version's upgrade begins ("upgrading
        to schema version N", step K of the upgrades), and as name blocks are computed.
        """
        with self._transaction():
            recorded = self._meta("schema_version")
            problem = schema_version_problem(self.label, recorded)
            if problem is None:
                return None
            if recorded is None or not recorded.isdigit() or not (
                    1 <= int(recorded) <= SCHEMA_VERSION):
                raise RegisterSchemaError(problem)  # damaged, or made by a newer regsync
            found = int(recorded)
            steps = SCHEMA_VERSION - found
            for step, version in enumerate(range(found, SCHEMA_VERSION), start=1):
                shown = f"upgrading to schema version {version + 1}"
                if progress is not None:
                    progress(shown, step, steps)
                for statement in upgrade_sql(self.dialect, version, self.prefix):
                    self._execute(statement)
                if version == 1:
                    self._fill_blocks(counted=None if progress is None else (
                        lambda n, shown=shown, step=step: progress(
                            f"{shown}: name blocks of {n:,} customers", step, steps)))
            self._execute(f"UPDATE {self._t('meta')} SET value = ? "
                          f"WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        return found

    def rebuild_blocks(self, progress: Progress | None = None) -> tuple[int, int]:
        """Compute every customer's name blocks afresh, in one transaction, as a commit
        into an empty register would: blocks left full by customers who have since
        left them are counted again, and blocks stored whole by an older regsync are
        cut to FULL_BLOCK. Customers, batches and history are untouched. Returns the
        block rows before and after. `progress`, when given, is called as each part
        of the customers begins, with the count of customers done so far."""
        count = f"SELECT COUNT(*) FROM {self._t('name_blocks')}"
        with self._transaction():
            before = int(self._rows(count)[0][0])
            self._execute(f"DELETE FROM {self._t('name_blocks')}")
            self._fill_blocks(counted=None if progress is None else (
                lambda n: progress(f"computing name blocks: {n:,} customers", 1, 1)))
            return before, int(self._rows(count)[0][0])

    def _fill_blocks(self, chunk_rows: int = 200_000,
                     counted: Callable[[int], None] | None = None) -> None:
        """Compute the name blocks of every customer into an empty name_blocks table
        (migration to version 2, rebuild_blocks); `counted` is told the customers done
        before each part."""
        done = 0
        last = -1
        written = WrittenBlocks()  # the table is empty: every row in it is one written here
        while True:
            rows = self._rows(f"SELECT id, customer_number, name FROM {self._t('customers')} "
                              f"WHERE id > ? ORDER BY id LIMIT {chunk_rows}", (last,))
            if counted is not None:
                counted(done)
            if not rows:
                return
            last = rows[-1][0]
            done += len(rows)
            names = pl.DataFrame([r[1:] for r in rows], orient="row",
                                 schema={"customer_number": pl.String, "name": pl.String})
            self._refresh_blocks(names.clear(), names, fresh=names["customer_number"],
                                 written=written)

    # -- writing: locks, invalidation ------------------------------------------------

    def set_state(self, numbers: Sequence[str], column: str, value: str | None,
                  actor: str, kind: str) -> BatchInfo | None:
        """Set a state column (locked_by, invalidated) of customers, as a batch of its own.

        Unknown customers are refused (nothing written), and so is a lock of customers
        another actor has locked: a lock is never taken over silently, it is unlocked
        first. Customers already in that state are left as they are. None when all of
        them are: no batch is made, so the version stays and plans made before stay
        valid.
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
            if column == "locked_by" and value is not None:
                held = [n for n in dict.fromkeys(numbers) if current[n] not in (None, value)]
                if len(held) == 1:
                    raise UsageError(f"customer {held[0]} is locked by {current[held[0]]}; "
                                     f"nothing was locked (unlock it first to take the "
                                     f"lock over)")
                if held:
                    shown = ", ".join(f"{n} (by {current[n]})" for n in held[:10])
                    raise UsageError(f"customers locked by someone else: {shown}; nothing "
                                     f"was locked (unlock them first to take the lock over)")
            # Invalidation stores its time: a customer invalidated already keeps the
            # time it was invalidated at (a second invalidate is no change).
            changing = [n for n in dict.fromkeys(numbers)
                        if (current[n] is None) != (value is None)
                        or (column == "locked_by" and current[n] != value)]
            if not changing:
                # No batch: the version stays, so plans made before stay valid.
                return None
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

    def revert(self, batch_id: int, actor: str,
               progress: Progress | None = None) -> BatchInfo:
        """Undo a batch as a batch of its own, or refuse and write nothing.

        Restores old field values, removes the customers the batch created (and groups it
        created that are now empty), puts back customers it removed. Refuses while later
        batches that are not reverted changed the same customers. `progress`, when
        given, is called as each step of REVERT_STEPS begins.
        """
        def step(number: int) -> None:
            if progress is not None:
                progress(REVERT_STEPS[number - 1], number, len(REVERT_STEPS))

        step(1)
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
            self._refuse_if_business_ids_shared(entries, batch_id)
            new_id, version, now = self._open_batch(
                "revert", actor, reverts=batch_id,
                counts={"customers": entries["customer_number"].n_unique()})
            # Only customers whose name the revert may change (or who come or go) change
            # blocks: reverting 1M changed cities recomputed 1M names' blocks (10 s).
            named = entries.filter((pl.col("action") != "update") | (pl.col("field") == "name")
                                   )["customer_number"].unique()
            before = self.fetch(named, ("name",))
            step(2)
            removed = self._undo(entries, new_id, now, actor)
            step(3)
            self._refresh_blocks(before, self.fetch(named, ("name",)))
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
        update = pl.col("action") == "update"
        fields = tuple(entries.filter(update)["field"].unique().to_list())
        current = self.fetch(entries["customer_number"].unique(), fields)
        held = pl.col("customer_number").is_in(current["customer_number"].implode())
        values = (current.select("customer_number", *[pl.col(f).cast(pl.String) for f in fields])
                  .unpivot(index="customer_number", variable_name="field", value_name="now")
                  if fields else pl.DataFrame(schema={"customer_number": pl.String,
                                                      "field": pl.String, "now": pl.String}))
        checked = entries.select("customer_number", "action", "field", "new_value").join(
            values, on=["customer_number", "field"], how="left", maintain_order="left")
        group = pl.col("field") == "customer_group"
        # A group is the same whatever its case; no group is "" (as the register reads it).
        now, new = (pl.when(group).then(group_key_expr(
            pl.when(group).then(pl.col(c).fill_null("")))).otherwise(pl.col(c))
            for c in ("now", "new_value"))
        same = (pl.when(update).then(held & now.eq_missing(new))
                .otherwise(held == (pl.col("action") != "delete")))
        moved = checked.filter(~same)["customer_number"].to_list()
        if moved:
            shown = ", ".join(sorted(set(moved))[:5])
            raise UsageError(f"batch {batch_id} can't be reverted: customers {shown} were "
                             f"changed after it; revert the later batches first")

    def _refuse_if_business_ids_shared(self, entries: pl.DataFrame, batch_id: int) -> None:
        """Refuse if a business id the revert puts back is another customer's by then.

        A later batch may have given the id to another customer (a new one, or one whose
        id changed) without touching the customers of this batch, so the checks above
        pass; putting the id back would leave two customers with it. The register as
        the revert leaves it is what counts: customers the revert removes hold nothing,
        and customers whose business id it changes hold the value it puts back.
        (Customer numbers need no such check: a customer put back whose number is taken
        is refused above.)
        """
        after: dict[str, str | None] = {}  # the business id each touched customer keeps
        for number, action, field_name, old in entries.select(
                "customer_number", "action", "field", "old_value").iter_rows():
            if action == "insert":
                after[number] = None
            elif action == "delete":
                after[number] = json.loads(old).get("business_id")
            elif field_name == "business_id":
                after[number] = old
        restored = {number: value for number, value in after.items() if value is not None}
        if not restored:
            return
        holders: dict[str, set[str]] = {}
        for value, number in self.lookup(
                "business_id", pl.Series(list(set(restored.values())), dtype=pl.String)
        ).iter_rows():
            if number not in after:  # touched customers hold what the revert leaves
                holders.setdefault(value, set()).add(number)
        for number, value in restored.items():
            holders.setdefault(value, set()).add(number)
        for value in sorted(set(restored.values())):
            owners = sorted(holders[value])
            if len(owners) < 2:
                continue
            given = [o for o in owners if o in restored]
            others = [o for o in owners if o not in restored]
            if others:
                raise UsageError(
                    f"batch {batch_id} can't be reverted: it would give business_id {value} "
                    f"back to customer {', '.join(given)}, but customer "
                    f"{', '.join(others)} has it now")
            raise UsageError(
                f"batch {batch_id} can't be reverted: it would give business_id {value} "
                f"back to customers {', '.join(given)}, and two customers can't share one")

    def _undo(self, entries: pl.DataFrame, batch_id: int, now: str, actor: str) -> int:
        """Undo history `entries` (newest first): delete the customers they inserted,
        restore those they deleted, put back old field values; each undone entry gets
        its history row. Old values go back through the commit's bulk paths (a
        statement per combination of columns on SQLite, COPY and one UPDATE on
        PostgreSQL, where a statement per value made reverting 200,000 customers 15 s),
        and the history rows in one write."""
        rows = entries.select("customer_number", "action", "field", "old_value", "new_value")
        action = pl.col("action")
        inserted = rows.filter(action == "insert")["customer_number"]
        snapshots = self._snapshots(inserted)
        group_ids = self._restored_groups(rows, batch_id)
        for old in rows.filter(action == "delete")["old_value"]:
            self._restore_customer(json.loads(old), batch_id)
        self._delete_rows("customers", inserted.to_frame())
        self._put_back(rows.filter(action == "update"), group_ids, batch_id)
        history = rows.join(snapshots, on="customer_number", how="left",
                            maintain_order="left")
        # A group put back is recorded as the register spells it now: removed when empty
        # and created anew in another case (POHJOLA for Pohjola), it is that group the
        # customer is in (mutation QA; commits do the same, see _group_spelling).
        group = (action == "update") & (pl.col("field") == "customer_group")
        history = history.with_columns(
            pl.when(group & pl.col("old_value").is_not_null())
            .then(self._group_spelling(history["old_value"]))
            .otherwise(pl.col("old_value")).alias("old_value"))
        self._write_history(history.select(
            pl.lit(batch_id, pl.Int64).alias("batch_id"), "customer_number",
            pl.when(action == "insert").then(pl.lit("delete"))
            .when(action == "delete").then(pl.lit("insert"))
            .otherwise(pl.lit("update")).alias("action"),
            pl.when(action == "update").then(pl.col("field")).alias("field"),
            pl.when(action == "insert").then(pl.col("snapshot"))
            .when(action == "update").then(pl.col("new_value")).alias("old_value"),
            pl.when(action != "insert").then(pl.col("old_value")).alias("new_value"),
            pl.lit(now).alias("changed_at"), pl.lit(actor).alias("actor")))
        return inserted.len()

    def _put_back(self, updates: pl.DataFrame, group_ids: dict[str, int],
                  batch_id: int) -> None:
        """Set each (customer_number, field) of `updates` to its `old_value` (a renamed
        customer's matching key too)."""
        if updates.is_empty():
            return
        values = updates.select("customer_number", "field", "old_value")
        renamed = values.filter(pl.col("field") == "name").select(
            "customer_number", pl.lit("name_key").alias("field"),
            name_key(pl.col("old_value")).alias("old_value"))
        self._set_values(pl.concat([values, renamed]), "old_value", group_ids, batch_id)

    def _restored_groups(self, rows: pl.DataFrame, batch_id: int) -> dict[str, int]:
        """Group ids by name key, after creating the groups that old values name and the
        register no longer has (removed since, as empty groups of a reverted batch)."""
        group_ids = self._group_ids()
        named = rows.filter((pl.col("action") == "update")
                            & (pl.col("field") == "customer_group")
                            & pl.col("old_value").is_not_null())["old_value"]
        missing = [g for g in named.to_list() if group_key(g) not in group_ids]
        if missing:
            self._ensure_groups(missing, batch_id)
            group_ids = self._group_ids()
        return group_ids

    def _snapshots(self, numbers: pl.Series) -> pl.DataFrame:
        """Each of these customers as the JSON record a history row keeps of it (as a
        commit's insert writes it: every field, null where empty): columns
        customer_number, snapshot. Encoded by polars (json.dumps per customer was 3 s
        of reverting 200,000 inserted customers)."""
        schema = {"customer_number": pl.String, "snapshot": pl.String}
        if numbers.is_empty():
            return pl.DataFrame(schema=schema)
        fields = ["customer_number", *sorted(
            c for c in self._customer_columns()
            if c not in INTERNAL_COLUMNS and c != "customer_number"), "customer_group"]
        frame = self.fetch(numbers, tuple(fields))
        return frame.select(pl.col("customer_number").cast(pl.String),
                            pl.struct([pl.col(f).cast(pl.String) for f in fields])
                            .struct.json_encode().alias("snapshot"))

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
