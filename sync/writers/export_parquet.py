"""Parquet export: every column text, written one row group per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(chunks: Iterable[pl.DataFrame], dest: Path,
                  headers: Mapping[str, str]) -> int:
    """Write the chunks to `dest` as one Parquet file; return the number of rows.

    Every column is a UTF-8 string column named `headers[column]`; values are written
    exactly (no neutralisation: Parquet is not opened as a spreadsheet). Each chunk
    becomes a row group, so only one chunk is held in memory.
    """
    writer: pq.ParquetWriter | None = None
    count = 0
    try:
        for chunk in chunks:
            table = chunk.rename(dict(headers), strict=False).to_arrow()
            schema = pa.schema([pa.field(name, pa.string()) for name in table.column_names])
            table = table.cast(schema)
            if writer is None:
                writer = pq.ParquetWriter(dest, schema, compression="zstd")
            writer.write_table(table)
            count += chunk.height
    finally:
        if writer is not None:
            writer.close()
    return count
