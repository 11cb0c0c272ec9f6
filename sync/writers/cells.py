"""Cell values as spreadsheet exports write them: neutralised, optionally text-guarded.

The neutralisation rule (and its exact inverse, applied by the readers) is documented
in sync/readers/neutralise.py; this module is its writing half.
"""

from __future__ import annotations

import polars as pl

from sync.readers.neutralise import NEEDS_QUOTE
from sync.retyped import RETYPED_LOOK

# A value a spreadsheet would read as a number and damage: strip of its leading zeros,
# or (12 digits or more: a phone, a long customer number, an e-invoice address) show in
# scientific notation and save so (`3.58401E+11`), or past 15 digits round.
NUMBER_DAMAGE = r"^0[0-9]|^[0-9]{12,}$"


def neutralise(cells: pl.Expr) -> pl.Expr:
    """Cells that a spreadsheet would run as a formula, with one `'` in front.

    Promise: no result starts with `=`, `+`, `-`, `@`, tab or CR, and the readers'
    `unneutralise` gives back the original value exactly. Null stays null.
    """
    risky = cells.str.contains(NEEDS_QUOTE)
    return pl.when(risky).then(pl.lit("'") + cells).otherwise(cells).name.keep()


def spreadsheet_safe(cells: pl.Expr) -> pl.Expr:
    """Neutralised cells, and values with leading zeros, of 12 digits or more, or that a
    spreadsheet reads as a date, percentage, number, time or TRUE/FALSE (`1.12.`, `50%`,
    `1e5`, `1:30`, `true`: see sync.retyped) written as `="00100"`.

    The guard keeps a spreadsheet from turning `00100` into `100`, `358401234567`
    into `3.58401E+11`, or `1.12.` into `01.12.26`; the CSV reader unwraps it (inner
    quotes doubled, as a spreadsheet writes them).
    """
    guarded = pl.lit('="') + cells.str.replace_all('"', '""', literal=True) + pl.lit('"')
    retyped = cells.str.contains(NUMBER_DAMAGE) | cells.str.contains(RETYPED_LOOK)
    return pl.when(retyped).then(guarded).otherwise(neutralise(cells)).name.keep()
