"""Frames kept in memory-mapped temporary files: a large preview's rows live in the page
cache, which the kernel can take back, instead of on the heap.

A frame put here is written as uncompressed Arrow IPC (text as string views, polars' own
layout, in one record batch) and mapped back; polars then points into the mapping
without copying, so the frame costs address space, not memory. On POSIX systems the
file is unlinked at once: its space is freed when the last frame using it is dropped,
even if the process dies.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import polars as pl

from sync.errors import UsageError


class Spill:
    """A temporary folder (under $TMPDIR) for frames that should not be on the heap."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._count = 0

    def put(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The same frame (equal values, types and order), memory-mapped from disk.

        UsageError (exit 2) when the temporary folder can't be written, e.g. a full disk:
        the user can point $TMPDIR elsewhere.
        """
        import pyarrow as pa  # a preview that spills writes a plan with pyarrow anyway
        import pyarrow.ipc

        folder = self._open()
        self._count += 1
        path = folder / f"{self._count}.arrow"
        # One record batch: every column of the mapped frame is then one chunk, as in
        # `frame` rechunked. Columns whose chunks differ make polars align them by
        # copying, the mapped ones onto the heap, at the first operation that mixes them.
        table = frame.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
        try:
            with pa.OSFile(str(path), "wb") as sink, \
                    pyarrow.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=max(table.num_rows, 1))
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise UsageError(f"{folder}: cannot write the preview's temporary data: "
                             f"{exc.strerror or exc}; set TMPDIR to a folder with more "
                             "room") from None
        del table
        table = pyarrow.ipc.open_file(pa.memory_map(str(path))).read_all()
        mapped = pl.from_arrow(table, rechunk=False)
        assert isinstance(mapped, pl.DataFrame)
        try:
            path.unlink()
        except OSError:  # Windows: a mapped file can't be removed; close() does it
            pass
        return mapped

    def _open(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="regsync-"))
            # Also removed when the Spill is dropped without close() (an exception).
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def close(self) -> None:
        """Remove the folder (frames already mapped stay valid where unlinking is allowed)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
