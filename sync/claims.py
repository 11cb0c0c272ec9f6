"""Keys claimed by earlier rows (spec section 4): later rows bringing them are Conflicts.

Rows handled normally claim keys in row order: a New row its customer_number and
business_id, a Modified row the business_id it sets. A row bringing a key that an earlier
row has claimed is a Conflict and claims nothing, so a third row may take a key that
the second, conflicting row brought.
"""

from __future__ import annotations

import polars as pl

CONFLICT_SCHEMA = {"_row": pl.Int64, "why": pl.String}
_KEYS = ("customer_number", "business_id")  # the order a row's keys are reported in
_ROUNDS = 64


def claim_conflicts(claimants: pl.DataFrame) -> pl.DataFrame:
    """The claimants that bring an already claimed key: _row, why ("same business_id as
    row 7").

    `claimants`: _row (unique), customer_number and business_id (null where the row
    claims no such key). A row conflicts when one of its keys was claimed by an earlier
    row that did not conflict itself; `why` names the first such key.
    """
    claimants = claimants.select("_row", *_KEYS).sort("_row")
    # The rows that conflict are the fixed point of "some key of mine belongs to an
    # earlier row that does not conflict". Started from "none conflict" it is found
    # within as many rounds as the longest chain of rows passing a key on (1 or 2 in
    # real files); past the cap, the plain row-by-row walk decides.
    conflict = pl.Series("conflict", [False] * claimants.height, dtype=pl.Boolean)
    for _ in range(_ROUNDS):
        earlier = _earlier_claims(claimants, conflict)
        now = earlier["customer_number"].is_not_null() | earlier["business_id"].is_not_null()
        if now.equals(conflict):
            return _reasons(claimants, earlier, now)
        conflict = now.alias("conflict")
    return _walk(claimants)


def _earlier_claims(claimants: pl.DataFrame, conflict: pl.Series) -> pl.DataFrame:
    """Per claimant and key, the earliest row before it that brings the same key and
    is not in `conflict` (null if none)."""
    holders = claimants.filter(~conflict)
    found = claimants.select("_row", *_KEYS)
    for key in _KEYS:
        first = (holders.filter(pl.col(key).is_not_null()).group_by(key)
                 .agg(pl.col("_row").min().alias("_first")))
        found = (found.join(first, on=key, how="left", maintain_order="left")
                 .with_columns(pl.when(pl.col("_first") < pl.col("_row"))
                               .then(pl.col("_first")).alias(key))
                 .drop("_first"))
    return found


def _reasons(claimants: pl.DataFrame, earlier: pl.DataFrame,
             conflict: pl.Series) -> pl.DataFrame:
    why = pl.coalesce([pl.when(pl.col(key).is_not_null())
                       .then(pl.format(f"same {key} as row {{}}", pl.col(key)))
                       for key in _KEYS])
    return earlier.filter(conflict).select("_row", why.alias("why")).cast(CONFLICT_SCHEMA)


def _walk(claimants: pl.DataFrame) -> pl.DataFrame:
    """The same answer row by row (for pathological chains)."""
    claimed: dict[tuple[str, str], int] = {}
    found: list[tuple[int, str]] = []
    for row, *values in claimants.iter_rows():
        keys = [(k, v) for k, v in zip(_KEYS, values, strict=True) if v is not None]
        earlier = next(((k, claimed[(k, v)]) for k, v in keys if (k, v) in claimed), None)
        if earlier is not None:
            found.append((row, f"same {earlier[0]} as row {earlier[1]}"))
            continue
        for key in keys:
            claimed[key] = row
    return pl.DataFrame(found, schema=CONFLICT_SCHEMA, orient="row")
