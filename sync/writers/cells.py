"""Cell values as spreadsheet exports write them: neutralised, optionally text-guarded.

The neutralisation rule (and its exact inverse, applied by the readers) is documented
in sync/readers/neutralise.py; this module is its writing half.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from sync.readers.neutralise import NEEDS_QUOTE
from sync.retyped import RETYPED_LOOK

# The one kind of value a spreadsheet reads as a number and writes back as it was: an
# integer of up to 11 digits without leading zeros (`1001`, `33100`). With a leading
# zero it loses it, from 12 digits on it is shown and saved as `3.58401E+11`, past 15
# it is rounded: those are guarded.
SAME_AS_A_NUMBER = r"^(?:0|[1-9][0-9]{0,10})$"


def neutralise(cells: pl.Expr) -> pl.Expr:
    """Cells that a spreadsheet would run as a formula, with one `'` in front.

    Promise: no result starts with `=`, `+`, `-`, `@`, tab or CR, and the readers'
    `unneutralise` gives back the original value exactly. Null stays null.
    """
    risky = cells.str.contains(NEEDS_QUOTE)
    return pl.when(risky).then(pl.lit("'") + cells).otherwise(cells).name.keep()


def neutralised_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` (column -> header) with each header as `neutralise` writes a cell: a
    rules file's header `=Summa` would run as a formula too. The readers map headers
    ignoring punctuation, so `'=Summa` still finds its field."""
    names = pl.DataFrame({"h": list(headers.values())}, schema={"h": pl.String})
    return dict(zip(headers, names.select(neutralise(pl.col("h")))["h"].to_list(),
                    strict=True))


# The characters of text a spreadsheet formula may hold (Excel's limit).
FORMULA_TEXT = 255


def spreadsheet_safe(cells: pl.Expr) -> pl.Expr:
    """Neutralised cells, and every value a spreadsheet may read as a number, amount,
    date, time, fraction, percentage or TRUE/FALSE (sync.retyped.RETYPED_LOOK: `00100`,
    `1 001`, `(100)`, `5 kr`, `1.12.`, `Jan 5`, `1:30`, `true`) written as `="00100"`;
    but an integer a spreadsheet writes back as it was (`1001`) stays bare, and a value
    the neutralisation quotes (`'-5`, `'+358401234567`) is text to a spreadsheet already.

    The guard keeps a spreadsheet from turning `00100` into `100`, `358401234567`
    into `3.58401E+11`, `1 001` into `1001`, or `1.12.` into `01.12.26`; the readers
    unwrap it (inner quotes doubled, as a spreadsheet writes them), so guarding more
    than needed changes nothing.
    """
    guarded = pl.lit('="') + cells.str.replace_all('"', '""', literal=True) + pl.lit('"')
    # Not a value of more than FORMULA_TEXT characters, or of more than one line: Excel
    # takes no longer text in a formula (`#VALUE!`, review), and a spreadsheet re-types
    # neither (no number, date or time is that long or has a line break).
    retyped = (cells.str.contains(RETYPED_LOOK) & ~cells.str.contains(SAME_AS_A_NUMBER)
               & ~cells.str.contains(NEEDS_QUOTE)
               & (cells.str.len_chars() <= FORMULA_TEXT) & ~cells.str.contains("[\r\n]"))
    return pl.when(retyped).then(guarded).otherwise(neutralise(cells)).name.keep()
