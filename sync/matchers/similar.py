"""Matching by a similar name, only when the rules turn it on (spec section 4).

By default similarity never matches: a New row whose name is close to a customer's is
only flagged (`fuzzy.possible_duplicates`). With `fuzzy_match_threshold` in the rules:

- a row decided by its name (it has no key that comes earlier in the match order), whose
  name is no customer's exactly, matches the one customer whose name is at least that
  similar. Two or more such customers: Conflict, naming each. The name that matched is
  the key, so it is not changed (the report says which name it matched).
- a row that would be New because its customer_number is unknown is a Conflict when its
  name is similar to a customer's, as it is when the name is equal: rule 1's "name finds
  an existing customer" is rule 3's comparison, and with the rules' similarity on,
  that comparison includes it.

Rows decided by a business_id are never matched by name.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from sync.matchers.fuzzy import NameBlocks, similar_customers


def match_similar_names(rows: pl.DataFrame, matches: pl.DataFrame, register: NameBlocks,
                        order: tuple[str, ...], legal_forms: Iterable[str],
                        threshold: float) -> pl.DataFrame:
    """`matches` (the key chain's result for `rows`) with the rows that similarity
    decides changed: matched (outcome "match", matched_by "name", a message naming the
    customer and the score) or Conflict (a message naming every similar customer).

    `rows`: _row, customer_number, business_id, name (canonical, null when empty).
    Rows the key chain matched or found in conflict are never changed.
    """
    deciding = pl.coalesce([pl.when(pl.col(k).is_not_null()).then(pl.lit(k))
                            for k in order if k in rows.columns])
    candidates = (rows.join(matches.select("_row", "outcome"), on="_row")
                  .with_columns(deciding.alias("_deciding"))
                  .filter((pl.col("outcome") == "new") & pl.col("name").is_not_null()
                          & pl.col("_deciding").is_in(["name", "customer_number"])))
    if not candidates.height:
        return matches
    found = similar_customers(candidates.select("_row", "name"), register, legal_forms,
                              threshold)
    if not found.height:
        return matches
    described = pl.format("customer {} '{}' (similarity {})", pl.col("customer_number"),
                          pl.col("name"), pl.col("similarity"))
    per_row = found.group_by("_row", maintain_order=True).agg(
        pl.col("customer_number").first().alias("_best"),
        pl.len().alias("_count"),
        described.str.join(" and ").alias("_similar"))
    by_name = pl.col("_deciding") == "name"
    single = by_name & (pl.col("_count") == 1)
    name = pl.col("name")
    decided = candidates.join(per_row, on="_row").select(
        "_row",
        pl.when(single).then(pl.col("_best")).alias("match"),
        pl.when(single).then(pl.lit("name")).alias("matched_by"),
        pl.when(single).then(pl.lit("match")).otherwise(pl.lit("conflict")).alias("outcome"),
        pl.when(single)
        .then(pl.format("matched by a similar name: {}; the name '{}' is not applied",
                        pl.col("_similar"), name))
        .when(by_name)
        .then(pl.format("name '{}' is similar to {}", name, pl.col("_similar")))
        .otherwise(pl.format("number {} is unknown, but name '{}' is similar to {}",
                             pl.col("customer_number"), name, pl.col("_similar")))
        .alias("message"))
    return matches.update(decided, on="_row", how="left")
