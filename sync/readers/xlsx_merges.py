"""Merged ranges of a sheet, as warnings on the cells they cover.

A spreadsheet shows a merged range's value (its top-left cell's) over the whole range,
but the file holds it in that one cell: the other rows read as empty. Filling them
would guess what the user meant; reading them empty in silence loses what the user
sees. So each covered cell of a data row is read as it is, with a warning that says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from sync.readers.table import column_letters

_REF = re.compile(r"^([A-Za-z]+)([0-9]+)(?::([A-Za-z]+)([0-9]+))?$")


def _column(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number - 1


def merge_warnings(merges: Iterable[str], rows: pl.Series, columns: dict[int, str],
                   headers: dict[str, str], header_row: int) -> list[tuple[int, str, str]]:
    """(row, column name, why) for each cell a merged range in `merges` ("C2:C4") covers
    but its top-left one, in a data row of `rows` (below `header_row`) and a sheet column
    of `columns` (0-based sheet column -> "c0" ...; `headers`: "c0" -> header text)."""
    found: list[tuple[int, str, str]] = []
    present = rows.filter(rows > header_row)
    for ref in sorted(set(merges)):
        match = _REF.match(ref)
        if match is None:
            continue
        first, top = _column(match[1]), int(match[2])
        last, bottom = (_column(match[3]), int(match[4])) if match[3] else (first, top)
        (first, last), (top, bottom) = sorted((first, last)), sorted((top, bottom))
        anchor = f"{column_letters(first)}{top}"
        covered = present.filter(present.is_between(top, bottom)).to_list()
        for col in range(first, last + 1):
            name = columns.get(col)
            if name is None:
                continue
            for row in covered:
                if (row, col) == (top, first):
                    continue
                cell = f"{column_letters(col)}{row}"
                header = headers.get(name) or f"column {column_letters(col)}"
                found.append((row, name, (
                    f"the cell {cell} (column {header!r}) is in the merged range {ref}: "
                    f"the sheet shows {anchor}'s value there, but the file holds it in "
                    f"{anchor} only; unmerge the range and fill each cell to import it on "
                    "every row")))
    return sorted(found)
