"""Frames kept in memory-mapped temporary files: a large preview's rows live in the page
cache, which the kernel can take back, instead of on the heap.

A frame put here is written as uncompressed Arrow IPC (text as string views, polars' own
layout, in one record batch) and mapped back; polars then points into the mapping
without copying, so the frame costs address space, not memory. On POSIX systems the
file is unlinked at once: its space is freed when the last frame using it is dropped,
even if the process dies.

Spilling only saves memory, so it never fails a preview: where the temporary folder is
in memory itself (tmpfs) or can't be written (a full disk), frames stay on the heap,
as they did before spilling existed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import weakref
from pathlib import Path

import polars as pl

_IN_MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
_PREFIX = "regsync-spill-"
# A folder untouched this long belongs to no running preview: each spilled frame
# creates and removes a file in it, which moves its time on.
ABANDONED_AFTER_S = 24 * 3600
_FRAME_FILE = re.compile(r"[0-9]+\.arrow")


class Spill:
    """A temporary folder (under $TMPDIR) for frames that should not be on the heap."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._count = 0
        self.on_heap = False  # True once spilling was given up (see the module's doc)

    def put(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The same frame (equal values, types and order): memory-mapped from disk, or
        `frame` itself once spilling is given up."""
        import pyarrow as pa  # a preview that spills writes a plan with pyarrow anyway
        import pyarrow.ipc

        path = None
        try:
            folder = self._open()
            if folder is None:
                return frame
            self._count += 1
            path = folder / f"{self._count}.arrow"
            # One record batch: every column of the mapped frame is then one chunk, as in
            # `frame` rechunked. Columns whose chunks differ make polars align them by
            # copying, the mapped ones onto the heap, at the first operation mixing them.
            table = frame.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
            with pa.OSFile(str(path), "wb") as sink, \
                    pyarrow.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=max(table.num_rows, 1))
            del table
            mapped = pl.from_arrow(
                pyarrow.ipc.open_file(pa.memory_map(str(path))).read_all(), rechunk=False)
        except OSError:
            if path is not None:
                path.unlink(missing_ok=True)
            self.on_heap = True
            return frame
        assert isinstance(mapped, pl.DataFrame)
        try:
            path.unlink()
        except OSError:  # Windows: a mapped file can't be removed; close() does it
            pass
        return mapped

    def _open(self) -> Path | None:
        """The folder, made on first use; None once spilling is given up."""
        if self.on_heap:
            return None
        if self._folder is None:
            remove_abandoned(Path(tempfile.gettempdir()))
            if in_memory_filesystem(Path(tempfile.gettempdir())):
                self.on_heap = True
                return None
            self._folder = Path(tempfile.mkdtemp(prefix=_PREFIX))
            # Also removed when the Spill is dropped without close() (an exception).
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def close(self) -> None:
        """Remove the folder (frames already mapped stay valid where unlinking is allowed)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def remove_abandoned(temp: Path) -> None:
    """Remove the spill folders of previews killed before they could (SIGKILL, power
    loss): those not modified for ABANDONED_AFTER_S. Best effort: a folder that can't be
    read or removed is left alone."""
    now = time.time()
    try:
        candidates = list(temp.glob(f"{_PREFIX}*"))
    except OSError:
        return
    for folder in candidates:
        try:
            if (now - folder.lstat().st_mtime <= ABANDONED_AFTER_S or folder.is_symlink()
                    or not folder.is_dir()):
                continue
            files = list(folder.iterdir())
            # Only what a Spill leaves: its numbered frame files, nothing of anyone else.
            if all(_FRAME_FILE.fullmatch(f.name) and f.is_file() for f in files):
                for file in files:
                    file.unlink()
                folder.rmdir()
        except OSError:
            continue


def in_memory_filesystem(path: Path) -> bool:
    """Whether `path` is on a filesystem held in memory (tmpfs), per /proc/mounts: files
    there cost memory like the heap. False where that can't be told (not Linux)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces in mount points as \040.
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind in _IN_MEMORY_FILESYSTEMS
