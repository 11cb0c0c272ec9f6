"""What a commit writes, derived from a plan, and the commit itself.

Kept apart from the preview stages so that `regsync commit` imports only what it needs
(polars, the plan and the register engines), not the readers, normalisers and matchers.
"""

from __future__ import annotations

import polars as pl

from sync.errors import StalePlanError
from sync.namekey import name_key
from sync.plan import APPLIED, Plan, commit_columns, new_col, old_col
from sync.types import Progress
from sync.writers.register.base import BatchInfo, ChangeSet, Register


def changeset(plan: Plan) -> ChangeSet:
    """What committing `plan` writes: inserts, field updates, groups, and its keys."""
    fields = tuple(plan.header.fields)
    rows = plan.rows.select(commit_columns(fields))  # no copy: the columns are shared
    is_new = pl.col("status") == "New"
    # Only the rows that write are copied: a plan holds every source row.
    new = rows.filter(is_new)
    inserts = new.select([pl.col(new_col(f)).alias(f) for f in fields]).with_columns(
        name_key(pl.col("name")).alias("name_key"))
    modified = rows.filter(pl.col("status") == "Modified")
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
    updates = pl.concat([*parts, *([renamed] if renamed is not None else [])],
                        how="vertical_relaxed")
    writing = rows.lazy().filter(pl.col("status").is_in(APPLIED))

    def column(expr: pl.Expr, where: pl.Expr | None = None) -> pl.Series:
        # One column of the writing rows, in row order (each read alone, so no copy of
        # the wide rows is made for it).
        chosen = writing if where is None else writing.filter(where)
        return chosen.select(expr).collect().to_series().drop_nulls()

    groups = tuple(column(pl.col(new_col("customer_group"))).unique(maintain_order=True)
                   .to_list())
    # What the matching of the rows that write relied on (spec section 6): their
    # customers, and the keys they found free or found on exactly one customer.
    relies = {
        "customer_number": new[new_col("customer_number")].drop_nulls(),
        "business_id": column(pl.col(new_col("business_id"))),
        "name_key": column(name_key(pl.col(new_col("name"))),
                           is_new | (pl.col("matched_by") == "name")),
    }
    # With similarity matching on, a row decided by its name relied on no other name in
    # the register being similar enough to match it (or to make it ambiguous).
    similar = plan.header.fuzzy_match_threshold is not None and (
        new.height > 0 or bool((modified["matched_by"] == "name").any()))
    return ChangeSet(inserts=inserts, updates=updates, groups=groups,
                     touched=column(pl.col("customer_number")),
                     relies_on=relies, relies_on_similar_names=similar)


def commit(plan: Plan, register: Register, actor: str,
           progress: Progress | None = None, once: bool = False) -> BatchInfo:
    """Apply `plan` to `register` in one transaction, or refuse and write nothing.

    `progress`, when given, is called as each step of COMMIT_STEPS begins. `once`: refuse
    a source whose content an import batch not reverted already committed."""
    planned_for = plan.header.register_id
    if planned_for is not None and planned_for != register.register_id():
        raise StalePlanError("this plan was made against another register; "
                             "run preview again against this one")
    return register.apply(
        changeset(plan), plan_id=plan.header.plan_id,
        plan_version=plan.header.register_version, source=plan.header.source,
        checksum=plan.header.source_checksum, actor=actor, counts=plan.header.counts,
        progress=progress, once=once)
