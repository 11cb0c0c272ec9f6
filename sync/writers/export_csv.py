"""CSV export: UTF-8 (with a BOM by default), every value neutralised, written chunk by chunk."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from sync.writers.cells import neutralise, neutralised_headers, spreadsheet_safe


def write_csv(chunks: Iterable[pl.DataFrame], dest: Path, headers: Mapping[str, str], *,
              delimiter: str, bom: bool = True, guard_zeros: bool = False) -> int:
    """Write the chunks to `dest` as one CSV file; return the number of data rows.

    The header line holds `headers[column]` per column. Values and headers that a
    spreadsheet would run as formulas are neutralised (sync/readers/neutralise.py);
    with `guard_zeros` values with leading zeros are written as `="00100"`. Cells are
    quoted only where needed; lines end in CRLF. Only one chunk is held in memory.
    """
    cell = spreadsheet_safe if guard_zeros else neutralise
    headers = neutralised_headers(headers)
    count = 0
    with open(dest, "wb") as handle:
        if bom:
            handle.write(codecs.BOM_UTF8)
        for number, chunk in enumerate(chunks):
            out = chunk.with_columns(cell(pl.all())).rename(dict(headers), strict=False)
            out.write_csv(handle, include_header=number == 0, separator=delimiter,
                          line_terminator="\r\n", quote_style="necessary")
            count += chunk.height
    return count
