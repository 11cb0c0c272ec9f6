"""The exact key chain of spec section 4: customer_number, then business_id, then name.

The first key a row has decides. Lookups go to the register once per key for all the
file's distinct values; the decisions are polars expressions over whole columns.
"""

from __future__ import annotations

import polars as pl

from sync.normalise import name_key
from sync.writers.register.base import Register

MATCH_SCHEMA = {"_row": pl.Int64, "match": pl.String, "matched_by": pl.String,
                "outcome": pl.String, "message": pl.String}

_LOOKUP_COLUMN = {"customer_number": "customer_number", "business_id": "business_id",
                  "name": "name_key"}

# A row carries (and its message names) at most this many of the customers sharing its
# business id or name, and counts the rest: a name or id that thousands of customers
# share (a placeholder name, legacy data) put every one of their numbers into every
# such row and its message (QA: 10,000 rows of one name shared by 10,000 customers took
# 8 GiB and a 1 GB report). Two or more are enough for every decision of the chain.
NAMED_AT_MOST = 10


def _hits(register: Register, key: str, values: pl.Series,
          known_numbers: pl.Series | None) -> pl.DataFrame:
    """value -> the first NAMED_AT_MOST customer numbers having it (in number order), as `hits`,
    and how many customers have it, as `count`."""
    if key == "customer_number" and known_numbers is not None:
        found = pl.DataFrame({"value": known_numbers, "customer_number": known_numbers})
    else:
        found = register.lookup(_LOOKUP_COLUMN[key], values)
    # Most values belong to one customer: those skip the per-group sort, which took
    # 1.5 s of a 1M-row preview where the split takes 0.2 s.
    shared = found.get_column("value").is_duplicated()
    one = found.filter(~shared).select(
        "value", pl.concat_list("customer_number").alias("hits"),
        pl.lit(1, pl.Int64).alias("count"))
    many = found.filter(shared).group_by("value").agg(
        _in_number_order(pl.col("customer_number")).head(NAMED_AT_MOST).alias("hits"),
        pl.len().cast(pl.Int64).alias("count"))
    return pl.concat([one, many])


def _in_number_order(numbers: pl.Expr) -> pl.Expr:
    """Customer numbers shorter first, then as text: 1, 2, 10, 100 (not 1, 10, 100, 2),
    so the ten a message names are the lowest-numbered."""
    return numbers.sort_by(numbers.str.len_chars(), numbers)


def deciding_key(order: tuple[str, ...]) -> pl.Expr:
    """The key that decides each row: the first of `order` the row has (null: none)."""
    return pl.coalesce([pl.when(pl.col(k).is_not_null()).then(pl.lit(k)) for k in order])


def _needs_name(order: tuple[str, ...]) -> pl.Expr:
    """Rows whose decision reads the name's hits: the first key they have in `order`
    is the name, or is a customer_number the register does not know."""
    deciding = deciding_key(order)
    unknown_number = pl.col("customer_number_hits").list.len() == 0
    return (deciding == "name") | ((deciding == "customer_number") & unknown_number)


def _list_text(col: str) -> pl.Expr:
    return pl.col(col).list.join(", ")


def _customers(numbers: pl.Expr, total: pl.Expr | None = None) -> pl.Expr:
    """'customer 1003' or 'customers 1003, 1005' for a list of customer numbers; with
    `total` (how many there are in all) above the list's length, 'customers 1003, 1005,
    and 20 more'."""
    listed = numbers.list.eval(_in_number_order(pl.element())).list.join(", ")
    if total is not None:
        more = total - numbers.list.len()
        listed = pl.when(more > 0).then(pl.format("{}, and {} more", listed, more)) \
            .otherwise(listed)
    return pl.format("{} {}", pl.when(numbers.list.len() == 1).then(pl.lit("customer"))
                     .otherwise(pl.lit("customers")), listed)


def _business_id_elsewhere(match: pl.Expr) -> pl.Expr:
    """Why a row matched to customer `match` can't bring its business id, which other
    customers have too: names them, and says "also" where `match` has it as well (legacy
    data may give one id to two customers), never that it is not the match's."""
    hits = pl.col("business_id_hits")
    # Only the first of very many customers are at hand: whether `match` is among the
    # rest is not known here, so the message names some and counts the rest.
    listed_only = pl.col("business_id_count") > hits.list.len()
    other_numbers = hits.list.set_difference(pl.concat_list(match))
    others = _customers(other_numbers)
    # The id's customer numbered like the match with leading zeros (0042 for 42): a
    # spreadsheet dropped them, and the row meant that customer (QA).
    unpadded = match.str.strip_chars_start("0")
    zeros = (match.str.contains(r"^[0-9]+$")
             & other_numbers.list.eval(pl.element().str.strip_chars_start("0"))
             .list.contains(unpadded))
    hint = pl.when(zeros).then(pl.lit(" (a spreadsheet may have dropped the number's "
                                      "leading zeros)")).otherwise(pl.lit(""))
    return (pl.when(listed_only)
            .then(pl.format("business_id {} belongs to {}", pl.col("business_id"),
                            _customers(hits, pl.col("business_id_count"))))
            .when(hits.list.contains(match))
            .then(pl.format("business_id {} also belongs to {}", pl.col("business_id"), others))
            .otherwise(pl.format("business_id {} belongs to {}, not to customer {}{}",
                                 pl.col("business_id"), others, match, hint)))


def match_keys(rows: pl.DataFrame, register: Register, order: tuple[str, ...],
               known_numbers: pl.Series | None = None) -> pl.DataFrame:
    """Decide each row's customer by the key chain.

    `rows` has `_row` and any of customer_number, business_id, name (canonical, null when
    empty). `known_numbers`, when given, are the register's customers among the rows'
    customer numbers (already read by the caller), so they are not looked up again.
    Returns one row per input row: match (customer number or null), matched_by,
    outcome ("match", "new" or "conflict") and message (why, for conflicts).
    """
    work = rows.select(
        "_row",
        *(pl.col(k) if k in rows.columns else pl.lit(None, pl.String).alias(k)
          for k in ("customer_number", "business_id", "name")),
    ).with_columns(name_key(pl.col("name")).alias("name_key"))
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    for key, column in (("customer_number", "customer_number"), ("business_id", "business_id"),
                        ("name", "name_key")):
        values = work[column]
        if key == "name":
            # Names are only looked up where they can decide: rows decided by name, and
            # rows whose unknown number is a Conflict if the name is taken (section 4).
            values = work.filter(_needs_name(order)).get_column(column)
        hits = _hits(register, key, values, known_numbers).rename(
            {"value": column, "hits": f"{key}_hits", "count": f"{key}_count"})
        work = work.join(hits, on=column, how="left").with_columns(
            pl.col(f"{key}_hits").fill_null(empty_list), pl.col(f"{key}_count").fill_null(0))

    decided = pl.lit(False)
    match = pl.lit(None, pl.String)
    matched_by = pl.lit(None, pl.String)
    outcome = pl.lit(None, pl.String)
    message = pl.lit(None, pl.String)
    for key in order:
        has_key = pl.col(key).is_not_null() & ~decided
        k_match, k_outcome, k_message = _decide(key)
        match = pl.when(has_key).then(k_match).otherwise(match)
        matched_by = pl.when(has_key & (k_outcome == "match")).then(pl.lit(key)).otherwise(
            matched_by)
        outcome = pl.when(has_key).then(k_outcome).otherwise(outcome)
        message = pl.when(has_key).then(k_message).otherwise(message)
        decided = decided | pl.col(key).is_not_null()
    result = work.select(
        "_row",
        pl.col("customer_number"),
        pl.col("business_id"),
        pl.col("name"),
        pl.col("customer_number_hits").list.first().alias("_number_owner"),
        pl.col("business_id_hits"),
        pl.col("business_id_count"),
        match.alias("match"),
        matched_by.alias("matched_by"),
        outcome.fill_null("new").alias("outcome"),
        message.alias("message"),
    )
    return (_other_keys(result)
            .drop("customer_number", "business_id", "name", "_number_owner",
                  "business_id_hits", "business_id_count")
            .sort("_row"))


def _other_keys(result: pl.DataFrame) -> pl.DataFrame:
    """`result` with the rows whose other keys contradict what decided them made
    Conflicts, their message naming every customer involved.

    Whatever key decided a row, a customer_number or business_id it brings that belongs
    to another customer contradicts it (to any customer, for a row that matched none),
    and so does a customer_number the matched customer does not have: a customer's
    number is its identity and never changes. With the default order the chain itself
    decides each of these cases (the number comes first, then the business id), so only
    a custom `match_order` reaches them here.
    """
    owner = pl.col("_number_owner")
    match = pl.col("match")
    # A number of another customer: the strongest reason, whatever else was decided.
    contradicts = owner.is_not_null() & (match.is_null() | (match != owner))
    # A number the register does not know, on a row matched by another key.
    unknown_number = (pl.col("customer_number").is_not_null() & owner.is_null()
                      & match.is_not_null())
    matched = (pl.when(match.is_null()).then(pl.lit([], dtype=pl.List(pl.String)))
               .otherwise(pl.concat_list(match)))
    others = pl.col("business_id_hits").list.set_difference(matched)
    bid_elsewhere = pl.col("business_id").is_not_null() & (others.list.len() > 0)
    # Rows the chain already found in conflict keep their reason.
    flagged = (pl.col("outcome") != "conflict") & (unknown_number | bid_elsewhere)
    matched_key = pl.format("{} {}", pl.col("matched_by"),
                            pl.when(pl.col("matched_by") == "name")
                            .then(pl.format("'{}'", pl.col("name")))
                            .otherwise(pl.col("business_id")))
    reasons = pl.concat_str([
        pl.when(unknown_number)
        .then(pl.format("number {} is unknown, but {} is customer {}'s",
                        pl.col("customer_number"), matched_key, match)),
        pl.when(bid_elsewhere & match.is_not_null()).then(_business_id_elsewhere(match)),
        pl.when(bid_elsewhere & match.is_null())
        .then(pl.format("business_id {} already belongs to {}", pl.col("business_id"),
                        _customers(others, pl.col("business_id_count")))),
    ], separator="; ", ignore_nulls=True)
    return result.with_columns(
        pl.when(contradicts | flagged).then(pl.lit("conflict")).otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(contradicts & match.is_null())
        .then(pl.format("number {} already belongs to customer {}", pl.col("customer_number"),
                        owner))
        .when(contradicts)
        .then(pl.format("the row matches customer {} but brings number {} of customer {}",
                        match, pl.col("customer_number"), owner))
        .when(flagged).then(reasons)
        .otherwise(pl.col("message")).alias("message"))


def _decide(key: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(matched customer, outcome, message) for a row decided by `key`."""
    n_hits = pl.col(f"{key}_hits").list.len()
    if key == "customer_number":
        found = n_hits > 0
        number = pl.col("customer_number_hits").list.first()
        bid_hits = pl.col("business_id_hits")
        bid_elsewhere = (pl.col("business_id").is_not_null()
                         & (bid_hits.list.set_difference(pl.concat_list(number)).list.len() > 0))
        known_conflict = found & bid_elsewhere
        unknown_conflict = ~found & ((bid_hits.list.len() > 0)
                                     | (pl.col("name_hits").list.len() > 0))
        # One customer: "is customer 1004's" (spec section 4's words); several:
        # "is customer 1002, 1003's" read wrong (QA).
        bid_why = (pl.when(bid_hits.list.len() == 1).then(
            pl.format("business_id {} is customer {}'s", pl.col("business_id"),
                      _list_text("business_id_hits")))
            .when(bid_hits.list.len() > 1).then(
            pl.format("business_id {} belongs to {}", pl.col("business_id"),
                      _customers(bid_hits, pl.col("business_id_count")))))
        name_hits = pl.col("name_hits")
        name_why = (pl.when(name_hits.list.len() == 1).then(
            pl.format("name '{}' is customer {}'s", pl.col("name"), _list_text("name_hits")))
            .when(name_hits.list.len() > 1).then(
            pl.format("name '{}' matches {}", pl.col("name"),
                      _customers(name_hits, pl.col("name_count")))))
        # A customer numbered like the row but with leading zeros (007 for 7): a
        # spreadsheet that read the number as a number dropped them.
        hits = pl.concat_list(bid_hits, pl.col("name_hits"))
        zeros = (hits.list.eval(pl.element().str.strip_chars_start("0"))
                 .list.contains(pl.col("customer_number").str.strip_chars_start("0"))
                 & (hits.list.eval(pl.element().str.len_chars()).list.max()
                    > pl.col("customer_number").str.len_chars())
                 & pl.col("customer_number").str.contains(r"^[0-9]+$"))
        unknown_why = pl.concat_str(
            [bid_why, name_why], separator=" and ", ignore_nulls=True) + pl.when(zeros).then(
            pl.lit(" (a spreadsheet may have dropped the number's leading zeros)")
        ).otherwise(pl.lit(""))
        outcome = (pl.when(known_conflict | unknown_conflict).then(pl.lit("conflict"))
                   .when(found).then(pl.lit("match")).otherwise(pl.lit("new")))
        message = (
            pl.when(known_conflict)
            .then(_business_id_elsewhere(number))
            .when(unknown_conflict)
            .then(pl.format("number {} is unknown, but {}", pl.col("customer_number"),
                            unknown_why)))
        return pl.when(found).then(number), outcome, message
    label = "business_id" if key == "business_id" else "name"
    outcome = (pl.when(n_hits == 1).then(pl.lit("match"))
               .when(n_hits > 1).then(pl.lit("conflict")).otherwise(pl.lit("new")))
    message = pl.when(n_hits > 1).then(
        pl.format("{} {} matches {}", pl.lit(label),
                  pl.col(key) if key == "business_id" else pl.format("'{}'", pl.col(key)),
                  _customers(pl.col(f"{key}_hits"), pl.col(f"{key}_count"))))
    return pl.when(n_hits == 1).then(pl.col(f"{key}_hits").list.first()), outcome, message
