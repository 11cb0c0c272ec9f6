"""Readers: a source file in, every cell as text out (spec section 3).

`read_source` picks the reader by the file's first bytes and its extension.
"""

from __future__ import annotations

from pathlib import Path

from sync.errors import SourceError
from sync.readers.csv import read_csv
from sync.readers.detect import read_head, sniff_format
from sync.readers.parquet import read_parquet
from sync.readers.table import SourceTable
from sync.readers.xlsx import read_xlsx

__all__ = ["SourceTable", "read_source"]

_NOT_YET = {
    "xls": "old Excel (.xls) sources are not supported; save the sheet as CSV",
}
_NOT_TEXT = {"pdf": "a PDF document", "png": "a PNG image", "jpeg": "a JPEG image"}
_EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".parquet": "parquet"}


def read_source(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int = 1,
) -> SourceTable:
    """Read a source file into a SourceTable of text cells (spec section 3).

    CSV, TSV and text files (any other extension is tried as delimited text), XLSX
    (first sheet) and Parquet, recognised by content or extension.
    `encoding`, `delimiter` and `header_row` are the `--encoding`, `--delimiter` and
    `--header-row` options. Raises SourceError with a one-line message naming the file
    when the file cannot be read at all.
    """
    path = Path(path)
    kind = sniff_format(read_head(path, 16)) or _EXTENSIONS.get(path.suffix.lower())
    if kind in _NOT_YET:
        raise SourceError(f"{path}: {_NOT_YET[kind]}")
    if kind == "xlsx":
        return read_xlsx(path, header_row=header_row)
    if kind == "parquet":
        return read_parquet(path)
    if kind in _NOT_TEXT:
        raise SourceError(f"{path}: is {_NOT_TEXT[kind]}, not a text (CSV) file")
    return read_csv(path, encoding=encoding, delimiter=delimiter, header_row=header_row)
