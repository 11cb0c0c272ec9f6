"""Read a Parquet source as text cells (every column cast to text).

A minimal reader so that regsync's own Parquet exports import back; issue 3 brings the
full one. Parquet exports are not neutralised, so nothing is undone here.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sync.errors import SourceError
from sync.readers.table import SourceTable


def read_parquet(path: Path) -> SourceTable:
    """Read `path`; column names are the headers, row 2 is the first row (as in a sheet).

    Empty strings are null. Raises SourceError naming the file when it cannot be read.
    """
    try:
        data = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    headers = list(data.columns)
    names = [f"c{i}" for i in range(len(headers))]
    cells = [pl.col(h).cast(pl.String) for h in headers]
    frame = data.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("_row"),
        *[pl.when(c != "").then(c).alias(n) for c, n in zip(cells, names, strict=True)])
    blank = pl.all_horizontal(pl.col(names).is_null()) if names else pl.lit(False)
    skipped = frame.filter(blank).height
    return SourceTable(path=path, format="parquet", encoding="utf-8", delimiter="",
                       header_row=1, headers=headers, frame=frame.filter(~blank),
                       skipped=skipped)
