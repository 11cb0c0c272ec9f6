"""Names a run derives from a drop's name (its report, error note, temporary file, a
suffixed name when one is taken), kept within what a filesystem allows in one name."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

# Bytes in one file name on Linux, macOS and Windows filesystems (NAME_MAX).
NAME_MAX = 255
# At most this much of a derived name's ending (".report.csv", "-1.csv") is kept whole
# when the name is cut; a longer ending is cut to its last parts that fit.
_END_MAX = 64


def _size(text: str) -> int:
    """Bytes of `text` as a file name (a name that is not UTF-8 keeps its bytes)."""
    return len(os.fsencode(text))


def fit_name(start: str, end: str = "", limit: int = NAME_MAX) -> str:
    """`start + end` when it fits `limit` bytes; else `start` cut short (on a character
    boundary), then `~` and 8 hex digits of the SHA-256 of the whole name, then `end`.

    The cut name begins as the whole did and ends as it did (its extension), and two
    names that differ only past the cut stay apart.
    """
    whole = start + end
    if _size(whole) <= limit:
        return whole
    if _size(end) > _END_MAX:  # keep the end's last dotted parts that fit
        dots = [i for i, c in enumerate(end) if c == "." and _size(end[i:]) <= _END_MAX]
        keep = dots[0] if dots else len(end)
        start, end = start + end[:keep], end[keep:]
    mark = "~" + hashlib.sha256(os.fsencode(whole)).hexdigest()[:8]
    room = limit - _size(mark + end)
    start = start[:room]  # characters are at least a byte each: a first cut
    while start and _size(start) > room:
        start = start[:-1]
    return start + mark + end


def split_name(name: str) -> tuple[str, str]:
    """`x.report.csv` -> (`x`, `.report.csv`): the part a suffix goes after, and the rest."""
    stem, dot, rest = name.partition(".")
    return stem, dot + rest


def free_names(name: str) -> Iterator[str]:
    """`name`, then `x-1.csv`, `x-2.csv`, ... each within NAME_MAX: the names to try, in
    order, for a file that must not replace another."""
    stem, rest = split_name(name)
    yield fit_name(stem, rest)
    n = 1
    while True:
        yield fit_name(stem, f"-{n}{rest}")
        n += 1


def temporary_file_name(name: str) -> str:
    """The hidden name a file is written under before it gets `name` (see write_new)."""
    return fit_name(f".{name}", f".{os.getpid()}.tmp")
