"""Keys claimed by earlier rows (spec section 4): later rows bringing them are Conflicts.

Rows handled normally claim keys in row order: a matched row (Modified, No change) its
customer (`match`), a New row its customer_number and business_id, a Modified row the
business_id it sets. A row bringing a key that an earlier row has claimed is a Conflict
and claims nothing, so a third row may take a key, or reach a customer, that the
second, conflicting row brought.
"""

from __future__ import annotations

import polars as pl

CONFLICT_SCHEMA = {"_row": pl.Int64, "why": pl.String}
# The order a row's keys are reported in: a row that reaches a claimed customer is said
# to be "same customer as row N", whatever else it brings.
_KEYS = ("match", "customer_number", "business_id")
_SAID = {"match": "same customer as row {}", "customer_number": "same customer_number as row {}",
         "business_id": "same business_id as row {}"}
_ROUNDS = 64


def claim_conflicts(claimants: pl.DataFrame) -> pl.DataFrame:
    """The claimants that bring an already claimed key: _row, why ("same business_id as
    row 7", "same customer as row 2").

    `claimants`: _row (unique), match (the customer a matched row reaches),
    customer_number and business_id (each null where the row claims no such key). A row
    conflicts when one of its keys was claimed by an earlier row that did not conflict
    itself; `why` names the first such key.
    """
    # Only a row sharing a key with another can conflict or make another conflict; in
    # a real file nearly all rows share none (a 1M-row file: 0.15 s spent on them).
    shared = pl.any_horizontal(pl.col(k).is_not_null() & pl.col(k).is_duplicated()
                               for k in _KEYS)
    claimants = claimants.select("_row", *_KEYS).filter(shared).sort("_row")
    # The rows that conflict are the fixed point of "some key of mine belongs to an
    # earlier row that does not conflict". Started from "none conflict" it is found
    # within as many rounds as the longest chain of rows passing a key on (1 or 2 in
    # real files); past the cap, the plain row-by-row walk decides.
    conflict = pl.Series("conflict", [False] * claimants.height, dtype=pl.Boolean)
    for _ in range(_ROUNDS):
        earlier = _earlier_claims(claimants, conflict)
        now = earlier.select(pl.any_horizontal(pl.col(k).is_not_null() for k in _KEYS)
                             ).to_series()
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
                       .then(pl.format(_SAID[key], pl.col(key))) for key in _KEYS])
    return earlier.filter(conflict).select("_row", why.alias("why")).cast(CONFLICT_SCHEMA)


def _walk(claimants: pl.DataFrame) -> pl.DataFrame:
    """The same answer row by row (for pathological chains)."""
    claimed: dict[tuple[str, str], int] = {}
    found: list[tuple[int, str]] = []
    for row, *values in claimants.iter_rows():
        keys = [(k, v) for k, v in zip(_KEYS, values, strict=True) if v is not None]
        earlier = next(((k, claimed[(k, v)]) for k, v in keys if (k, v) in claimed), None)
        if earlier is not None:
            found.append((row, _SAID[earlier[0]].format(earlier[1])))
            continue
        for key in keys:
            claimed[key] = row
    return pl.DataFrame(found, schema=CONFLICT_SCHEMA, orient="row")
