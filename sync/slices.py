"""How to cut a frame into slices bounded by rows and by bytes."""

from __future__ import annotations

import polars as pl


def rows_per_slice(frame: pl.DataFrame, most_bytes: int, most_rows: int) -> int:
    """One number of rows per slice of `frame`, such that a slice holds at most
    `most_rows` rows and, judged by the frame's average row, about `most_bytes` bytes
    (at least one row). For what takes one number (a Parquet row group size); where
    long rows may be bunched together, `slice_bounds` bounds every slice."""
    if frame.height == 0:
        return most_rows
    per_row = max(frame.estimated_size() / frame.height, 1.0)
    return max(1, min(most_rows, int(most_bytes / per_row)))


def slice_bounds(frame: pl.DataFrame, most_bytes: int,
                 most_rows: int) -> list[tuple[int, int]]:
    """(offset, length) of consecutive slices covering `frame` (one empty slice if it
    is empty): each of at most `most_rows` rows and at most about `most_bytes` bytes
    of text (more only where one row alone holds more).

    Work on slices of a fixed number of rows is bounded for rows of a few hundred bytes
    but not for long cells: 10,000 rows of 30,000-character notes are 300 MB, and they
    may all sit at the end of a file of short rows. Only the text is counted: for rows
    of short values the number of rows is the bound that matters (counting each value's
    16-byte view too cut the large case's 1M-row plan into 15 report slices, not 4, and
    made its preview slower)."""
    if frame.height == 0 or pl.String not in frame.schema.dtypes():
        return [(offset, min(most_rows, frame.height - offset))
                for offset in range(0, max(frame.height, 1), most_rows)]
    if frame.height <= most_rows and _total_text_bytes(frame) < most_bytes:
        return [(0, frame.height)]
    sizes = text_bytes(frame)
    # A row starts a new slice where the bytes before it pass a multiple of most_bytes.
    before = sizes.cum_sum() - sizes
    runs = (before // max(most_bytes, 1)).rle().struct.field("len").to_list()
    bounds: list[tuple[int, int]] = []
    offset = 0
    for run in runs:
        for start in range(0, run, most_rows):
            bounds.append((offset + start, min(most_rows, run - start)))
        offset += run
    return bounds


def text_bytes(frame: pl.DataFrame) -> pl.Series:
    """Each row's bytes of text (its String cells' UTF-8 lengths, nulls as 0)."""
    sizes = pl.zeros(frame.height, dtype=pl.UInt64, eager=True)
    # Added up a column at a time: sum_horizontal would hold every column's lengths at
    # once (a 1M-row plan of 40 text columns: 320 MB).
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            sizes += frame.get_column(name).str.len_bytes().fill_null(0).cast(pl.UInt64)
    return sizes


def _total_text_bytes(frame: pl.DataFrame) -> int:
    """All the frame's bytes of text, in one pass that holds no per-row sizes."""
    totals = frame.select(pl.col(pl.String).str.len_bytes().cast(pl.UInt64).sum()).row(0)
    return sum(t or 0 for t in totals)
