"""'?' in place of characters a file's encoding could not hold (`Dvo?ák` for `Dvořák`):
the one comparison that value repairs (sync.lost_characters) and header mapping
(sync.rules) share. No imports of the stages, so both can use it.
"""

from __future__ import annotations

from collections.abc import Callable


def lost_characters(new: str, old: str, fold: Callable[[str], str] | None = None) -> bool:
    """Whether `new` is `old` with some characters past ASCII written as '?' (as an
    encoding that lacks them saves them), and otherwise equal (or equal once `fold`ed,
    character by character, e.g. `str.lower` to ignore case). Compared character by
    character: an emoji lost is one '?'; a '?' never stands for an ASCII character."""
    if new == old or len(new) != len(old):
        return False
    return all(n == o or (n == "?" and not o.isascii())
               or (fold is not None and fold(n) == fold(o))
               for n, o in zip(new, old, strict=True))
