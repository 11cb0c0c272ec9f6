"""How many rows of a frame to handle at a time, by count and by size."""

from __future__ import annotations

import polars as pl


def rows_per_slice(frame: pl.DataFrame, most_bytes: int, most_rows: int) -> int:
    """Rows per slice of `frame` such that a slice holds at most `most_rows` rows and,
    judged by the frame's average row, about `most_bytes` bytes (at least one row).

    Work on slices of a fixed number of rows is bounded for rows of a few hundred bytes
    but not for long cells: 10,000 rows of 30,000-character notes are 300 MB."""
    if frame.height == 0:
        return most_rows
    per_row = max(frame.estimated_size() / frame.height, 1.0)
    return max(1, min(most_rows, int(most_bytes / per_row)))
