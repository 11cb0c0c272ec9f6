"""Possible duplicates: New rows whose name is close to an existing customer's.

Similarity never matches by itself; it only flags. Company names are compared after
their legal forms (Oy, Ab, s.r.o., ...) are stripped, word order ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl
from rapidfuzz import fuzz, process

DUPLICATE_SCHEMA = {"_row": pl.Int64, "possible_duplicate": pl.String,
                    "similarity": pl.Int64, "duplicate_note": pl.String}

_PUNCT = re.compile(r"[^\w\s]")


def _form_tokens(legal_forms: Iterable[str]) -> frozenset[str]:
    tokens = (_PUNCT.sub("", form.casefold()).split() for form in legal_forms)
    # Only single-word forms are stripped: "spol. s r.o." would otherwise strip "s".
    return frozenset(t[0] for t in tokens if len(t) == 1)


def strip_legal_forms(name: str, forms: frozenset[str]) -> str:
    """The comparison form of a name: lower case, no punctuation, no legal-form words."""
    words = _PUNCT.sub(" ", name.casefold()).split()
    kept = [w for w in words if w not in forms]
    return " ".join(kept or words)


def possible_duplicates(new_rows: pl.DataFrame, existing: pl.DataFrame,
                        legal_forms: Iterable[str], threshold: float) -> pl.DataFrame:
    """Flag New rows that look like an existing customer or an earlier New row.

    `new_rows`: _row, name, name_key, customer_number (the number the row will get).
    `existing`: customer_number, name. Returns _row, possible_duplicate (a customer
    number), similarity (0-100) and duplicate_note, only for flagged rows.
    """
    forms = _form_tokens(legal_forms)
    flagged: list[tuple[int, str, int, str]] = []
    if existing.height and new_rows.height:
        choices = [strip_legal_forms(n, forms) for n in existing["name"].to_list()]
        numbers = existing["customer_number"].to_list()
        names = existing["name"].to_list()
        for row, name in new_rows.select("_row", "name").rows():
            if name is None:
                continue
            best = process.extractOne(strip_legal_forms(name, forms), choices,
                                      scorer=fuzz.token_sort_ratio, score_cutoff=threshold)
            if best is not None:
                _, score, index = best
                flagged.append((row, numbers[index], int(round(score)),
                                f"possible duplicate of customer {numbers[index]} "
                                f"'{names[index]}' (similarity {int(round(score))})"))
    done = {f[0] for f in flagged}
    earlier = (new_rows.filter(pl.col("name_key").is_not_null())
               .with_columns(pl.col("_row").first().over("name_key").alias("first_row"),
                             pl.col("customer_number").first().over("name_key")
                             .alias("first_number"))
               .filter(pl.col("_row") != pl.col("first_row")))
    for row, number, first_row in earlier.select("_row", "first_number", "first_row").rows():
        if row in done:
            continue
        flagged.append((row, number, 100,
                        f"possible duplicate of row {first_row} (same name)"))
    return pl.DataFrame(flagged, schema=DUPLICATE_SCHEMA, orient="row")
