"""The preview report: one CSV line per source row (spec section 9 columns, then `changes`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import polars as pl

from sync.plan import Plan
from sync.slices import slice_bounds

_SLICE_ROWS = 250_000  # rows whose `changes` are spelled out at a time, at most,
# and about this many bytes of the plan's rows: 10,000 edited notes of 30,000 characters
# spelled out at once took 2 GB.
_SLICE_BYTES = 128 << 20


def write_report(plan: Plan, path: Path) -> None:
    """Write the report as UTF-8 CSV, in row order: the columns of spec section 9, then
    `changes` (a Modified row's `field: 'old' -> 'new'`, joined by ` | `).

    A cell a spreadsheet would run as a formula (a customer number `=1+2` from a source
    file) starts with one more `'`, as in exports: the report is opened in one.

    Slice by slice, so that the spelled-out changes of a large plan are never all in
    memory at once.
    """
    with path.open("wb") as handle:
        _write(plan, handle)


def report_bytes(plan: Plan) -> bytes:
    """The report `write_report` writes, as bytes (for a job's report file)."""
    buffer = io.BytesIO()
    _write(plan, buffer)
    return buffer.getvalue()


def _write(plan: Plan, handle: BinaryIO) -> None:
    # Here, not at the top: `commit` imports this module and none of the readers'.
    from sync.writers.cells import neutralise

    for start, length in slice_bounds(plan.rows, _SLICE_BYTES, _SLICE_ROWS):
        plan.report(start, length).with_columns(
            neutralise(pl.col(pl.String))).write_csv(handle, include_header=start == 0,
                                                  null_value="")

