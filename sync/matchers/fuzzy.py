"""Possible duplicates: New rows whose name is close to an existing customer's.

Similarity never matches by itself; it only flags. Company names are compared after
their legal forms (Oy, Ab, s.r.o., ...) are stripped, word order ignored.

Only candidate pairs are scored (blocking): a New row and a customer are compared when
their names share a word or the first four letters of a word (numbers are not words
here). Keys so common that they would pair everything (more than `_MAX_BLOCK` names)
make no pairs, and when the pairs would still exceed `_MAX_PAIRS` the most common
keys are dropped first, so memory stays bounded. The pairs are scored in one
vectorised rapidfuzz call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import polars as pl
from rapidfuzz import fuzz, process

DUPLICATE_SCHEMA = {"_row": pl.Int64, "possible_duplicate": pl.String,
                    "similarity": pl.Int64, "duplicate_note": pl.String}

_PUNCT = re.compile(r"[^\w\s]")
_MAX_BLOCK = 1000
_MAX_PAIRS = 5_000_000


def _form_tokens(legal_forms: Iterable[str]) -> frozenset[str]:
    tokens = (_PUNCT.sub("", form.casefold()).split() for form in legal_forms)
    # Only single-word forms are stripped: "spol. s r.o." would otherwise strip "s".
    return frozenset(t[0] for t in tokens if len(t) == 1)


def strip_legal_forms(name: str, forms: frozenset[str]) -> str:
    """The comparison form of a name: lower case, no punctuation, no legal-form words."""
    words = _PUNCT.sub(" ", name.casefold()).split()
    kept = [w for w in words if w not in forms]
    return " ".join(kept or words)


@cache
def _plain_names() -> str:
    """Regex of names whose comparison form polars computes exactly as Python does.

    Printable ASCII, and Latin letters whose lower case is their case fold and a single
    letter again (not ß, İ, ſ, ...): on those, polars' to_lowercase, \\w and \\s agree
    with str.casefold and Python's re.
    """
    letters = "".join(c for c in map(chr, range(0xC0, 0x250))
                      if c.isalnum() and c.casefold() == c.lower() and len(c.lower()) == 1
                      and c.lower().isalnum())
    return f"^[\\x20-\\x7E{letters}]*$"


def _comparable(names: pl.Series, forms: frozenset[str]) -> pl.Series:
    """strip_legal_forms over a column: polars for plain names, Python for the others."""
    frame = pl.DataFrame({"name": names}).with_columns(
        pl.col("name").str.contains(_plain_names()).fill_null(False).alias("plain"))
    words = (pl.col("name").str.to_lowercase().str.replace_all(r"[^\w\s]", " ")
             .str.replace_all(r"\s+", " ").str.strip_chars().str.split(" "))
    kept = pl.col("words").list.eval(pl.element().filter(~pl.element().is_in(sorted(forms))))
    frame = frame.with_columns(words.alias("words")).with_columns(
        pl.when(kept.list.len() > 0).then(kept.list.join(" "))
        .otherwise(pl.col("words").list.join(" ")).alias("fast"))
    other = frame.filter(~pl.col("plain") & pl.col("name").is_not_null())["name"].unique()
    mapping = dict(zip(other.to_list(),
                       (strip_legal_forms(n, forms) for n in other.to_list()), strict=True))
    slow = pl.col("name").replace_strict(mapping, default=None, return_dtype=pl.String)
    return frame.select(pl.when(pl.col("plain")).then(pl.col("fast")).otherwise(slow)
                        ).to_series().alias(names.name)


def _block_keys(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """(index, key) pairs: every word of the name and the first four letters of each."""
    words = frame.select("idx", pl.col(column).str.split(" ").alias("word")).explode("word")
    words = words.filter(pl.col("word").str.len_chars() > 0
                         & ~pl.col("word").str.contains(r"^[0-9]+$"))
    prefixes = words.filter(pl.col("word").str.len_chars() > 4).select(
        "idx", pl.col("word").str.slice(0, 4))
    return pl.concat([words, prefixes]).rename({"word": "key"}).unique()


def _usable_keys(query_keys: pl.DataFrame, choice_keys: pl.DataFrame) -> pl.Series:
    """Keys to pair on: not too common, and together under the pair budget."""
    sizes = (query_keys.group_by("key").len("queries")
             .join(choice_keys.group_by("key").len("choices"), on="key")
             .filter(pl.col("choices") <= _MAX_BLOCK)
             .with_columns((pl.col("queries") * pl.col("choices")).alias("pairs"))
             .sort("choices"))
    return sizes.filter(pl.col("pairs").cum_sum() <= _MAX_PAIRS)["key"]


def _register_matches(new_rows: pl.DataFrame, existing: pl.DataFrame,
                      forms: frozenset[str], threshold: float) -> pl.DataFrame:
    """Per New row, the most similar existing customer at or above the threshold."""
    queries = pl.DataFrame({"idx": pl.int_range(new_rows.height, eager=True),
                            "text": _comparable(new_rows["name"], forms)})
    choices = pl.DataFrame({"idx": pl.int_range(existing.height, eager=True),
                            "text": _comparable(existing["name"], forms)})
    choice_keys = _block_keys(choices, "text")
    query_keys = _block_keys(queries.filter(pl.col("text").is_not_null()), "text")
    keys = _usable_keys(query_keys, choice_keys).implode()
    pairs = (query_keys.filter(pl.col("key").is_in(keys))
             .join(choice_keys.filter(pl.col("key").is_in(keys)), on="key", suffix="_choice")
             .select(pl.col("idx").alias("q"), pl.col("idx_choice").alias("c")).unique())
    if pairs.is_empty():
        return pl.DataFrame(schema={"q": pl.Int64, "c": pl.Int64, "score": pl.Float64})
    left = queries["text"].gather(pairs["q"]).to_list()
    right = choices["text"].gather(pairs["c"]).to_list()
    scores = process.cpdist(left, right, scorer=fuzz.token_sort_ratio, workers=-1)
    scored = pairs.with_columns(pl.Series("score", scores, dtype=pl.Float64))
    return (scored.filter(pl.col("score") >= threshold)
            .sort(["q", "score", "c"], descending=[False, True, False])
            .group_by("q", maintain_order=True).first())


def possible_duplicates(new_rows: pl.DataFrame, existing: pl.DataFrame,
                        legal_forms: Iterable[str], threshold: float) -> pl.DataFrame:
    """Flag New rows that look like an existing customer or an earlier New row.

    `new_rows`: _row, name, name_key, customer_number (the number the row will get),
    sorted by _row. `existing`: customer_number, name. Returns _row, possible_duplicate
    (a customer number), similarity (0-100) and duplicate_note, only for flagged rows.
    """
    forms = _form_tokens(legal_forms)
    flagged = pl.DataFrame(schema=DUPLICATE_SCHEMA)
    if existing.height and new_rows.height:
        best = _register_matches(new_rows, existing, forms, threshold)
        score = pl.col("score").round(0).cast(pl.Int64)
        number = pl.col("customer_number")
        flagged = best.select(
            new_rows["_row"].gather(best["q"]).alias("_row"),
            existing["customer_number"].gather(best["c"]).alias("customer_number"),
            existing["name"].gather(best["c"]).alias("name"),
            score.alias("similarity"),
        ).select(
            "_row", number.alias("possible_duplicate"), "similarity",
            pl.format("possible duplicate of customer {} '{}' (similarity {})", number,
                      pl.col("name"), pl.col("similarity")).alias("duplicate_note"))
    earlier = (new_rows.filter(pl.col("name_key").is_not_null())
               .with_columns(pl.col("_row").first().over("name_key").alias("first_row"),
                             pl.col("customer_number").first().over("name_key")
                             .alias("first_number"))
               .filter((pl.col("_row") != pl.col("first_row"))
                       & ~pl.col("_row").is_in(flagged["_row"].implode()))
               .select("_row", pl.col("first_number").alias("possible_duplicate"),
                       pl.lit(100, pl.Int64).alias("similarity"),
                       pl.format("possible duplicate of row {} (same name)",
                                 pl.col("first_row")).alias("duplicate_note")))
    return pl.concat([flagged, earlier], how="vertical_relaxed")
