"""Formula-injection neutralisation: the exact rule, and the reader's undoing of it.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula.
Exports (CSV and XLSX) therefore write such a value with one `'` in front (OWASP's
advice). To keep the rule reversible, a value that already starts with one or more
`'` followed by a trigger character gets one more `'` too:

    write:  v matches ^'*[=+\\-@\\t\\r]   ->  "'" + v
    read:   v matches ^'+[=+\\-@\\t\\r]   ->  v without its first "'"

Every string survives write-then-read exactly (`+358401234567`, `-Oy-`, `=Summa`, `'=x`),
and a written cell never starts with a trigger character. A value a user typed as
`'=x` into a CSV by hand reads back as `=x`: that is the only text this rule changes
that regsync did not write itself.
"""

from __future__ import annotations

import polars as pl

TRIGGERS = "=+-@\t\r"
"""Characters that make a spreadsheet evaluate a cell."""

_CLASS = "[=+\\-@\\t\\r]"
NEEDS_QUOTE = f"^'*{_CLASS}"
"""Regex of the values an export writes with one more leading `'`."""
QUOTED = f"^'+{_CLASS}"
"""Regex of the cells a reader gives back without their first `'`."""


def unneutralise(cells: pl.Expr) -> pl.Expr:
    """Undo the export's neutralisation on text cells (one or many columns at once).

    A cell that starts with `'` followed (after any further `'`) by one of `= + - @`,
    tab or CR loses its first `'`; every other cell, and null, is kept as it is.
    """
    # starts_with first: the regex then only runs on the rare cells starting with '
    return (pl.when(cells.str.starts_with("'") & cells.str.contains(QUOTED))
            .then(cells.str.slice(1)).otherwise(cells).name.keep())
