"""The rows a commit applies (New and Modified), read from a plan a part at a time.

A commit of 1M New rows held all of them, and everything made of them, at once: about
2 GiB, so a first load of 10M customers would not fit a 24 GiB machine. A commit now
reads the few key columns of every writing row (the stale check needs them all), then
the rows themselves one part of PART_ROWS plan rows at a time, from a saved plan or from
one in memory (`regsync import`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import polars as pl

from sync.errors import PlanError, first_line
from sync.plan import APPLIED, UNREADABLE, Plan, PlanHeader, commit_columns, verified_header

PART_ROWS = 250_000  # plan rows per part (a saved plan's row group holds as many)
_WRITING = pl.col("status").is_in(APPLIED)


class CommitRows:
    """A plan's header and the rows a commit applies, read a part at a time (`part_rows`
    plan rows each, the row groups a plan is saved in); close() when done, or `with`."""

    def __init__(self, header: PlanHeader, rows: pl.LazyFrame, height: int, label: str,
                 part_rows: int | None = None, handle: BinaryIO | None = None) -> None:
        self.header = header
        self.label = label
        self._rows = rows
        self._height = height
        self._part_rows = part_rows = part_rows or PART_ROWS
        self._handle = handle
        self.part_count = max(1, -(-height // part_rows))

    def columns(self, names: list[str]) -> pl.DataFrame:
        """These plan columns of every writing row, in plan order."""
        return self._collect(self._rows.filter(_WRITING).select(names))

    def parts(self) -> Iterator[pl.DataFrame]:
        """The writing rows with `commit_columns`, in plan order, one part at a time
        (`part_count` of them at most; a part with no writing row is left out)."""
        columns = commit_columns(self.header.fields)
        for start in range(0, self._height, self._part_rows):
            part = self._collect(self._rows.slice(start, self._part_rows).filter(_WRITING)
                                 .select(columns))
            if part.height:
                yield part

    def _collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        try:
            return query.collect()
        except UNREADABLE as exc:
            raise PlanError(f"{self.label}: not a regsync plan ({first_line(exc)})") from None

    def close(self) -> None:
        """Release the plan file, if one is open."""
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> CommitRows:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def in_memory(plan: Plan, part_rows: int | None = None) -> CommitRows:
    """The writing rows of a plan in memory (`regsync import`), in slices."""
    return CommitRows(plan.header, plan.rows.lazy(), plan.rows.height, "plan", part_rows)


def open_for_commit(path: Path) -> CommitRows:
    """The plan at `path`, checked as `Plan.load` checks it, ready to be read in parts.

    PlanError as `Plan.load` raises it, or if the file is replaced while it is checked.
    A plan saved with the earlier checksum is read whole, as `Plan.load` reads it.
    """
    Plan.check_path(path)
    handle = path.open("rb")
    try:
        opened = os.fstat(handle.fileno())
        header = verified_header(path)
        if header is None:
            handle.close()
            return in_memory(Plan.load(path))
        now = os.stat(path)
        if (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) != (
                opened.st_ino, opened.st_dev, opened.st_size, opened.st_mtime_ns):
            raise PlanError(f"{path}: the plan file was replaced while it was read; "
                            f"run commit again")
        # Read through the open file, not the name: a plan that another preview writes
        # under the same name (a new file, renamed over it) is never mixed in.
        rows = pl.scan_parquet(handle)
        height = CommitRows(header, rows, 0, str(path))._collect(rows.select(pl.len())).item()
        return CommitRows(header, rows, height, str(path), handle=handle)
    except BaseException:
        handle.close()
        raise
