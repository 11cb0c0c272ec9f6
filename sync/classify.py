"""Matched pair -> status and field-level diff (spec section 5)."""

from __future__ import annotations

import polars as pl

from sync.groupkey import group_key_expr
from sync.plan import new_col, old_col

# Compared ignoring case: group names are matched to existing groups that way.
_CASELESS = frozenset({"customer_group"})


def changed_expr(field_name: str) -> pl.Expr:
    """True where a non-empty source value differs from the matched register value.

    An empty source cell never changes anything; the key that matched never changes
    (it is equal by the matching comparison).
    """
    new, old = pl.col(new_col(field_name)), pl.col(old_col(field_name))
    if field_name in _CASELESS:
        new, old = group_key_expr(new), group_key_expr(old)
    differs = new.is_not_null() & (old.is_null() | (new != old))
    if field_name in ("customer_number", "business_id", "name"):
        differs = differs & (pl.col("matched_by").fill_null("") != field_name)
    if field_name == "customer_number":
        # A row with a number is matched by it or is not a match at all.
        differs = pl.lit(False)
    return differs


def diff(frame: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Add `changed_fields` (names joined by `|`, in field order) for matched rows."""
    flags = [pl.when(changed_expr(f)).then(pl.lit(f)) for f in fields]
    # concat_str skipping nulls, not a list column: the same text, ~15x less CPU.
    joined = pl.concat_str(flags, separator="|", ignore_nulls=True)
    return frame.with_columns(
        pl.when(pl.col("outcome") == "match").then(joined).otherwise(pl.lit(""))
        .alias("changed_fields"))


def status_expr() -> pl.Expr:
    """Status from the validation errors, the match outcome and the diff."""
    return (
        pl.when(pl.col("error").is_not_null()).then(pl.lit("Rejected"))
        .when(pl.col("outcome") == "conflict").then(pl.lit("Conflict"))
        .when((pl.col("outcome") == "new") & pl.col(new_col("name")).is_null())
        .then(pl.lit("Rejected"))
        .when(pl.col("outcome") == "new").then(pl.lit("New"))
        .when(pl.col("changed_fields") != "").then(pl.lit("Modified"))
        .otherwise(pl.lit("No change"))
    )


def repair_lost_letters(frame: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Keep the register's value where the row's differs from it only by '?' in place
    of letters outside ASCII (`Dvo?ák` for `Dvořák`): a file saved in an encoding that
    lacks them (Excel's "CSV" in Windows-1252 writes Czech letters so). That is damage,
    so it is repaired, never imported; the row's message says what was kept.
    """
    notes: list[pl.Expr] = []
    candidates = [f for f in fields if f != "customer_number"
                  and new_col(f) in frame.columns and old_col(f) in frame.columns]
    # One cheap look first: most files have no '?' at all.
    marked = frame.select(pl.col(new_col(f)).str.contains("?", literal=True).any()
                          for f in candidates).row(0) if candidates else ()
    for f in [f for f, has in zip(candidates, marked, strict=True) if has]:
        new, old = new_col(f), old_col(f)
        maybe = (pl.col(new).str.contains("?", literal=True) & (pl.col(new) != pl.col(old))
                 & (pl.col(new).str.len_chars() == pl.col(old).str.len_chars()))
        pairs = frame.filter(maybe.fill_null(False)).select(new, old).unique()
        damaged = [(n, o) for n, o in pairs.iter_rows() if _lost_letters(n, o)]
        if not damaged:
            continue
        hit = pl.struct(new, old).is_in(
            pl.DataFrame(damaged, schema=[new, old], orient="row").to_struct().implode())
        frame = frame.with_columns(
            pl.when(hit).then(pl.col(old)).otherwise(pl.col(new)).alias(new),
            hit.alias(f"_lost_{f}"), pl.col(new).alias(f"_had_{f}"))
        notes.append(pl.when(pl.col(f"_lost_{f}")).then(pl.format(
            "{}: kept '{}': the file has '{}' (letters its encoding could not hold were "
            "saved as '?')", pl.lit(f), pl.col(old), pl.col(f"_had_{f}"))))
    if not notes:
        return frame
    warning = pl.concat_str([pl.col("warning"), *notes], separator="; ", ignore_nulls=True)
    return frame.with_columns(
        pl.when(pl.any_horizontal(pl.col("^_lost_.*$"))).then(warning)
        .otherwise(pl.col("warning")).alias("warning")).drop(
        pl.col("^_lost_.*$"), pl.col("^_had_.*$"))


def _lost_letters(new: str, old: str) -> bool:
    """Whether `new` is `old` with some letters outside ASCII written as '?'."""
    return new != old and all(n == o or (n == "?" and not o.isascii() and o.isalpha())
                              for n, o in zip(new, old, strict=True))
