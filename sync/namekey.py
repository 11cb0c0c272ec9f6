"""The matching form of a name, shared by normalisers and register engines."""

from __future__ import annotations

import re
from functools import cache

import polars as pl


def name_key(expr: pl.Expr) -> pl.Expr:
    """Matching form of a name: whitespace runs collapsed to one space, trimmed, lower-cased."""
    return expr.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def name_key_of(name: str | None) -> str | None:
    """`name_key` of one value (for the few single names a revert puts back)."""
    return None if name is None else pl.select(name_key(pl.lit(name, pl.String))).item()


_PUNCT = re.compile(r"[^\w\s]")
# Words no longer than this are blocks as they are; longer ones also by this prefix.
BLOCK_PREFIX = 4
# A block with more customers than this is too common to pair names on: the similarity
# scan skips it, so a register stores no more than FULL_BLOCK of its members.
MAX_BLOCK = 1000
FULL_BLOCK = MAX_BLOCK + 1


def words_of(name: str) -> list[str]:
    """The words of a name as the similarity scan sees them: case-folded, no punctuation."""
    return _PUNCT.sub(" ", name.casefold()).split()


@cache
def _plain_names() -> str:
    """Regex of names whose words polars computes exactly as `words_of` does.

    Printable ASCII, and Latin letters whose lower case is their case fold and a single
    letter again (not ß, İ, ſ, ...): on those, polars' to_lowercase, \\w and \\s agree
    with str.casefold and Python's re.
    """
    letters = "".join(c for c in map(chr, range(0xC0, 0x250))
                      if c.isalnum() and c.casefold() == c.lower() and len(c.lower()) == 1
                      and c.lower().isalnum())
    return f"^[\\x20-\\x7E{letters}]*$"


def name_words(names: pl.Series) -> pl.Series:
    """`words_of` over a column (List[String]; null stays null): polars for plain names,
    Python once per distinct other name."""
    frame = pl.DataFrame({"name": names}).with_columns(
        pl.col("name").str.contains(_plain_names()).fill_null(False).alias("plain"))
    # words_of's words are the runs of \w characters.
    fast = pl.col("name").str.to_lowercase().str.extract_all(r"\w+")
    other = frame.filter(~pl.col("plain") & pl.col("name").is_not_null())["name"].unique()
    mapping = {n: words_of(n) for n in other.to_list()}
    slow = pl.col("name").replace_strict(mapping, default=None,
                                         return_dtype=pl.List(pl.String))
    return frame.select(pl.when(pl.col("plain")).then(fast).otherwise(slow)
                        ).to_series().alias(names.name)


def word_blocks(ids: pl.Series, words: pl.Series) -> pl.DataFrame:
    """(id, block) pairs, unique: every word that is not all digits, and the first
    BLOCK_PREFIX letters of each longer word. `words` is a List[String] column."""
    exploded = pl.DataFrame({"id": ids, "block": words}).explode("block").filter(
        pl.col("block").is_not_null() & (pl.col("block").str.len_chars() > 0)
        & ~pl.col("block").str.contains(r"^[0-9]+$"))
    prefixes = exploded.filter(pl.col("block").str.len_chars() > BLOCK_PREFIX).select(
        "id", pl.col("block").str.slice(0, BLOCK_PREFIX))
    return pl.concat([exploded, prefixes]).unique()


def name_blocks(numbers: pl.Series, names: pl.Series) -> pl.DataFrame:
    """The blocks a register keeps per customer: block, customer_number, name; one row
    per (block, customer_number).

    The register keeps these (with the name, so a block reads as one index range) so
    that a similarity scan reads only the customers that share a block with a New row,
    never the whole register. Legal forms are not stripped here (they depend on the
    rules); their blocks are just large.
    """
    blocks = word_blocks(numbers, name_words(names))
    named = pl.DataFrame({"id": numbers, "name": names}).unique("id", keep="last")
    return blocks.join(named, on="id").select(
        "block", pl.col("id").alias("customer_number"), "name")


def first_members(blocks: pl.DataFrame) -> pl.DataFrame:
    """Of `blocks` rows (block, customer_number, ...) sorted by block, those a register
    with no blocks yet stores: at most FULL_BLOCK per block, the first ones."""
    return blocks.filter(pl.int_range(pl.len()).over("block") < FULL_BLOCK)
