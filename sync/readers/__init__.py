"""Readers: a source file in, every cell as text out (spec section 3).

`read_source` picks the reader by the file's first bytes and its extension.
"""

from __future__ import annotations

from pathlib import Path

from sync.errors import SourceError
from sync.readers.csv import read_csv
from sync.readers.detect import read_head, sniff_format
from sync.readers.table import SourceTable

__all__ = ["SourceTable", "read_source"]

_NOT_YET = {
    "xlsx": "XLSX sources are not supported yet; save the sheet as CSV",
    "xls": "old Excel (.xls) sources are not supported; save the sheet as CSV",
    "parquet": "Parquet sources are not supported yet",
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

    CSV, TSV and text files are read now (any other extension is tried as delimited
    text); XLSX and Parquet are recognised by extension or content and refused for now.
    `encoding`, `delimiter` and `header_row` are the `--encoding`, `--delimiter` and
    `--header-row` options. Raises SourceError with a one-line message naming the file
    when the file cannot be read at all.
    """
    path = Path(path)
    kind = sniff_format(read_head(path, 16)) or _EXTENSIONS.get(path.suffix.lower())
    if kind in _NOT_YET:
        raise SourceError(f"{path}: {_NOT_YET[kind]}")
    if kind in _NOT_TEXT:
        raise SourceError(f"{path}: is {_NOT_TEXT[kind]}, not a text (CSV) file")
    return read_csv(path, encoding=encoding, delimiter=delimiter, header_row=header_row)
