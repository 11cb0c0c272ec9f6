"""Words in messages: counts ("1 cell", "2 cells"), and names that must read on one line."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, the noun plural unless the count is one ("1 customer",
    "1,200 customers"); `plural` when adding "s" is not it."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"


def first_of(names: Sequence[str], shown: int) -> str:
    """The first `shown` of `names` joined by commas, and how many more there are
    ("a, b, and 3 more"): a list that may run to thousands, kept to one short line."""
    listed = ", ".join(names[:shown])
    more = len(names) - shown
    return f"{listed}, and {more} more" if more > 0 else listed


def actor_problem(actor: str) -> str | None:
    """Why `actor` (trimmed) can't name who commits, or None: blank, or holding a control
    or format character (a line break would forge lines of `regsync batches`)."""
    if not actor:
        return "is empty: name who commits"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in actor):
        return f"{actor!r} holds a control character; name who commits on one line"
    return None


# The characters that don't show: control characters (a CR, an escape), format characters
# (a tab, a bidirectional override) and line and paragraph separators.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def shown(text: str) -> str:
    """`text` with each character that doesn't show escaped as `repr` escapes it
    (`\\u202e`, `\\t`); every other character, quotes and backslashes too, as it is."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in _UNSEEN_CATEGORIES else c
                   for c in text)
