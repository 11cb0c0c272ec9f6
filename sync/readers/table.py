"""SourceTable: what every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass
class SourceTable:
    """A source file read as text cells, with what the reader noticed on the way.

    `frame` holds column "_row" (Int64 spreadsheet row number) and then one String column
    per header cell, named "c0", "c1", ... by position; empty cells are null. Rows whose
    cell count differs from the header's are not in `frame` but in `ragged` as
    (row number, cell count); blank and all-empty rows are only counted in `skipped`.
    """

    path: Path
    format: str
    encoding: str
    delimiter: str
    header_row: int
    headers: list[str]
    frame: pl.DataFrame
    ragged: list[tuple[int, int]] = field(default_factory=list)
    skipped: int = 0
