"""Words for counts in messages: "1 cell", "2 cells"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, the noun plural unless the count is one ("1 customer",
    "1,200 customers"); `plural` when adding "s" is not it."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"
