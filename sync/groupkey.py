"""The key customer groups are matched by, ignoring case: one definition everywhere.

The register stores each group's key as Python's `str.lower()` of its name. polars'
`str.to_lowercase` disagrees with it on some letters (those newer than polars' Unicode
tables), and a group created under one key and looked up under the other silently
lost its customers. So frames get their keys from `str.lower()` too, once per
distinct name (a file names few groups).
"""

from __future__ import annotations

import polars as pl


def group_key(name: str) -> str:
    """The key of a group name: equal for names that differ only in case."""
    return name.lower()


def group_keys(names: pl.Series) -> pl.Series:
    """`group_key` of each name (null stays null), computed once per distinct name."""
    distinct = names.drop_nulls().unique().to_list()
    return names.replace_strict({n: group_key(n) for n in distinct}, default=None,
                                return_dtype=pl.String)


def group_key_expr(names: pl.Expr) -> pl.Expr:
    """`group_keys` as an expression."""
    return names.map_batches(group_keys, return_dtype=pl.String)
