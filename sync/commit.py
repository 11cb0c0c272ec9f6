"""What a commit writes, derived from a plan, and the commit itself.

Kept apart from the preview stages so that `regsync commit` imports only what it needs
(polars, the plan and the register engines), not the readers, normalisers and matchers.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from sync.commit_rows import CommitRows, in_memory
from sync.errors import StalePlanError
from sync.namekey import name_key
from sync.plan import APPLIED, Plan, PlanHeader, new_col, old_col
from sync.types import Progress
from sync.writers.register.base import BatchInfo, ChangeSet, Parts, Register


def changeset(rows: CommitRows) -> ChangeSet:
    """What committing the plan writes: its keys now; its inserts, updates and names in
    parts, read from the plan as the engine writes them."""
    fields = tuple(rows.header.fields)
    is_new = pl.col("status") == "New"
    keys = rows.columns(["status", "customer_number", "matched_by", new_col("customer_number"),
                         new_col("business_id"), new_col("name"), new_col("customer_group")])

    def column(expr: pl.Expr, where: pl.Expr | None = None) -> pl.Series:
        chosen = keys if where is None else keys.filter(where)
        return chosen.select(expr).to_series().drop_nulls()

    groups = tuple(column(pl.col(new_col("customer_group"))).unique(maintain_order=True)
                   .to_list())
    # What the matching of the rows that write relied on (spec section 6): their
    # customers, and the keys they found free or found on exactly one customer. And the
    # customers of No change rows: changed since, the file's values would now change
    # them, and a commit that said "every row applied or unchanged" would lose them.
    relies = {
        "customer_number": pl.concat([column(pl.col(new_col("customer_number")), is_new),
                                      rows.unchanged_customers().drop_nulls()]),
        "business_id": column(pl.col(new_col("business_id"))),
        "name_key": column(name_key(pl.col(new_col("name"))),
                           is_new | (pl.col("matched_by") == "name")),
    }
    # With similarity matching on, a row decided by its name relied on no other name in
    # the register being similar enough to match it (or to make it ambiguous).
    similar = rows.header.fuzzy_match_threshold is not None and bool(
        keys.select((is_new | (pl.col("matched_by") == "name")).any()).item())
    touched = column(pl.col("customer_number"))

    def each(statuses: tuple[str, ...], columns: list[str],
             make: Callable[[pl.DataFrame], pl.DataFrame]) -> Parts:
        return Parts(rows.part_count(statuses),
                     (make(p) for p in rows.parts(statuses, columns)), rows.count(statuses))

    values = [new_col(f) for f in fields]
    return ChangeSet(
        inserts=each(("New",), values, lambda part: _inserts(part, fields)),
        updates=each(("Modified",), ["customer_number", "changed_fields", *values,
                                      *[old_col(f) for f in fields]],
                     lambda part: _updates(part, fields)),
        names=each(APPLIED, _NAME_COLUMNS, _names), columns=(*fields, "name_key"),
        groups=groups, touched=touched, relies_on=relies, relies_on_similar_names=similar,
        custom_headers={f: tuple(h) for f, h in rows.header.custom_headers.items()
                        if f in fields})


def _inserts(new: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """The customers that New rows (their `new.` columns) insert."""
    return new.select([pl.col(new_col(f)).alias(f) for f in fields]).with_columns(
        name_key(pl.col("name")).alias("name_key"))


def _updates(modified: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """The field updates of Modified rows, one row per changed field;
    a changed name brings its name_key's."""
    changed = modified.select(pl.col("changed_fields").str.split("|")).to_series()
    parts = []
    for f in fields:
        mask = changed.list.contains(f)
        parts.append(modified.select("customer_number", pl.lit(f).alias("field"),
                                     pl.col(old_col(f)).alias("old"),
                                     pl.col(new_col(f)).alias("new")).filter(mask))
    renamed = parts[fields.index("name")].select(
        "customer_number", pl.lit("name_key").alias("field"),
        pl.lit(None, pl.String).alias("old"), name_key(pl.col("new")).alias("new")) \
        if "name" in fields else None
    return pl.concat([*parts, *([renamed] if renamed is not None else [])],
                     how="vertical_relaxed")


_NAME_COLUMNS = ["status", "customer_number", "changed_fields", new_col("customer_number"),
                 new_col("name"), old_col("name")]


def _names(rows: pl.DataFrame) -> pl.DataFrame:
    """customer_number, old, new name of the New and renamed customers among `rows`."""
    is_new = pl.col("status") == "New"
    renamed = pl.col("changed_fields").str.split("|").list.contains("name")
    return rows.filter(is_new | renamed).select(
        pl.when(is_new).then(pl.col(new_col("customer_number")))
        .otherwise(pl.col("customer_number")).alias("customer_number"),
        pl.when(is_new).then(None).otherwise(pl.col(old_col("name"))).alias("old"),
        pl.col(new_col("name")).alias("new"))


def commit(plan: Plan | CommitRows, register: Register, actor: str,
           progress: Progress | None = None, once: bool = False) -> BatchInfo:
    """Apply `plan` to `register` in one transaction, or refuse and write nothing.

    `plan` is a plan in memory, or one opened by `open_for_commit` (read in parts, so
    the commit holds a part of its rows at a time). `progress`, when given, is called
    as each step of COMMIT_STEPS begins. `once`: refuse a source whose content an import
    batch not reverted already committed. The batch records the plan's counts, its
    skipped (blank) rows included."""
    rows = plan if isinstance(plan, CommitRows) else in_memory(plan)
    header = rows.header
    planned_for = header.register_id
    if planned_for is not None and planned_for != register.register_id():
        raise StalePlanError("this plan was made against another register; "
                             "run preview again against this one")
    if header.register_history is None:
        # Made before plans recorded the register's history (and, with no register yet,
        # its location): the checks that a copy of the register, or another place,
        # does not take it can't be made (QA, upgrades).
        raise StalePlanError("this plan was made by an older regsync, which did not "
                             "record what the commit checks; run preview again")
    check_location(header, register.location)
    return register.apply(
        changeset(rows), plan_id=header.plan_id, plan_version=header.register_version,
        source=header.source, checksum=header.source_checksum, actor=actor,
        counts={**header.counts, "skipped": header.skipped}, progress=progress, once=once,
        plan_history=header.register_history)


def check_location(header: PlanHeader, location: str) -> None:
    """StalePlanError (exit 3) when a plan made where there was no register yet (no
    register_id) is committed to a register elsewhere: it would fill any empty one."""
    made_at = header.register_location
    if header.register_id is None and made_at is not None and made_at != location:
        raise StalePlanError(f"this plan was made against {made_at}, where there was no "
                             f"register yet, not against {location}; commit it there, or "
                             "run preview again against this one")
