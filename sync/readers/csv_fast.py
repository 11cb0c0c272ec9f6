"""The fast path of the CSV reader: Arrow's C++ CSV parser, batch by batch.

It reads a file only when the file is regular: the header is row 1, and every record
has exactly as many cells as the header line (a blank line reads as a record of empty
cells). Then record N is spreadsheet row N, as the exact reader numbers it. Anything
else (a ragged row, a stray NUL byte, a quote left open, bytes that are not UTF-8)
makes `read_fast` return None, and the caller reads the file with the standard
library's csv module, which reports each of those the way the spec says. Both split
cells the same way (the tests compare them on generated files).

Memory: Arrow parses blocks of BLOCK_BYTES; each batch becomes polars columns at once,
so the file is never held whole, only the frame being built.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from sync.readers.neutralise import unneutralise
from sync.readers.table import clean_cell

BLOCK_BYTES = 2 << 20
_READ_BYTES = 4 << 20
_READ_CHARS = 4 << 20
_BOM = b"\xef\xbb\xbf"
_SEP_LINE = re.compile(rb"sep=[;,\t|][ \t]*(?:\r\n|\r|\n)?", re.IGNORECASE)


class _Irregular(Exception):
    """The file is not regular (see module doc): read it the exact way."""


@contextlib.contextmanager
def _utf8_copy(path: Path, codec: str, sep_line: bool) -> Iterator[pa.NativeFile]:
    """The file's text as a native Arrow file of UTF-8, from the first record on.

    The file is decoded strictly and encoded again, chunk by chunk, into a temporary
    file (no BOM, no `sep=` line), which is unlinked as soon as Arrow has opened it. A
    NUL byte, or bytes the encoding cannot decode, raise (the exact reader then says
    where).
    """
    descriptor, name = tempfile.mkstemp(prefix="regsync-utf8-", suffix=".csv")
    try:
        with os.fdopen(descriptor, "wb") as out, \
                path.open("r", encoding=codec, errors="strict", newline="") as text:
            first = True
            while chunk := text.read(_READ_CHARS):
                data = chunk.encode("utf-8")
                if first:
                    first = False
                    data = data.removeprefix(_BOM)
                    found = _SEP_LINE.match(data) if sep_line else None
                    data = data[found.end():] if found else data
                if b"\x00" in data:
                    raise _Irregular("NUL byte")
                out.write(data)
        handle = pa.OSFile(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)  # POSIX: the open file stays readable; nothing is left behind
    with handle:
        yield handle


def read_fast(path: Path, codec: str, sep: str, sep_line: bool,
              header: list[str], width: int,
              nul_checked: bool = False) -> tuple[pl.DataFrame, int] | None:
    """(frame, skipped count) of a regular file whose header is row 1, else None.

    `header` is the header record as the exact reader split it (trailing empty cells
    included); `width` is how many of its cells are kept. `nul_checked`: the whole file
    is known to hold no NUL byte (encoding detection scans for them).
    """
    # Arrow reads only native files: it reads ahead on a thread of its own, and a
    # Python file object it called back from that thread, still pending when Python
    # exited (a read given up midway), aborted the process. A UTF-8 file is read as it
    # is (Arrow skips the BOM; the `sep=` line is skipped as a row); any other encoding
    # is first copied as UTF-8 into a temporary file.
    native = codecs.lookup(codec).name in ("utf-8", "utf-8-sig")
    if not _ends_a_line(path):
        return None  # perhaps inside a quoted cell: the exact reader looks (see _collect)
    try:
        with (pa.OSFile(str(path)) if native
              else _utf8_copy(path, codec, sep_line)) as stream:
            if native and not nul_checked and _has_nul(path):
                return None  # the exact reader says where
            return _read(stream, sep, header, width, skip=int(native and sep_line))
    except (_Irregular, pa.ArrowException, UnicodeError, OSError):
        return None


def _ends_a_line(path: Path) -> bool:
    """Whether the file's last character is a line end (LF or CR), in UTF-16 and UTF-32
    too (their zero bytes aside; a rare false answer only costs the exact reader)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(path.stat().st_size - 4, 0))
            return fh.read().rstrip(b"\x00").endswith((b"\n", b"\r"))
    except OSError:  # unreadable: the exact reader says what
        return False


def _has_nul(path: Path) -> bool:
    """Whether the file holds a NUL byte (no text a spreadsheet writes)."""
    with path.open("rb") as handle:
        while block := handle.read(_READ_BYTES):
            if b"\x00" in block:
                return True
    return False


def _read(stream: pa.NativeFile, sep: str, header: list[str],
          width: int, skip: int) -> tuple[pl.DataFrame, int]:
    raw = [f"f{i}" for i in range(len(header))]
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=raw, block_size=BLOCK_BYTES,
                                       use_threads=False, skip_rows=skip),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                         escape_char=False, newlines_in_values=True,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in raw}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, null_values=[], true_values=[],
            false_values=[]),
    )
    # Closed whatever happens: a read given up midway (an irregular file) stops its
    # read-ahead now rather than whenever the reader is collected.
    with contextlib.closing(reader):
        found = _batches(reader, header, width, raw)
    frame, skipped, last_cell = found
    if last_cell is not None and last_cell.endswith("\x1a"):
        # A DOS end-of-file mark (Ctrl-Z) at the end of the last line: the exact reader
        # takes it off the file, not into the cell.
        raise _Irregular("a DOS end-of-file mark ending the last line")
    if last_cell is not None and ("\n" in last_cell or "\r" in last_cell):
        # Perhaps a quote opened in the last cell and never closed, which took every line
        # after it into that cell: the exact reader looks at that record strictly.
        raise _Irregular("a line break in the last cell")
    return frame, skipped


def _batches(reader: pacsv.CSVStreamingReader, header: list[str], width: int,
             raw: list[str]) -> tuple[pl.DataFrame, int, str | None]:
    """(frame, skipped count, the last record's last cell) of the batches."""
    names = [f"c{i}" for i in range(width)]
    # Built once, not per batch: in a file of 300 columns, building them again for each
    # 2 MiB batch cost more than the cleaning itself (QA: 5 s of 21 s, 100k rows).
    cleaning = [clean_cell(n) for n in names]
    renaming = ["_row", *[pl.col(r).alias(c) for r, c in zip(raw, names, strict=False)]]
    quote_led = pl.col(names).str.starts_with("'").any()
    frames: list[pl.DataFrame] = []
    skipped = 0
    number = 0  # records read so far; record 1 is the header
    last_cell: str | None = None
    for batch in reader:
        chunk = pl.from_arrow(batch)
        assert isinstance(chunk, pl.DataFrame)
        del batch
        if chunk.height:
            last_cell = chunk[raw[-1]][-1]
        # polars' view of an Arrow string column shares Arrow's buffer of every cell's
        # bytes. Any string operation builds new strings (this one changes nothing: the
        # file has no NUL byte), so polars keeps its own compact buffers (short cells
        # live inside their views) and the batch's buffers are freed.
        chunk = chunk.with_columns(pl.col(raw).str.strip_prefix("\x00"))
        chunk = chunk.with_row_index("_row", offset=number + 1).with_columns(
            pl.col("_row").cast(pl.Int64))
        number += chunk.height
        if chunk["_row"][0] == 1:
            if [chunk[name][0] for name in raw] != header:
                raise _Irregular("header")
            chunk = chunk.slice(1)
        extra = raw[width:]
        if extra and chunk.select(pl.any_horizontal(
                pl.col(c).str.strip_chars() != "" for c in extra)).to_series().any():
            raise _Irregular("cells beyond the header")
        chunk = chunk.select(renaming)
        if len(names) == 1 and (chunk[names[0]] == "\x1a").any():
            # A DOS end-of-file mark on a line of its own (after the last line, or where
            # two DOS files were joined): a ragged row in a wider file, which this reader
            # leaves to the exact one; a one-column file would make it a row.
            raise _Irregular("a DOS end-of-file mark")
        chunk, count = _drop_blank(chunk, names)
        skipped += count
        chunk = chunk.with_columns(cleaning)
        quoted = [n for n, has in zip(names, chunk.select(quote_led).row(0), strict=True)
                  if has] if names and chunk.height else []
        frames.append(chunk.with_columns(unneutralise(pl.col(quoted))) if quoted else chunk)
    if not frames:
        return (pl.DataFrame(schema={"_row": pl.Int64, **{n: pl.String for n in names}}), 0,
                last_cell)
    frame = pl.concat(frames, how="vertical", rechunk=False) if len(frames) > 1 else frames[0]
    return frame, skipped, last_cell


def _drop_blank(chunk: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, int]:
    """`chunk` without its rows of empty or whitespace-only cells; and how many."""
    if not names:
        return chunk.clear(), chunk.height
    # A blank row has a blank first cell: look at the other cells of those rows only.
    first = chunk[names[0]].str.strip_chars() == ""
    if not first.any():
        return chunk, 0
    blank = first & chunk.select(pl.all_horizontal(
        pl.col(n).str.strip_chars() == "" for n in names)).to_series()
    count = int(blank.sum())
    return (chunk.filter(~blank), count) if count else (chunk, 0)
