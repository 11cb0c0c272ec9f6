"""The matching form of a name, shared by normalisers and register engines."""

from __future__ import annotations

import polars as pl


def name_key(expr: pl.Expr) -> pl.Expr:
    """Matching form of a name: whitespace runs collapsed to one space, trimmed, lower-cased."""
    return expr.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def name_key_of(name: str | None) -> str | None:
    """`name_key` of one value (for the few single names a revert puts back)."""
    return None if name is None else pl.select(name_key(pl.lit(name, pl.String))).item()
