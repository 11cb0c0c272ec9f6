"""Read a Parquet or Arrow IPC (Feather) source: every column cast to text.

Typed columns become the text a person would type: integers without `.0` (a float
column holding 100.0 gives `100`), dates as ISO text, booleans `true`/`false`. A float
of 2**53 or more (see EXACT_FLOATS) keeps the scientific form a spreadsheet shows
(`1.2345678901234567E+19`): from there a float holds no exact integer. Below it, a float
is exact (pandas writes an integer column with gaps as floats), unlike a spreadsheet's
number cell, which keeps 15 digits (see IMPRECISE_NUMBERS). Integer columns are exact. The
column names are the header; row numbers count as in a spreadsheet (the first data row
is row 2).
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path
from typing import Any

import polars as pl

from sync.arrow_ranges import first_out_of_range
from sync.errors import SourceError, first_line
from sync.readers.table import (
    EXACT_FLOATS,
    SourceTable,
    blank_to_null,
    drop_blank_rows,
    imprecise_number_text,
)

_FORMAT_NAMES = {"parquet": "Parquet", "arrow": "Arrow IPC (Feather)",
                 "arrow-stream": "Arrow IPC stream"}


def read_columnar(path: Path, kind: str, *, header_row: int = 1) -> SourceTable:
    """Read `path` as `kind` ("parquet", "arrow" or "arrow-stream"); every cell text.

    Raises SourceError with one line naming the file (and the column, when one column
    cannot be turned into text) when the file cannot be read.
    """
    label = _FORMAT_NAMES[kind]
    if header_row != 1:
        raise SourceError(f"{path}: --header-row does not apply to {label} sources "
                          "(their column names are the header); leave it out")
    try:
        lazy, headers = _scan(path, kind)
        schema = lazy.collect_schema()
        names = list(schema)  # c0, c1, ... by position (see _scan)
        exprs = []
        for (name, dtype), header in zip(schema.items(), headers, strict=True):
            try:
                exprs.append(_as_text(pl.col(name), dtype).alias(name))
            except pl.exceptions.PolarsError as exc:
                raise ValueError(f"column {header!r}: {first_line(exc, 120)}") from None
        frame = _collect(lazy.select(exprs), headers)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        reason = first_line(exc, 160)
        raise SourceError(f"{path}: cannot be read as {_article(label)} {label} file "
                          f"({reason})") from None
    frame = frame.with_columns(blank_to_null(name) for name in names).with_row_index(
        "_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    headers = [header.strip() for header in headers]
    frame, skipped = drop_blank_rows(frame, names)
    return SourceTable(path=path, format="parquet" if kind == "parquet" else "arrow",
                       encoding=None, delimiter=None, header_row=1, headers=headers,
                       frame=frame, skipped=skipped)


def _article(label: str) -> str:
    return "an" if label[0] in "AEIOU" else "a"


def _scan(path: Path, kind: str) -> tuple[pl.LazyFrame, list[str]]:
    """The file as a polars frame, decoded by pyarrow.

    pyarrow, not polars, decodes the file: polars 2's readers abort the whole process
    on some damaged files (a panic in a worker thread, not an exception), where pyarrow
    raises. The data is checked in full (pyarrow does not check text is UTF-8 when
    reading), and the schema's metadata, which polars does not need, is dropped.
    """
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            # ParquetFile, not read_table: the dataset reader behind read_table refuses
            # two columns of one name ("Multiple matches for FieldRef").
            with pq.ParquetFile(path) as parquet:
                table = parquet.read()
        elif kind == "arrow":
            table = feather.read_table(path)
        else:
            with pa.ipc.open_stream(path) as stream:
                table = stream.read_all()
        table.validate(full=True)
    except pa.ArrowException as exc:
        raise ValueError(str(exc)) from None
    headers = [str(name) for name in table.column_names]
    # Named by position: two columns of one name (which the header mapping then refuses
    # as for CSV, naming both) are no error pyarrow or polars could explain.
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
    _check_dates(table, headers)
    frame = pl.from_arrow(table.replace_schema_metadata(None))
    if not isinstance(frame, pl.DataFrame):
        raise ValueError("not a table")
    return frame.lazy(), headers


def _collect(lazy: pl.LazyFrame, headers: list[str]) -> pl.DataFrame:
    """`lazy` collected; a column polars can't turn into text is named in the error."""
    try:
        return lazy.collect()
    except pl.exceptions.PolarsError as exc:
        if len(headers) > 1:
            for i, header in enumerate(headers):  # which one: only on this error path
                try:
                    lazy.select(f"c{i}").collect()
                except pl.exceptions.PolarsError:
                    raise ValueError(f"column {header!r}: {first_line(exc, 120)}") from None
        raise


def _check_dates(table: Any, headers: list[str]) -> None:
    """ValueError naming the column (its header) and row of the first date or time
    polars cannot hold (outside the years 1-9999: polars panics on them)."""
    found = first_out_of_range(table)
    if found is not None:
        header = headers[table.column_names.index(found[0])]
        raise ValueError(f"column {header!r}, row {found[1] + 2}: a date or time outside "
                         "the years 1-9999")


# A float32 holds 24 bits: from 2**24 (16,777,216) on, its integers are no longer exact
# (358401234567 is held as 358401245184), so its digits are made up (QA).
EXACT_FLOAT32 = 2.0 ** 24


def _imprecise(values: pl.Series, limit: float = EXACT_FLOATS) -> pl.Series:
    """Floats of at least `limit` as `imprecise_number_text` (float32: `float32_text`;
    others null); Python runs only for those, which are few."""
    big = (values.abs() >= limit) & values.is_finite()
    out = pl.Series(values.name, [None] * values.len(), dtype=pl.String)
    if big.any():
        text = float32_text if values.dtype == pl.Float32 else imprecise_number_text
        out = out.scatter(big.arg_true(), [text(v) for v in values.filter(big)])
    return out


def float32_text(value: float) -> str:
    """A float32 `value` in scientific form with the digits it holds, the fewest that
    read back as it (`3.5840125E+11` for 358401234567 saved as float32), never the ones
    a double would print (358401245184): a key field then rejects it as digits lost."""
    for digits in range(1, 10):
        text = f"{value:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == value:
            break
    mantissa, exponent = text.split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E{'-' if int(exponent) < 0 else '+'}{abs(int(exponent))}"


def _as_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """`column` of type `dtype` as the text a person would have typed."""
    if dtype == pl.String:
        return column
    if dtype.is_float():
        limit = EXACT_FLOAT32 if dtype == pl.Float32 else EXACT_FLOATS
        exact = column.abs() < limit
        integral = column.is_finite() & (column == column.floor()) & exact
        imprecise = column.is_finite() & ~exact
        # NaN is how pandas and others write a missing number: an empty cell. Infinity
        # is no number anyone typed: a spreadsheet shows #NUM! there, which rejects the row.
        return (pl.when(column.is_nan()).then(pl.lit(None, pl.String))
                .when(column.is_infinite()).then(pl.lit("#NUM!"))
                .when(integral).then(column.cast(pl.Int64, strict=False).cast(pl.String))
                .when(imprecise).then(column.map_batches(
                    functools.partial(_imprecise, limit=limit), return_dtype=pl.String))
                .otherwise(column.cast(pl.String)))
    if isinstance(dtype, pl.Decimal):
        # A decimal(12, 2) holds 1001 as 1001.00: written as typed, without the zeros
        # its scale adds (as a float column's 100.0 is 100).
        text = column.cast(pl.String)
        return pl.when(text.str.contains(".", literal=True)).then(
            text.str.replace(r"\.?0+$", "")).otherwise(text)
    if isinstance(dtype, pl.Datetime):
        midnight = (column.dt.hour() == 0) & (column.dt.minute() == 0) \
            & (column.dt.second() == 0) & (column.dt.nanosecond() == 0)
        whole = column.dt.nanosecond() == 0
        return (pl.when(midnight).then(column.dt.strftime("%Y-%m-%d"))
                .when(whole).then(column.dt.strftime("%Y-%m-%d %H:%M:%S"))
                .otherwise(column.dt.strftime("%Y-%m-%d %H:%M:%S%.f")))
    if dtype.is_nested():
        # JSON text of the value: wrap it in a struct, encode, peel the wrapper off.
        encoded = pl.struct(column.alias("v")).struct.json_encode()
        return pl.when(column.is_not_null()).then(encoded.str.slice(5).str.head(-1))
    return column.cast(pl.String)
