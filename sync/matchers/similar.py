"""Matching by a similar name, only when the rules turn it on (spec section 4).

By default similarity never matches: a New row whose name is close to a customer's is
only flagged (`fuzzy.possible_duplicates`). With `fuzzy_match_threshold` in the rules,
for rows the key chain left New:

- a row decided by its name that brings no other key (no customer_number, no
  business_id) matches the customer whose name is at least that similar, when it is the
  only one and nothing contradicts it. The name that matched is the key, so it is not
  changed (the message says which name it matched).
- anything less certain is a Conflict that names every similar customer: two or more
  similar customers; a search that could not compare every customer sharing a word
  with the name (a very common word, see fuzzy.py); a customer_type that differs from
  the customer's (legal forms are stripped before comparing, so "Liisa Laine" is 100
  similar to the company "Liisa Laine Oy"); a row that brings a customer number or
  business id of its own, which similarity must not attach to another customer.
- a row that would be New because its customer_number is unknown is a Conflict when its
  name is similar to a customer's, as it is when the name is equal: rule 1's "name finds
  an existing customer" is rule 3's comparison, and with similarity on, that comparison
  includes it.

Rows decided by a business_id are never matched by name (they stay New, flagged).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from sync.matchers.fuzzy import similar_customers
from sync.matchers.keys import deciding_key
from sync.writers.register.base import Register

_KEYS = ("customer_number", "business_id")


def match_similar_names(rows: pl.DataFrame, matches: pl.DataFrame, register: Register,
                        order: tuple[str, ...], legal_forms: Iterable[str],
                        threshold: float) -> pl.DataFrame:
    """`matches` (the key chain's result for `rows`) with the rows that similarity
    decides changed: matched (outcome "match", matched_by "name", a message naming the
    customer and the score) or Conflict (a message naming every similar customer).

    `rows`: _row, customer_number, business_id, name, customer_type (canonical, null
    when empty). Rows the key chain matched or found in conflict are never changed.
    """
    candidates = (rows.join(matches.select("_row", "outcome"), on="_row")
                  .with_columns(deciding_key(order).alias("_deciding"))
                  .filter((pl.col("outcome") == "new") & pl.col("name").is_not_null()
                          & pl.col("_deciding").is_in(["name", "customer_number"])))
    if not candidates.height:
        return matches
    found = similar_customers(candidates.select("_row", "name"), register, legal_forms,
                              threshold)
    if not found.height:
        return matches
    types = register.fetch(found["customer_number"].unique(), ("customer_type",))
    found = found.join(types.rename({"customer_type": "_type"}), on="customer_number",
                       how="left")
    described = pl.format("customer {} '{}' (similarity {})", pl.col("customer_number"),
                          pl.col("name"), pl.col("similarity"))
    per_row = found.group_by("_row", maintain_order=True).agg(
        pl.col("customer_number").first().alias("_best"),
        pl.col("_type").first().alias("_best_type"),
        pl.col("partial").first().alias("_partial"),
        pl.len().alias("_count"),
        described.str.join(" and ").alias("_similar"))
    work = candidates.join(per_row, on="_row")
    name, similar = pl.col("name"), pl.col("_similar")
    by_name = pl.col("_deciding") == "name"
    own_key = pl.coalesce([pl.when(pl.col(k).is_not_null()).then(pl.lit(k)) for k in _KEYS])
    other_type = (pl.col("customer_type").is_not_null() & pl.col("_best_type").is_not_null()
                  & (pl.col("customer_type") != pl.col("_best_type")))
    # Why a row decided by its name is not matched: the first that applies.
    doubt = (pl.when(~by_name).then(None)
             .when(pl.col("_count") > 1).then(pl.lit("several customers are that similar"))
             .when(pl.col("_partial"))
             .then(pl.lit("customers sharing a very common word with it were not compared, "
                          "so others may be as similar"))
             .when(own_key.is_not_null())
             .then(pl.format("the row brings a {} of its own", own_key))
             .when(other_type)
             .then(pl.format("the row is a {} and the customer a {}",
                             pl.col("customer_type"), pl.col("_best_type"))))
    work = work.with_columns(doubt.alias("_doubt"))
    single = by_name & pl.col("_doubt").is_null()
    decided = work.select(
        "_row",
        pl.when(single).then(pl.col("_best")).alias("match"),
        pl.when(single).then(pl.lit("name")).alias("matched_by"),
        pl.when(single).then(pl.lit("match")).otherwise(pl.lit("conflict")).alias("outcome"),
        pl.when(single)
        .then(pl.format("matched by a similar name: {}; the name '{}' is not applied",
                        similar, name))
        .when(by_name)
        .then(pl.format("name '{}' is similar to {}, but {}", name, similar,
                        pl.col("_doubt")))
        .otherwise(pl.format("number {} is unknown, but name '{}' is similar to {}",
                             pl.col("customer_number"), name, similar))
        .alias("message"))
    return matches.update(decided, on="_row", how="left")
